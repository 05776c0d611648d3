// Microsoft Graph's incidents end to end: the real CLI process, real HTTPS to the simulator's
// security/incidents, the real MSAL library, a real SQLite file. Incidents are a stream of their own beside
// the alerts (Graph only: the Defender API has no incidents endpoint here), with the alerts' guarantees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { formatODataInstant, instantFromMs } from '../src/instants.js';
import type { SimIncident } from '../src/simulator/incidentFactory.js';
import { assertStoreEqualsTruth, bedsFor, count, openDb, signedIn, startWorker, waitFor, type TestBed } from './support/harness.js';

const INCIDENTS = 'graph:incidents';
const PATH = '/v1.0/security/incidents';
/** A Graph bed whose user may read incidents, with incidents on (the harness turns them off for alert tests). */
const bed = (options: Parameters<ReturnType<typeof bedsFor>>[0] = {}, settings: Record<string, string> = {}) =>
  bedsFor('graph')({ grantIncidentPermission: true, ...options }, { MDE_ALERT_SYNC_INCIDENTS: 'true', ...settings });

const incidentRequests = (b: TestBed) => b.sim.incidents.requests.filter((r) => r.path === PATH);

/** The database holds exactly the incidents the service holds now, each at its latest version as served. */
function assertIncidentsEqualTruth(b: TestBed, truth: SimIncident[] = b.sim.incidents.truth()): void {
  const db = openDb(b.dbPath);
  try {
    const rows = db.prepare('SELECT id, raw_json FROM incidents').all() as { id: string; raw_json: string }[];
    const stored = new Map(rows.map((row) => [row.id, JSON.parse(row.raw_json) as unknown]));
    const missing = truth.filter((incident) => !stored.has(incident.id)).map((incident) => incident.id);
    assert.deepEqual(missing, [], `${missing.length} incidents missing from the store`);
    const stale = truth.filter((incident) => !isDeepStrictEqual(stored.get(incident.id), incident));
    if (stale.length > 0) assert.deepEqual(stored.get(stale[0]!.id), stale[0], `${stale.length} incidents stored at another version than the one served, the first:`);
    assert.equal(rows.length, truth.length, 'the store holds incidents the service does not');
  } finally {
    db.close();
  }
}

function runsOf(b: TestBed): { stream: string; entity: string; outcome: string; error: string | null; alerts_inserted: number }[] {
  const db = openDb(b.dbPath);
  try {
    return db.prepare('SELECT stream, entity, outcome, error, alerts_inserted FROM sync_runs ORDER BY id').all() as ReturnType<typeof runsOf>;
  } finally {
    db.close();
  }
}

