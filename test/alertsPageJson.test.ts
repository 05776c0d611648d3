// The page reader that keeps alerts as their received bytes: it must agree with JSON.parse on every page,
// keep each alert's text exactly, and refuse every incomplete body.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PageJsonError, readAlertsPage } from '../src/alertsApi/alertsPageJson.js';
import { ReceivedAlert } from '../src/receivedAlert.js';
import { seededRandom } from '../src/simulator/alertFactory.js';

function asParsed(bytes: Buffer) {
  const page = readAlertsPage(bytes);
  return { ...page.members, ...(page.alerts ? { value: page.alerts.map((alert) => JSON.parse(alert.text())) } : {}) };
}

const TRICKY = `{ "@odata.context" : "https://api.securitycenter.microsoft.com/api/$metadata#Alerts",
  "value": [
    {"id": "da1", "lastUpdateTime": "2024-05-01T10:00:00Z", "title": "quote \\" and brace } and bracket ] inside", "path": "C:\\\\Windows\\\\", "nested": {"value": [1, {"id": "not me"}]}},
    {"id":"da2","lastUpdateTime":"2024-05-01T10:00:01.5Z","title":"Ünïcödé — 日本語 😀","n":-1.5e3,"t":true,"f":false,"z":null,"e":[],"o":{}},
    "a string item", 42, null, [1, 2]
  ] ,
  "@odata.nextLink": "https://api.securitycenter.microsoft.com/api/alerts?$skip=2" }
`;

describe('alerts page reader', () => {
  it('agrees with JSON.parse and keeps each alert as the exact text received', () => {
    const bytes = Buffer.from(TRICKY);
    assert.deepEqual(asParsed(bytes), JSON.parse(TRICKY));
    const { alerts, members } = readAlertsPage(bytes);
    assert.equal(alerts!.length, 6);
    assert.ok(alerts!.every((alert) => alert instanceof ReceivedAlert));
    assert.equal(alerts![0]!.text(), TRICKY.slice(TRICKY.indexOf('{"id": "da1"'), TRICKY.indexOf('\n    {"id":"da2"') - 1));
    assert.deepEqual([alerts![0]!.id, alerts![0]!.lastUpdateTime, alerts![1]!.id], ['da1', '2024-05-01T10:00:00Z', 'da2']);
    assert.deepEqual([alerts![2]!.id, alerts![3]!.lastUpdateTime], [undefined, undefined], 'items that are not objects have no id');
    assert.equal(members['@odata.nextLink'], 'https://api.securitycenter.microsoft.com/api/alerts?$skip=2');
  });

  it('refuses every truncated body, trailing text, and a body that is not an object', () => {
    const bytes = Buffer.from(TRICKY.trim());
    for (let cut = 0; cut < bytes.length; cut += 1) {
      assert.throws(() => readAlertsPage(bytes.subarray(0, cut)), PageJsonError, `cut at ${cut}`);
    }
    for (const body of [`${TRICKY}x`, '[]', '', '<html><body>Bad gateway</body></html>', '{"value": [{"id": "a",}]}', '{"value" [1]}', '{"value": [1 2]}']) {
      assert.throws(() => readAlertsPage(Buffer.from(body)), PageJsonError, body);
    }
  });

  it('reads a page without "value" or with a "value" that is not a list as having no alert list', () => {
    assert.equal(readAlertsPage(Buffer.from('{}')).alerts, undefined);
    assert.equal(readAlertsPage(Buffer.from('{"value": {"id": "a"}}')).alerts, undefined);
    assert.deepEqual(readAlertsPage(Buffer.from(' {"value": []} ')).alerts, []);
  });

  it('agrees with JSON.parse on random documents', () => {
    const random = seededRandom(11);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const scalar = () => pick<unknown>([null, true, false, 0, -12.5e-3, 1e21, '', 'plain', 'q"uo\\te', 'back\\\\slash\\', 'ünï 😀', '}]{[,:', '\u0000\u001f']);
    const value = (depth: number): unknown => {
      if (depth > 3 || random() < 0.4) return scalar();
      if (random() < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [pick(['id', 'value', 'k"ey', `f${i}`]), value(depth + 1)]));
    };
    for (let i = 0; i < 300; i += 1) {
      const page = { '@odata.context': scalar(), value: Array.from({ length: Math.floor(random() * 5) }, () => value(0)), extra: value(0) };
      const spaced = JSON.stringify(page, null, pick([0, 1, 2, '\t']));
      assert.deepEqual(asParsed(Buffer.from(spaced)), JSON.parse(spaced), spaced);
    }
  });
});
