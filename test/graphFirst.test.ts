// Graph first: which source a database syncs when the configuration does not say, each source's own call
// quota, and what the retiring Defender for Endpoint API says (at start, in status, and when it answers as
// retired). The real CLI process, real HTTPS to the simulator, the real MSAL library, a real SQLite file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStoreEqualsTruth, count, createTestBed, lastRun, signedIn, type TestBed } from './support/harness.js';

/** The configuration sets no source: the product chooses. */
const NO_SOURCE = { MDE_ALERT_SYNC_SOURCE: undefined };
const DEFENDER = { MDE_ALERT_SYNC_SOURCE: 'defender' };
const GRAPH = { MDE_ALERT_SYNC_SOURCE: 'graph' };

const pathsRead = (b: TestBed) => [...new Set(b.sim.api.requests.map((r) => r.path))];

describe('which source a database syncs when source is not set', () => {
  it('a new database gets Microsoft Graph, from login on', async () => {
    const b = await createTestBed({ initialAlerts: 60 }, NO_SOURCE);
    const login = await b.cli(['login']);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /source not set: using graph.*new database/i);
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(pathsRead(b), ['/v1.0/security/alerts_v2']);
    assertStoreEqualsTruth(b, b.sim.api.truth(), 'graph');
    assert.equal(count(b.dbPath, "SELECT count(*) FROM alerts WHERE source <> 'graph'"), 0);
    assert.doesNotMatch(sync.stderr, /2027-02-01/, 'no retirement warning for Graph');
  });

  it('a database that has been syncing the Defender API keeps syncing it, and loses nothing', async () => {
    const b = await createTestBed({ initialAlerts: 60 }, DEFENDER);
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const stored = count(b.dbPath, 'SELECT count(*) FROM alerts');
    b.sim.api.updateAlerts(10);
    b.sim.api.createAlerts(4);
    b.sim.api.requests.length = 0;
    const unset = await b.cli(['sync'], NO_SOURCE);
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stderr, /source not set: using defender.*defender:alerts/i, 'the log says which source and why');
    assert.deepEqual(pathsRead(b), ['/api/alerts']);
    assertStoreEqualsTruth(b, b.sim.api.truth(), 'defender');
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), stored + 4);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_cursor'), 1, 'the same cursor went on: nothing read again from the look-back');
  });

  it('an explicit source always wins over what the database holds', async () => {
    const b = await createTestBed({ initialAlerts: 40 }, DEFENDER);
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    b.sim.api.requests.length = 0;
    const explicit = await b.cli(['sync'], GRAPH);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.doesNotMatch(explicit.stderr, /source not set/);
    assert.deepEqual(pathsRead(b), ['/v1.0/security/alerts_v2']);
    assertStoreEqualsTruth(b, b.sim.api.truth(), 'graph');

    // Unset again, the database keeps the source whose cursor moved last: Graph now.
    b.sim.api.requests.length = 0;
    const unset = await b.cli(['sync'], NO_SOURCE);
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stderr, /source not set: using graph.*graph:alerts_v2/);
    assert.deepEqual(pathsRead(b), ['/v1.0/security/alerts_v2']);
  });

  it('a database that only migrate created holds nothing to keep: it gets Graph', async () => {
    const b = await createTestBed({}, NO_SOURCE);
    assert.equal((await b.cli(['migrate'])).code, 0);
    const status = await b.cli(['status']);
    assert.match(status.stdout, /Source: graph .*not set: a new database/);
  });

  it('status says which source is used and why', async () => {
    const b = await createTestBed({ initialAlerts: 10 }, NO_SOURCE);
    const fresh = await b.cli(['status']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /Source: graph \(Microsoft Graph/);
    assert.match(fresh.stdout, /not set: a new database/);
  });
});