describe('incidents: backfill and incremental passes', () => {
  it('backfills every incident beside the alerts, 50 a page at most, with typed columns and raw JSON as received', async () => {
    const b = await bed({ initialAlerts: 400, initialAlertDays: 60, incidents: { initialMergedShare: 0.1 } });
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    const truth = b.sim.incidents.truth();
    assert.ok(truth.length > 100, `the tenant has many incidents (${truth.length})`);
    assert.match(result.stdout, /Synced as analyst@contoso\.example: \d+ new/);
    assert.match(result.stdout, new RegExp(`Synced incidents as analyst@contoso\\.example: ${truth.length} new`));
    assertStoreEqualsTruth(b);
    assertIncidentsEqualTruth(b);

    const requests = incidentRequests(b);
    assert.ok(requests.length > 1, 'a page holds at most 50 incidents: the backfill takes several');
    assert.ok(requests.every((r) => r.top !== null && r.top <= 50 && !r.expand && r.status === 200), 'never $top above 50, never $expand=alerts');

    const db = openDb(b.dbPath);
    try {
      const sample = truth.find((incident) => incident.status !== 'redirected' && (incident.customTags as unknown[]).length + (incident.systemTags as unknown[]).length > 0) ?? truth[0]!;
      const row = db.prepare('SELECT * FROM incidents WHERE id = ?').get(sample.id) as Record<string, unknown>;
      assert.equal(row.tenant_id, sample.tenantId);
      assert.equal(String(row.status).toLowerCase(), String(sample.status).toLowerCase());
      assert.equal(row.display_name, sample.displayName);
      assert.equal(row.incident_web_url, sample.incidentWebUrl);
      assert.match(String(row.last_update_time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      const tags = [...(sample.customTags as string[]), ...(sample.systemTags as string[])];
      assert.deepEqual(row.tags === null ? [] : JSON.parse(String(row.tags)), tags);

      // Linked through the alerts' own incidentId: every stored alert's incident is stored.
      const unlinked = db.prepare('SELECT count(*) AS n FROM alerts a WHERE a.incident_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incident_alerts l WHERE l.alert_id = a.id)').get() as { n: number };
      assert.equal(unlinked.n, 0, "every alert's incident is stored and linked");

      // Merged incidents keep their row and name their target; no count includes them.
      const merged = truth.filter((incident) => incident.status === 'redirected');
      assert.ok(merged.length > 0, 'the tenant has merged incidents');
      for (const incident of merged) {
        const stored = db.prepare('SELECT status, redirect_incident_id FROM incidents WHERE id = ?').get(incident.id) as { status: string; redirect_incident_id: string };
        assert.deepEqual(stored, { status: 'Redirected', redirect_incident_id: incident.redirectIncidentId });
      }
      const open = truth.filter((incident) => !['resolved', 'redirected'].includes(incident.status)).length;
      const viewed = (sql: string) => (db.prepare(sql).get() as { n: number | null }).n ?? 0;
      assert.equal(viewed('SELECT sum(open_incidents) AS n FROM open_incidents_by_severity'), open, 'open incidents per severity leaves out the merged ones');
      assert.equal(viewed('SELECT sum(open_incidents) AS n FROM open_incidents_by_assignee'), open, 'open incidents per assignee leaves out the merged ones');
      assert.equal(viewed('SELECT sum(incidents) AS n FROM incidents_per_day'), truth.length - merged.length, 'incidents per day counts each attack once');
    } finally {
      db.close();
    }

    // Each stream is a run of its own, with its own cursor.
    const runs = runsOf(b);
    assert.deepEqual(runs.map((r) => [r.entity, r.outcome]), [['alerts', 'success'], ['incidents', 'success']]);
    assert.equal(runs[1]!.stream, INCIDENTS);
    assert.equal(runs[1]!.alerts_inserted, truth.length, "the incidents run counts incidents");
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_cursor WHERE stream = ?', INCIDENTS), 1);

    const status = await b.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${truth.length} incidents \\(${merged_(truth)} merged into others\\)`));
    assert.match(status.stdout, /cursor graph:incidents: /);
    assert.match(status.stdout, / graph:incidents success /);
  });

  it('an incremental pass picks up new, changed and merged incidents, records what changed, and writes nothing for unchanged ones', async () => {
    const b = await bed({ initialAlerts: 150 });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const changesAfterFirst = count(b.dbPath, 'SELECT count(*) FROM incident_changes');
    assert.equal(changesAfterFirst, b.sim.incidents.truth().length, 'one created row per incident');

    const before = incidentRequests(b).length;
    const idle = await b.cli(['sync']);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(incidentRequests(b).length - before, 1, 'an unchanged pass makes one incidents request');
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM incident_changes'), changesAfterFirst);
    assert.match(idle.stdout, /Synced incidents as .*: 0 new, 0 updated/);

    const changed = b.sim.incidents.updateIncidents(10);
    const [[source, target]] = b.sim.incidents.mergeIncidents(1) as [[string, string]];
    const created = b.sim.incidents.createIncidents(4, { alertsEach: 2 });
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Synced incidents as .*: ${created.length} new`));
    assertStoreEqualsTruth(b);
    assertIncidentsEqualTruth(b);

    const db = openDb(b.dbPath);
    try {
      const history = db.prepare("SELECT changed_fields FROM incident_changes WHERE incident_id = ? AND change = 'updated' ORDER BY id DESC").get(changed[0]!.id) as { changed_fields: string };
      const fields = JSON.parse(history.changed_fields) as Record<string, { old: unknown; new: unknown }>;
      assert.ok(fields.lastUpdateDateTime, 'the change lists lastUpdateDateTime');
      const mergedRow = db.prepare('SELECT status, redirect_incident_id, versions_seen FROM incidents WHERE id = ?').get(source) as Record<string, unknown>;
      assert.equal(mergedRow.status, 'Redirected');
      assert.equal(mergedRow.redirect_incident_id, target);
      const mergeChange = db.prepare("SELECT changed_fields FROM incident_changes WHERE incident_id = ? AND change = 'updated' ORDER BY id DESC").get(source) as { changed_fields: string };
      assert.deepEqual((JSON.parse(mergeChange.changed_fields) as Record<string, { new: unknown }>).status!.new, 'redirected');
      assert.throws(() => db.prepare('DELETE FROM incident_changes').run(), /readonly|append-only/);
    } finally {
      db.close();
    }
  });

  it('resync --since moves back the cursor of each stream, the incidents too, and the next pass re-reads both spans writing no history', async () => {
    const b = await bed({ initialAlerts: 150, initialAlertDays: 30 });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const changes = count(b.dbPath, 'SELECT count(*) FROM incident_changes');
    const moved = await b.cli(['resync', '--since', '7d']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /Moved the cursor of graph:alerts_v2\S* back from /);
    assert.match(moved.stdout, new RegExp(`Moved the cursor of ${INCIDENTS} back from `));
    const db = openDb(b.dbPath);
    const resets = db.prepare('SELECT stream, new_position FROM cursor_resets ORDER BY stream').all() as { stream: string; new_position: string }[];
    const cursor = (db.prepare('SELECT position FROM sync_cursor WHERE stream = ?').get(INCIDENTS) as { position: string }).position;
    db.close();
    assert.deepEqual(resets.map((r) => r.stream).sort(), [INCIDENTS, resets.find((r) => r.stream !== INCIDENTS)!.stream].sort());
    assert.ok(Math.abs(Date.parse(cursor) - (Date.now() - 7 * 86_400_000)) < 60_000, `the incidents' cursor is 7 days back (${cursor})`);

    const before = incidentRequests(b).length;
    const reread = await b.cli(['sync']);
    assert.equal(reread.code, 0, reread.stderr);
    const first = incidentRequests(b)[before]!;
    const from = /lastUpdateDateTime ge (\S+)/.exec(first.filter ?? '')?.[1];
    assert.ok(from !== undefined && Date.parse(from) <= Date.parse(cursor), `the incidents are read from the resync point (${from})`);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM incident_changes'), changes, 'unchanged incidents write no history');
    assertIncidentsEqualTruth(b);
  });

  it('reads more incidents than a page sharing one lastUpdateDateTime (a tie) without losing one', async () => {
    const b = await bed({ initialAlerts: 40 });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const at = formatODataInstant(instantFromMs(b.sim.nowMs() - 3_600_000) + 4321n);
    const tied = b.sim.incidents.createIncidents(120, { lastUpdateTime: at });
    assert.ok(tied.every((incident) => incident.lastUpdateDateTime === at));
    const result = await b.cli(['sync'], { MDE_ALERT_SYNC_OVERLAP: '3h' });
    assert.equal(result.code, 0, result.stderr);
    assertIncidentsEqualTruth(b);
    assert.equal(count(b.dbPath, "SELECT count(*) FROM incident_changes WHERE change = 'created'"), b.sim.incidents.truth().length, 'each incident created exactly once');
  });
});

