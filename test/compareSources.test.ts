// compare-sources end to end: the real CLI process reads one span from both of the simulator's APIs (the
// Defender API and Graph alerts_v2) over real HTTPS with real MSAL tokens (one per API), and writes nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ComparisonReport } from '../src/commands/compareSources.js';
import { parseSince, settingsForSource } from '../src/commands/sourceComparison.js';
import { loadSettings } from '../src/config/settings.js';
import { instantFromMs } from '../src/instants.js';
import { serviceSourceOf } from '../src/simulator/graphAlert.js';
import type { SimAlert } from '../src/simulator/alertFactory.js';
import { bedsFor, count, cursorOf, SOURCES, signedIn, type CliResult, type TestBed } from './support/harness.js';

const ALL_SERVICES = { MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER: 'all' };
const fromEndpoint = (alerts: SimAlert[]) => alerts.filter((alert) => serviceSourceOf(alert) === 'microsoftDefenderForEndpoint');

function report(result: CliResult): ComparisonReport {
  return JSON.parse(result.stdout) as ComparisonReport;
}

/** The ids of one group of the report, or undefined when it has none. */
function group(result: ComparisonReport, reason: string, seenBy: string): string[] | undefined {
  return result.groups.find((g) => g.reason === reason && g.seenBy === seenBy)?.ids;
}

/** Every byte of the database files (the database, its WAL and shared memory if any). */
function databaseBytes(b: TestBed): Record<string, string> {
  const dir = path.dirname(b.dbPath);
  const files = readdirSync(dir).filter((name) => name.startsWith(path.basename(b.dbPath)));
  return Object.fromEntries(files.map((name) => [name, createHash('sha256').update(readFileSync(path.join(dir, name))).digest('hex')]));
}

const sorted = (ids: string[]) => [...ids].sort();