describe('call quotas per source', () => {
  it('each source has its documented quota by default, and callsPerMinute / callsPerHour override it', async () => {
    const b = await createTestBed({}, NO_SOURCE);
    const graph = await b.cli(['status'], GRAPH);
    assert.match(graph.stdout, /at most 150 requests a minute \(Microsoft Graph's limit for security alerts\), no hourly limit/);
    const defender = await b.cli(['status'], DEFENDER);
    assert.match(defender.stdout, /at most 100 requests a minute and 1500 an hour \(the Defender API's quota\)/);
    const overridden = await b.cli(['status'], { ...GRAPH, MDE_ALERT_SYNC_CALLS_PER_MINUTE: '120', MDE_ALERT_SYNC_CALLS_PER_HOUR: '3000' });
    assert.match(overridden.stdout, /at most 120 requests a minute and 3000 an hour \(set by callsPerMinute, callsPerHour\)/);
  });

  it('refuses an override above the source\'s quota, naming the source', async () => {
    const b = await createTestBed({}, NO_SOURCE);
    const defender = await b.cli(['sync'], { ...DEFENDER, MDE_ALERT_SYNC_CALLS_PER_MINUTE: '120' });
    assert.equal(defender.code, 2);
    assert.match(defender.stderr, /callsPerMinute \(from MDE_ALERT_SYNC_CALLS_PER_MINUTE\): must be at most 100 with source defender/);
    const graph = await b.cli(['sync'], { ...GRAPH, MDE_ALERT_SYNC_CALLS_PER_MINUTE: '151' });
    assert.equal(graph.code, 2);
    assert.match(graph.stderr, /callsPerMinute \(from MDE_ALERT_SYNC_CALLS_PER_MINUTE\): must be at most 150 with source graph/);
  });
});

describe('the retiring Defender for Endpoint API', () => {
  it('every sync with source defender warns of 1 February 2027 and says how to switch; Graph does not', async () => {
    const b = await createTestBed({ initialAlerts: 10 }, DEFENDER);
    await signedIn(b);
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stderr, /"level":40.*stops working after 2027-02-01.*MC1220762/);
    assert.match(sync.stderr, /source: graph/);
    assert.match(sync.stderr, /SecurityAlert\.Read\.All/);
    const graph = await b.cli(['sync'], GRAPH);
    assert.equal(graph.code, 0, graph.stderr);
    assert.doesNotMatch(graph.stderr, /2027-02-01/);
  });

  it('status shows the retirement date and the two-line switch with source defender', async () => {
    const b = await createTestBed({}, DEFENDER);
    const status = await b.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /retiring: the Defender for Endpoint API stops working after 2027-02-01/);
    assert.match(status.stdout, /1\. .*Microsoft Graph → delegated SecurityAlert\.Read\.All.*admin consent/);
    assert.match(status.stdout, /2\. .*source: graph/);
    assert.doesNotMatch((await b.cli(['status'], GRAPH)).stdout, /2027-02-01/);
  });

  for (const answer of [
    { status: 410 as const },
    { status: 404 as const, message: 'This API has been retired. Use the Microsoft Graph security API.' },
    { status: 400 as const, message: 'The WindowsDefenderATP alerts API is deprecated and no longer available.' },
  ]) {
    it(`an answer that looks like the retirement (${answer.status}) fails the pass saying to switch, and loses nothing`, async () => {
      const b = await createTestBed({ initialAlerts: 30 }, DEFENDER);
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      b.sim.api.retiredDefenderApi = answer;
      const result = await b.cli(['sync']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /answered that it is retired \(HTTP \d{3}/);
      assert.match(result.stderr, /set source: graph/);
      assert.match(result.stderr, /Microsoft Graph → delegated SecurityAlert\.Read\.All/);
      assert.doesNotMatch(result.stderr, /refused the request|unexpected error|\n\s+at /);
      assert.equal(b.sim.api.requests.filter((r) => r.path === '/api/alerts').length, 2, 'not retried: a retired API does not come back');
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), 30, 'what was stored is kept');
      assert.equal(lastRun(b.dbPath).outcome, 'failed');
      assert.match(String(lastRun(b.dbPath).error), /retired/);
    });
  }

  it('a 404 without a retirement message stays an ordinary refused request', async () => {
    const b = await createTestBed({ initialAlerts: 5 }, DEFENDER);
    await signedIn(b);
    b.sim.api.retiredDefenderApi = { status: 404, message: 'Resource not found.' };
    const result = await b.cli(['sync']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refused the request \(HTTP 404/);
    assert.doesNotMatch(result.stderr, /answered that it is retired/);
  });
});