describe('incidents: failures of one stream', () => {
  it('a token without SecurityIncident.Read.All: the alerts sync, the incidents run fails naming the permission', async () => {
    const b = await bed({ initialAlerts: 120, grantIncidentPermission: false });
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stdout, /Synced as analyst@contoso\.example: \d+ new/);
    assert.match(result.stderr, /cannot read incidents: .*SecurityIncident\.Read\.All.*Microsoft Graph → delegated SecurityIncident\.Read\.All.*incidents: false/);
    assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
    assertStoreEqualsTruth(b);
    const runs = runsOf(b);
    assert.deepEqual(runs.map((r) => [r.entity, r.outcome]), [['alerts', 'success'], ['incidents', 'failed']]);
    assert.match(String(runs[1]!.error), /SecurityIncident\.Read\.All/);
    assert.equal(incidentRequests(b).length, 0, 'no incidents request with a token that cannot read them');

    const token = await b.cli(['token']);
    assert.equal(token.code, 4);
    assert.match(token.stdout, /This token can read alerts from Microsoft Graph/);
    assert.match(token.stderr, /This token cannot read incidents: the token lacks the permission SecurityIncident\.Read\.All/);

    // Turned off, the same sign-in syncs alerts only and succeeds.
    const off = await b.cli(['sync'], { MDE_ALERT_SYNC_INCIDENTS: 'false' });
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stdout, /incidents/);
  });

  it('a 403 on incidents although the token carries SecurityIncident.Read.All names the missing Defender XDR role, while the alerts sync', async () => {
    const b = await bed({ initialAlerts: 80 });
    await signedIn(b);
    b.sim.incidents.faults.push({ kind: 'status', status: 403, body: JSON.stringify({ error: { code: 'Forbidden', message: 'Insufficient privileges to complete the operation.' } }), contentType: 'application/json' });
    const result = await b.cli(['sync']);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stdout, /Synced as analyst@contoso\.example: \d+ new/);
    assert.match(result.stderr, /Microsoft Graph \(security\/incidents\) refused access \(HTTP 403 Forbidden: Insufficient privileges.*\)\. The token carries SecurityIncident\.Read\.All, so the signed-in user lacks a Microsoft Defender XDR role that can read incidents/);
    assertStoreEqualsTruth(b);
    assert.deepEqual(runsOf(b).map((r) => [r.entity, r.outcome]), [['alerts', 'success'], ['incidents', 'failed']]);
  });

  it('incidents that fail on the server do not roll back the alerts committed in the same pass, and the next pass catches up', async () => {
    const b = await bed({ initialAlerts: 120 }, { MDE_ALERT_SYNC_MAX_RETRIES: '1' });
    await signedIn(b);
    for (let i = 0; i < 2; i += 1) b.sim.incidents.faults.push({ kind: 'status', status: 503 });
    const failed = await b.cli(['sync']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /Reading incidents failed after 2 attempts/);
    assertStoreEqualsTruth(b);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM incidents'), 0);
    const resumed = await b.cli(['sync']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assertIncidentsEqualTruth(b);
    assert.deepEqual(runsOf(b).map((r) => [r.entity, r.outcome]), [['alerts', 'success'], ['incidents', 'failed'], ['alerts', 'success'], ['incidents', 'success']]);
  });

  it('never asks for $expand=alerts, so a server whose expansion fails with 500 does not stall the incidents', async () => {
    const b = await bed({ initialAlerts: 80, incidents: { expandAlertsFails: true } });
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assertIncidentsEqualTruth(b);
    assert.ok(incidentRequests(b).every((r) => !r.expand && r.status === 200));
  });
});