for (const source of SOURCES) {
  const bed = bedsFor(source);

  describe(`compare-sources (configured source ${source})`, () => {
    it('agrees when both APIs return the same alerts: exit 0 with the counts, and writes nothing', async () => {
      const b = await bed({ initialAlerts: 120, initialAlertDays: 20 }, ALL_SERVICES);
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursor = cursorOf(b.dbPath);
      const runs = count(b.dbPath, 'SELECT count(*) FROM sync_runs');
      const before = databaseBytes(b);
      b.sim.api.requests.length = 0;

      const result = await b.cli(['compare-sources', '--since', '30d', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const json = report(result);
      const truth = b.sim.api.truth().length;
      assert.deepEqual(json.counts, { defender: truth, graph: truth, both: truth, onlyDefender: 0, onlyGraph: 0, knownDifferences: 0, disagreements: 0 });
      assert.deepEqual(json.groups, []);
      assert.equal(json.agree, true);
      assert.deepEqual(new Set(b.sim.api.requests.map((r) => r.path)), new Set(['/api/alerts', '/v1.0/security/alerts_v2']), 'both APIs were read');
      assert.ok(b.sim.api.requests.every((r) => r.status === 200), 'each API accepted the token issued for it');

      const text = await b.cli(['compare-sources', '--since', new Date(Date.now() - 30 * 86_400_000).toISOString()]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`In both: +${truth}\\n +Only the Defender API: +0\\n +Only Microsoft Graph: +0`));
      assert.match(text.stdout, new RegExp(`The sources agree: ${truth} alert\\(s\\) in both\\.`));

      assert.deepEqual(databaseBytes(b), before, 'the database files are unchanged, byte for byte');
      assert.equal(cursorOf(b.dbPath), cursor);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_runs'), runs);
    });

    it('lists each alert Graph or the Defender API does not return under its reason, and exits 10', async () => {
      const b = await bed({ initialAlerts: 80, initialAlertDays: 10 }, ALL_SERVICES);
      const hidden = fromEndpoint(b.sim.api.truth()).slice(0, 3).map((alert) => alert.id);
      for (const id of hidden) b.sim.api.hiddenFromGraph.add(id);
      const graphOnly = b.sim.api.createGraphOnlyAlerts(2, 'microsoftDefenderForEndpoint').map((alert) => alert.id);
      await signedIn(b);

      const result = await b.cli(['compare-sources', '--since', '14d', '--json']);
      assert.equal(result.code, 10, result.stderr);
      assert.match(result.stderr, /mde-alert-sync: The sources disagree on 5 alert\(s\)/);
      const json = report(result);
      assert.deepEqual(group(json, 'graphDoesNotReturn', 'defender'), sorted(hidden));
      assert.deepEqual(group(json, 'defenderDoesNotReturn', 'graph'), sorted(graphOnly));
      assert.equal(json.counts.both, b.sim.api.truth().length - 5);
      assert.equal(json.counts.disagreements, 5);
      assert.equal(json.agree, false);

      const text = await b.cli(['compare-sources', '--since', '14d']);
      assert.equal(text.code, 10);
      const disagreements = text.stdout.slice(text.stdout.indexOf('Disagreements:'));
      const graphPart = disagreements.slice(disagreements.indexOf('Graph does not return them'), disagreements.indexOf('the Defender API does not return them'));
      for (const id of hidden) assert.ok(graphPart.includes(`    ${id}\n`), `${id} listed under "Graph does not return them"`);
      for (const id of graphOnly) assert.ok(disagreements.slice(disagreements.indexOf('the Defender API does not return them')).includes(`    ${id}\n`));
      assert.match(text.stdout, /The sources disagree on 5 alert\(s\)\./);
    });

    it("groups other services' alerts as known differences, not disagreements, with the default serviceSourceFilter and with all", async () => {
      const b = await bed({ initialAlerts: 100, initialAlertDays: 10 });
      const others = b.sim.api.truth().filter((alert) => serviceSourceOf(alert) !== 'microsoftDefenderForEndpoint').map((alert) => alert.id);
      assert.ok(others.length > 0, 'the tenant has Microsoft 365 Defender alerts the Defender API also returns');
      await signedIn(b);

      // Default filter: Graph is asked for Defender for Endpoint's alerts only.
      const filtered = await b.cli(['compare-sources', '--since', '14d', '--json']);
      assert.equal(filtered.code, 0, filtered.stderr);
      const json = report(filtered);
      assert.deepEqual(group(json, 'otherServiceOutsideFilter', 'defender'), sorted(others));
      assert.equal(json.counts.disagreements, 0);
      assert.equal(json.counts.knownDifferences, others.length);

      // all: Graph also returns services the Defender API does not serve.
      const office = b.sim.api.createGraphOnlyAlerts(3, 'microsoftDefenderForOffice365').map((alert) => alert.id);
      const every = await b.cli(['compare-sources', '--since', '14d', '--json'], ALL_SERVICES);
      assert.equal(every.code, 0, every.stderr);
      const all = report(every);
      assert.deepEqual(group(all, 'otherServiceGraphOnly', 'graph'), sorted(office));
      assert.equal(all.counts.both, b.sim.api.truth().length - office.length, 'with all, Graph returns the Microsoft 365 Defender alerts too');
      const text = await b.cli(['compare-sources', '--since', '14d'], ALL_SERVICES);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /Known differences \(not disagreements\):\n {2}Seen only by Microsoft Graph: other Defender XDR services[^\n]*: 3\n/);
    });

    it('does not report an alert that changed during the reads as missing: it is re-checked and said to have changed', async () => {
      // pageSize 20: Graph reads in several windows, and an alert updated while it does leaves its window. Windows
      // are read up to the later of the two clocks: with the server's 2 s ahead, that is its Date, before the update.
      const b = await bed({ initialAlerts: 90, initialAlertDays: 10, clockOffsetMs: 2000 }, { ...ALL_SERVICES, MDE_ALERT_SYNC_PAGE_SIZE: '20' });
      await signedIn(b);
      const moved = b.sim.api.truth().sort((x, y) => x.lastUpdateTime.localeCompare(y.lastUpdateTime))[0]!.id;
      let updated = false;
      b.sim.api.beforeQuery = () => {
        if (!updated && b.sim.api.requests.at(-1)?.path === '/v1.0/security/alerts_v2') {
          updated = true;
          b.sim.api.updateAlerts([moved]);
        }
      };
      const result = await b.cli(['compare-sources', '--since', '14d', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const json = report(result);
      assert.ok(updated);
      assert.deepEqual(group(json, 'changedWhileComparing', 'defender'), [moved]);
      assert.equal(json.counts.disagreements, 0);
    });

    it('counts alerts that appear during the reads as changed while comparing, not as missing', async () => {
      const b = await bed({ initialAlerts: 40, initialAlertDays: 10 }, ALL_SERVICES);
      await signedIn(b);
      let created: string[] = [];
      b.sim.api.beforeQuery = () => {
        if (created.length === 0 && b.sim.api.requests.at(-1)?.path === '/v1.0/security/alerts_v2') created = b.sim.api.createAlerts(2).map((alert) => alert.id);
      };
      const result = await b.cli(['compare-sources', '--since', '14d', '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(group(report(result), 'changedWhileComparing', 'graph'), sorted(created));
    });

    for (const lacking of [
      { api: 'Microsoft Graph (security/alerts_v2)', keeps: 'Alert.Read', permission: 'SecurityAlert.Read.All', grant: 'Microsoft Graph → delegated SecurityAlert.Read.All' },
      { api: 'the Defender API', keeps: 'SecurityAlert.Read.All', permission: 'Alert.Read', grant: 'WindowsDefenderATP → delegated Alert.Read' },
    ]) {
      it(`names the missing ${lacking.permission} permission and how to grant it, exit 4, before reading alerts`, async () => {
        const b = await bed({ initialAlerts: 10 });
        b.sim.identity.defaultUser.permissions = [lacking.keeps];
        await signedIn(b);
        const result = await b.cli(['compare-sources', '--since', '7d']);
        assert.equal(result.code, 4, result.stderr);
        assert.match(result.stderr, new RegExp(`compare-sources reads both APIs, and the ${lacking.api.replace(/[()]/g, '\\$&')} token of analyst@contoso.example cannot read alerts: the token lacks the permission ${lacking.permission} \\(it carries: none\\): in the app registration add ${lacking.grant}, grant admin consent, then sign in again`));
        assert.equal(b.sim.api.requests.length, 0, 'no alerts request with a token that cannot read them');
        assert.equal(result.stdout, '');
      });
    }
  });
}

describe('compare-sources: bad input', () => {
  it('refuses a --since that is neither a span nor a past ISO-8601 time, exit 2', async () => {
    const b = await bedsFor('graph')();
    for (const since of ['yesterday', '0d', '2999-01-01T00:00:00Z']) {
      const result = await b.cli(['compare-sources', '--since', since]);
      assert.equal(result.code, 2, since);
      assert.match(result.stderr, /option '--since <span\|time>' argument '.*' is invalid\. must (be a span|lie in the past)/);
      assert.equal(b.sim.api.requests.length, 0);
    }
  });
});

describe('compare-sources: without a sign-in', () => {
  it('refuses to compare without a sign-in: exit 3, "run login", no alerts request', async () => {
    const b = await bedsFor('defender')({ initialAlerts: 5 });
    const result = await b.cli(['compare-sources']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /No account is signed in\. Run "mde-alert-sync login"/);
    assert.equal(b.sim.api.requests.length, 0);
  });
});

describe('compare-sources: each API gets its own host, scope and limits from one configuration', () => {
  const env = { MDE_ALERT_SYNC_TENANT_ID: 'contoso.onmicrosoft.com', MDE_ALERT_SYNC_CLIENT_ID: '3f1e7a52-5c1d-4b8e-a7a0-9c2f6d1e0b77', MDE_ALERT_SYNC_PLAINTEXT_TOKEN_CACHE: 'true' };
  const load = (extra: Record<string, string>) => loadSettings({ env: { ...env, ...extra }, needsIdentity: true });

  it('derives the other API from the cloud, in both directions', () => {
    for (const [cloud, graphHost, defenderHost, defenderScope] of [
      ['commercial', 'https://graph.microsoft.com', 'https://api.security.microsoft.com', 'https://api.securitycenter.microsoft.com/.default'],
      ['gcc-high', 'https://graph.microsoft.us', 'https://api-gov.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us/.default'],
    ] as const) {
      const fromDefender = settingsForSource(load({ MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_CLOUD: cloud, MDE_ALERT_SYNC_CALLS_PER_MINUTE: '90' }), 'graph');
      assert.deepEqual([fromDefender.source, fromDefender.apiBaseUrl, fromDefender.scope, fromDefender.pageSize, fromDefender.callsPerMinute], ['graph', graphHost, `${graphHost}/.default`, 2000, 90]);
      const fromGraph = settingsForSource(load({ MDE_ALERT_SYNC_SOURCE: 'graph', MDE_ALERT_SYNC_CLOUD: cloud, MDE_ALERT_SYNC_CALLS_PER_MINUTE: '150' }), 'defender');
      assert.deepEqual([fromGraph.source, fromGraph.apiBaseUrl, fromGraph.scope, fromGraph.pageSize, fromGraph.callsPerMinute], ['defender', defenderHost, defenderScope, 10_000, 100], 'within the Defender API limits');
    }
  });

  it('keeps a stand-in host (not Microsoft\'s) for both APIs, and a geo endpoint for the Defender API only', () => {
    const standIn = settingsForSource(load({ MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_API_BASE_URL: 'https://127.0.0.1:8443' }), 'graph');
    assert.equal(standIn.apiBaseUrl, 'https://127.0.0.1:8443');
    assert.equal(standIn.scope, 'https://graph.microsoft.com/.default');
    const geo = settingsForSource(load({ MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_API_BASE_URL: 'https://eu.api.security.microsoft.com' }), 'graph');
    assert.equal(geo.apiBaseUrl, 'https://graph.microsoft.com');
  });

  it('reads --since as a span back from now or an ISO-8601 time', () => {
    const now = Date.UTC(2026, 11, 1, 12);
    assert.equal(parseSince('7d', now), instantFromMs(now - 7 * 86_400_000));
    assert.equal(parseSince('36h', now), instantFromMs(now - 36 * 3_600_000));
    assert.equal(parseSince('2026-11-24T00:00:00Z', now), instantFromMs(Date.UTC(2026, 10, 24)));
    assert.equal(parseSince('2026-11-24T01:00:00+01:00', now), instantFromMs(Date.UTC(2026, 10, 24)));
    for (const bad of ['yesterday', '0d', '2026-12-02T00:00:00Z', '-3d']) assert.throws(() => parseSince(bad, now), /must/);
  });
});
