// Bad input from the network, each with the behaviour it gets: a clear message, a meaningful exit code, no
// crash, and nothing lost; from either source. (Configuration, files and the rest of the catalogue:
// docs/bad-input.md.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstant } from '../src/instants.js';
import { assertStoreEqualsTruth, bedsFor, count, cursorOf, lastRun, signedIn, SOURCES, type AlertSource, type TestBed } from './support/harness.js';
import type { SimulatorOptions } from '../src/simulator/simulator.js';

const NO_STACK = /\n\s+at /;

for (const source of SOURCES) badInputFrom(source);

function badInputFrom(source: AlertSource): void {
  async function bed(options: SimulatorOptions = {}): Promise<TestBed> {
    const b = await bedsFor(source)(options);
    await signedIn(b);
    return b;
  }

  describe(`API bodies (source ${source})`, () => {
    it('a 200 with an HTML page (a captive portal or proxy) is retried, then fails clearly keeping the cursor', async () => {
      const b = await bed({ initialAlerts: 10 });
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursor = cursorOf(b.dbPath);
      b.sim.api.createAlerts(3);
      const portal = { kind: 'status' as const, status: 200, contentType: 'text/html; charset=utf-8', body: '<html><body>Sign in to the guest network</body></html>' };
      b.sim.api.faults.push(portal, portal, portal);
      const result = await b.cli(['sync'], { MDE_ALERT_SYNC_MAX_RETRIES: '2' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /failed after 3 attempts: the API answered 200 with a body that is not complete JSON \(.*content type text\/html/);
      assert.doesNotMatch(result.stderr, NO_STACK);
      assert.equal(cursorOf(b.dbPath), cursor);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('items of the wrong types are kept in rejected_alerts; odd values in valid alerts are stored as served', async () => {
      const b = await bed({ initialAlerts: 5 });
      const [odd] = b.sim.api.createAlerts(1);
      // Odd values in an alert either source serves (Graph, by default, serves Defender for Endpoint's).
      Object.assign(odd!, { detectionSource: 'WindowsDefenderAtp', severity: 'Critical', status: 42, evidence: 'not a list', incidentId: 'x' });
      const now = new Date().toISOString();
      const wrong = [null, 17, [], { id: 12345, [b.updateField]: now }, { id: 'n1', [b.updateField]: 1732400000 }, { id: '', [b.updateField]: now }, { id: 'n2', lastModified: now }];
      b.sim.api.faults.push({ kind: 'extraItems', items: wrong });
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM rejected_alerts'), wrong.length);
      assert.equal(count(b.dbPath, `SELECT count(*) FROM rejected_alerts WHERE reason LIKE '%${b.updateField}%'`), 2, `the reason names ${b.updateField}`);
      assertStoreEqualsTruth(b);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts WHERE id = ? AND severity = ?', odd!.id, 'Critical'), 1);
    });

    it('alerts nested 6,000 levels deep are kept in rejected_alerts and block no other alert, in this pass or the next', async () => {
      const b = await bed({ initialAlerts: 10 });
      assert.equal((await b.cli(['sync'])).code, 0);
      const [stored] = b.sim.api.truth().filter((alert) => b.serves(alert));
      const deep = (inner: string) => `${'['.repeat(6000)}${inner}${']'.repeat(6000)}`;
      const at = (offsetMs = 0) => JSON.stringify(new Date(Date.now() + offsetMs).toISOString());
      const texts = [
        `{"id":"deep-unknown-field","${b.updateField}":${at()},"title":"deep","extension":${deep('1')}}`,
        `{"id":"deep-column","${b.updateField}":${at()},"description":${deep('"x"')}}`,
        `{"id":"deep-evidence","${b.updateField}":${at()},"evidence":[{"entityType":"File","details":${deep('null')}}]}`,
        `{"id":${JSON.stringify(stored!.id)},"${b.updateField}":${at(1000)},"title":"a newer version, too deep","extension":${deep('{}')}}`,
      ];
      b.sim.api.createAlerts(5);
      b.sim.api.faults.push({ kind: 'extraRawItems', texts });
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /4 rejected \(kept in rejected_alerts\)/);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM rejected_alerts WHERE reason LIKE 'nested more than 1000 levels deep%'"), texts.length);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM alerts WHERE id LIKE 'deep-%'"), 0);
      assertStoreEqualsTruth(b);
      b.sim.api.createAlerts(3);
      const next = await b.cli(['sync']);
      assert.equal(next.code, 0, next.stderr);
      assertStoreEqualsTruth(b);
    });

    it('an alert larger than the response cap stops the pass with what to raise, and nothing is skipped', async () => {
      const b = await bed({ initialAlerts: 10 });
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursor = cursorOf(b.dbPath);
      const [huge] = b.sim.api.createAlerts(1);
      huge!.description = 'x'.repeat(1_500_000);
      const capped = await b.cli(['sync'], { MDE_ALERT_SYNC_MAX_RESPONSE_MEGABYTES: '1' });
      assert.equal(capped.code, 1);
      assert.match(capped.stderr, /do not fit in one response; raise maxResponseMegabytes/);
      assert.doesNotMatch(capped.stderr, NO_STACK);
      assert.ok(parseInstant(cursorOf(b.dbPath))! >= parseInstant(cursor)!);
      assert.ok(parseInstant(cursorOf(b.dbPath))! <= parseInstant(huge!.lastUpdateTime)!, 'the cursor does not pass the alert it could not read');
      assert.equal((await b.cli(['sync'], { MDE_ALERT_SYNC_MAX_RESPONSE_MEGABYTES: '4' })).code, 0);
      assertStoreEqualsTruth(b);
    });
  });

  describe(`API headers (source ${source})`, () => {
    it('an absurd Retry-After ends the pass at once with a clear message; a garbled one falls back to backoff', async () => {
      const b = await bed({ initialAlerts: 10 });
      b.sim.api.faults.push({ kind: 'status', status: 429, retryAfter: '86400' });
      const absurd = await b.cli(['sync']);
      assert.equal(absurd.code, 1);
      assert.match(absurd.stderr, /the server asks to wait 86400 s, longer than maxRetryAfter \(300 s\)\. The cursor was kept/);
      assert.equal(b.sim.api.requests.length, 1, 'no retry inside the pass');
      b.sim.api.faults.push({ kind: 'status', status: 429, retryAfter: 'soon' }, { kind: 'status', status: 429, retryAfter: '-5' });
      const garbled = await b.cli(['sync']);
      assert.equal(garbled.code, 0, garbled.stderr);
      assertStoreEqualsTruth(b);
    });

    it('a missing Date header: the pass uses the local clock, says so, and loses nothing', async () => {
      const b = await bed({ initialAlerts: 10 });
      b.sim.api.faults.push({ kind: 'noDate' });
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /the API sent no Date header: using the local clock for this pass/);
      assertStoreEqualsTruth(b);
    });
  });

  describe(`token endpoint answers (source ${source})`, () => {
    // A 4-minute token is renewed by every run, so each run calls the token endpoint.
    const shortTokens = { initialAlerts: 5, identity: { accessTokenLifetimeSec: 240 } };

    for (const [name, rawBody, status, message] of [
      ['an HTML error page', { body: '<html><body><h1>503 Service Unavailable</h1></body></html>', contentType: 'text/html' }, 503, /Could not refresh the access token: non_json_response: the identity provider answered HTTP 503 with a body that is not JSON/],
      ['broken JSON', { body: '{"token_type":"Bearer","access_tok', contentType: 'application/json' }, 200, /Could not refresh the access token: non_json_response: the identity provider answered HTTP 200 with a body that is not JSON/],
      ['JSON without a token', { body: '{"token_type":"Bearer","expires_in":3599}', contentType: 'application/json' }, 200, /The identity provider answered without an access token/],
    ] as const) {
      it(`${name} from the token endpoint fails the pass clearly without signing out`, async () => {
        const b = await bed(shortTokens);
        for (let i = 0; i < 3; i += 1) b.sim.identity.faults.push({ status, error: '', code: 0, grantTypes: ['refresh_token'], rawBody });
        const result = await b.cli(['sync']);
        assert.equal(result.code, 1, 'a broken answer is not a refused sign-in (3): the account stays');
        assert.equal(b.sim.api.requests.length, 0, 'no API call without a usable token');
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stderr, NO_STACK);
        assert.equal(lastRun(b.dbPath)?.outcome, 'failed');
        b.sim.identity.faults.length = 0;
        const again = await b.cli(['sync']);
        assert.equal(again.code, 0, again.stderr);
        assertStoreEqualsTruth(b);
      });
    }
  });
}
