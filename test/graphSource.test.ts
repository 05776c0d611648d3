// source: graph end to end: the real CLI process, real HTTPS to the simulator's Graph alerts_v2 endpoint, the
// real MSAL library, a real SQLite file. The same tenant is served by both APIs, so a database can switch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimAlert } from '../src/simulator/alertFactory.js';
import { serviceSourceOf } from '../src/simulator/graphAlert.js';
import { formatODataInstant, instantFromMs } from '../src/instants.js';
import { assertStoreEqualsTruth, count, createTestBed, lastRun, openDb, signedIn } from './support/harness.js';

const GRAPH = { MDE_ALERT_SYNC_SOURCE: 'graph' };

const fromEndpoint = (alerts: SimAlert[]) => alerts.filter((alert) => serviceSourceOf(alert) === 'microsoftDefenderForEndpoint');

describe('source: graph (Microsoft Graph security/alerts_v2)', () => {
  it('backfills and then follows changes, Defender for Endpoint alerts only, with the same reporting columns', async () => {
    const b = await createTestBed({ initialAlerts: 300, initialAlertDays: 60 }, { ...GRAPH, MDE_ALERT_SYNC_PAGE_SIZE: '50' });
    await signedIn(b);
    const first = await b.cli(['sync']);
    assert.equal(first.code, 0, first.stderr);
    const truth = fromEndpoint(b.sim.api.truth());
    assert.ok(truth.length < 300 && truth.length > 200, 'the tenant also has alerts of another service');
    assertStoreEqualsTruth(b);

    // Each request: Graph's path and fields, $top 50, no $expand (evidence is inline). A settled window (with an
    // upper bound) is read through its @odata.nextLink pages, each proved by its count; the open first one never is.
    const requests = b.sim.api.requests;
    assert.ok(requests.length >= 6, 'a 50-alert page needs several requests');
    for (const r of requests) {
      assert.equal(r.path, '/v1.0/security/alerts_v2');
      assert.equal(r.top, 50);
      assert.equal(r.expand, false);
      assert.match(r.filter!, /^lastUpdateDateTime ge \S+( and lastUpdateDateTime lt \S+)? and serviceSource eq 'microsoftDefenderForEndpoint'$/);
      if (r.skip > 0) assert.match(r.filter!, / and lastUpdateDateTime lt /, 'only a window with an upper bound is paged');
    }
    assert.ok(requests.some((r) => r.skip > 0), 'the settled stretch was read through its pages');
    assert.ok(requests.length <= Math.ceil(truth.length / 50) + 2, `${requests.length} requests for ${truth.length} alerts at 50 a page`);

    // The same reporting columns as from the Defender API: Defender's enum spelling, the device from its evidence.
    const db = openDb(b.dbPath);
    const sample = truth.find((alert) => alert.relatedUser && (alert.evidence as unknown[]).length > 1)!;
    const row = db.prepare('SELECT * FROM alerts WHERE id = ?').get(sample.id) as Record<string, unknown>;
    for (const [column, field] of [['severity', 'severity'], ['status', 'status'], ['machine_id', 'machineId'], ['computer_dns_name', 'computerDnsName'], ['rbac_group_name', 'rbacGroupName'], ['incident_id', 'incidentId'], ['title', 'title'], ['threat_name', 'threatName']] as const) {
      assert.equal(row[column], sample[field], column);
    }
    assert.equal(row.related_user_name, (sample.relatedUser as { userName: string }).userName);
    const evidence = db.prepare('SELECT entity_type, sha256, ip_address, account_name FROM alert_evidence WHERE alert_id = ? ORDER BY ordinal').all(sample.id) as Record<string, unknown>[];
    const served = (sample.evidence as Record<string, unknown>[]);
    assert.deepEqual(evidence.map((e) => e.entity_type), ['Machine', 'User', ...served.map((e) => e.entityType)], 'evidence typed by @odata.type');
    assert.deepEqual(evidence.slice(2).map((e) => [e.sha256, e.ip_address, e.account_name]), served.map((e) => [e.sha256, e.ipAddress, e.accountName]));
    const openBySeverity = db.prepare('SELECT sum(open_alerts) AS n FROM open_alerts_by_severity').get() as { n: number };
    assert.equal(openBySeverity.n, truth.filter((alert) => alert.status !== 'Resolved').length, 'the views answer from Graph rows');
    db.close();

    // Incremental: changes and new alerts, read from the cursor on lastUpdateDateTime.
    b.sim.api.requests.length = 0;
    const changed = b.sim.api.updateAlerts(fromEndpoint(b.sim.api.truth()).slice(0, 25).map((alert) => alert.id));
    b.sim.api.createAlerts(7);
    const second = await b.cli(['sync']);
    assert.equal(second.code, 0, second.stderr);
    assertStoreEqualsTruth(b);
    assert.ok(b.sim.api.requests.length <= 3, `an incremental pass reads a short window (${b.sim.api.requests.length} requests)`);
    assert.equal(count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'updated'"), changed.length);
    assert.equal(lastRun(b.dbPath).outcome, 'success');
    assert.match(String(count(b.dbPath, "SELECT count(*) FROM sync_cursor WHERE stream = 'graph:alerts_v2?serviceSource=microsoftDefenderForEndpoint'")), /^1$/);
  });

  it('reads every service with serviceSourceFilter all, and waits out a 429 like the default source', async () => {
    const b = await createTestBed({ initialAlerts: 120 }, { ...GRAPH, MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER: 'all' });
    await signedIn(b);
    b.sim.api.faults.push({ kind: 'status', status: 429, retryAfter: '1' }, { kind: 'status', status: 503 });
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assertStoreEqualsTruth(b);
    assert.ok(b.sim.api.requests.every((r) => !/serviceSource/.test(r.filter ?? '')));
    assert.equal(lastRun(b.dbPath).retries, 2);
  });

  it('refuses settings that Graph cannot serve, naming each', async () => {
    const b = await createTestBed({}, GRAPH);
    const result = await b.cli(['sync'], { MDE_ALERT_SYNC_PAGE_SIZE: '5000', MDE_ALERT_SYNC_DETECTION_SOURCE_FILTER: 'WindowsDefenderAtp' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /pageSize: must be at most 2000 with source graph/);
    assert.match(result.stderr, /detectionSourceFilter: Graph alerts_v2 cannot filter on detectionSource/);
  });

  it('moves a database from the Defender API to Graph and keeps its history', async () => {
    const b = await createTestBed({ initialAlerts: 150, initialAlertDays: 30 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const changedBefore = b.sim.api.updateAlerts(20);
    assert.equal((await b.cli(['sync'])).code, 0);
    const historyBefore = count(b.dbPath, 'SELECT count(*) FROM alert_changes');

    // One setting changes; the refresh token signs in to Graph without a new login.
    b.sim.api.updateAlerts(10);
    // The server's Date has 1 s resolution: a change in the second a split pass starts is the next pass's.
    await sleep(1100);
    const switched = await b.cli(['sync'], GRAPH);
    assert.equal(switched.code, 0, switched.stderr);
    const truth = b.sim.api.truth();
    assertStoreEqualsTruth(b, truth, 'graph');
    const db = openDb(b.dbPath);
    // Alerts of another service stay as the Defender API last showed them.
    const others = truth.filter((alert) => serviceSourceOf(alert) !== 'microsoftDefenderForEndpoint');
    for (const alert of others) {
      const row = db.prepare('SELECT source, raw_json FROM alerts WHERE id = ?').get(alert.id) as { source: string; raw_json: string };
      assert.equal(row.source, 'defender');
    }
    // Nothing of the history is lost; each switched alert has one change that names the source.
    assert.ok(count(b.dbPath, 'SELECT count(*) FROM alert_changes') >= historyBefore + fromEndpoint(truth).length);
    assert.equal(count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'created'"), 150);
    assert.ok(changedBefore.length > 0);
    const sourceChange = db.prepare("SELECT changed_fields FROM alert_changes WHERE alert_id = ? ORDER BY id DESC LIMIT 1").get(fromEndpoint(truth)[0]!.id) as { changed_fields: string };
    assert.deepEqual(JSON.parse(sourceChange.changed_fields).source, { old: 'defender', new: 'graph' });
    const rows = db.prepare("SELECT changed_fields FROM alert_changes WHERE changed_fields LIKE '%\"source\"%'").all() as { changed_fields: string }[];
    for (const row of rows) assert.ok(!('raw_json' in JSON.parse(row.changed_fields)), 'changes across sources are told by reporting columns');
    db.close();
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_cursor'), 2, 'each source keeps its own cursor');
  });

  it('moves a database back from Graph to the Defender API, keeping its history', async () => {
    const b = await createTestBed({ initialAlerts: 120, initialAlertDays: 30 }, GRAPH);
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const onGraph = fromEndpoint(b.sim.api.truth()).length;
    b.sim.api.updateAlerts(15);
    await sleep(1100);
    const back = await b.cli(['sync'], { MDE_ALERT_SYNC_SOURCE: 'defender' });
    assert.equal(back.code, 0, back.stderr);
    assertStoreEqualsTruth(b, b.sim.api.truth(), 'defender');
    assert.equal(count(b.dbPath, "SELECT count(*) FROM alerts WHERE source = 'graph'"), 0, 'every alert is now as the Defender API serves it');
    // Alerts of the other service are new to this database; the rest keep their history and gain one change.
    assert.equal(count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'created'"), 120);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM alert_changes WHERE changed_fields LIKE \'%"source":{"old":"graph","new":"defender"}%\''), onGraph);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_cursor'), 2);
  });

  it('reads every alert when Graph answers with fewer alerts than $top and an @odata.nextLink, following the link within one instant', async () => {
    const b = await createTestBed({ initialAlerts: 200, initialAlertDays: 20 }, { ...GRAPH, MDE_ALERT_SYNC_PAGE_SIZE: '20', MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER: 'all' });
    // 45 alerts on one 100 ns instant: no time split can separate them; Graph serves them in pages of 7.
    b.sim.api.createAlerts(45, { lastUpdateTime: formatODataInstant(instantFromMs(b.sim.nowMs() - 3_600_000) + 4321n) });
    b.sim.api.graphServerPageSize = 7;
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assertStoreEqualsTruth(b);
    // Within the instant, Graph's @odata.nextLink was followed (its opaque $skiptoken), page after page of 7.
    const followed = b.sim.api.requests.filter((r) => r.skipToken).map((r) => r.skip);
    assert.ok(followed.includes(7) && followed.includes(14) && followed.includes(42), `the links were followed (${followed.slice(0, 8).join(', ')})`);
    assert.ok(b.sim.api.requests.every((r) => r.skip === 0 || r.skipToken), 'no $skip was built by the client');
  });
});