describe('incidents: crash and resume', () => {
  it('a process killed mid-backfill of the incidents resumes where it stopped, with nothing lost or duplicated', async () => {
    // Pages of 20: a settled window of up to 32 pages is one commit, and the backfill needs several.
    const b = await bed({ initialAlerts: 1200, initialAlertDays: 90 }, { MDE_ALERT_SYNC_PAGE_SIZE: '20' });
    await signedIn(b);
    const run = b.spawnCli(['sync']);
    let killedAt = -1;
    // Killed once a window of incidents has moved their cursor (a settled window's pages move it with the last).
    b.sim.incidents.beforeQuery = (index) => {
      if (index < 8 || killedAt >= 0) return;
      if (count(b.dbPath, "SELECT count(*) FROM sync_cursor WHERE stream = 'graph:incidents'") === 0) return;
      killedAt = index;
      run.child.kill('SIGKILL');
    };
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL');
    b.sim.incidents.beforeQuery = undefined;
    const truth = b.sim.incidents.truth();
    const partial = count(b.dbPath, 'SELECT count(*) FROM incidents');
    assert.ok(partial > 0 && partial < truth.length, `some incident windows were committed before the kill (${partial} of ${truth.length})`);
    const cursorAfterKill = count(b.dbPath, "SELECT count(*) FROM sync_cursor WHERE stream = 'graph:incidents'");
    assert.equal(cursorAfterKill, 1, 'the incidents cursor moved with the committed windows');

    const resumed = await b.cli(['sync']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assertStoreEqualsTruth(b);
    assertIncidentsEqualTruth(b);
    assert.equal(count(b.dbPath, "SELECT count(*) FROM incident_changes WHERE change = 'created'"), truth.length, 'each incident created exactly once');
    assert.deepEqual(runsOf(b).map((r) => [r.entity, r.outcome]), [['alerts', 'success'], ['incidents', 'interrupted'], ['alerts', 'success'], ['incidents', 'success']]);
  });
});

describe('incidents: the worker', () => {
  it('/metrics gives the cursor age of each stream, and the incidents written', async () => {
    const b = await bed({ initialAlerts: 60 });
    await signedIn(b);
    const { worker, get } = await startWorker(b);
    await waitFor('both streams synced', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 2);
    const metrics = await waitFor('the incidents counted', async () => {
      const text = (await get('/metrics')).text;
      return /mde_alert_sync_incidents_written_total\{kind="inserted"\} [1-9]/.test(text) && text;
    });
    assert.match(metrics, /mde_alert_sync_cursor_age_seconds\{stream="graph:alerts_v2[^"]*"\} \d/);
    assert.match(metrics, /mde_alert_sync_cursor_age_seconds\{stream="graph:incidents"\} \d/);
    assert.equal((await get('/readyz')).status, 200);
    worker.child.kill('SIGTERM');
    assert.equal((await worker.done).code, 0);
  });
});

function merged_(truth: SimIncident[]): number {
  return truth.filter((incident) => incident.status === 'redirected').length;
}
