// The long-running worker as a real process: schedule, health, metrics, signals, one writer, crashes; for
// either source.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertStoreEqualsTruth, bedsFor, count, lastRun, openDb, signedIn, SOURCES, startWorker, waitFor, type AlertSource, type RunningProcess, type TestBed } from './support/harness.js';

const processes: RunningProcess[] = [];
after(() => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;

for (const source of SOURCES) daemon(source);

function daemon(source: AlertSource): void {
  const bedWith = bedsFor(source);

  describe(`run (source ${source})`, () => {
    it('becomes ready, exposes metrics, picks up changes on schedule and stops cleanly on SIGTERM', async () => {
      const b = await bedWith({ initialAlerts: 80 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      const { worker, get } = await startWorker(b);
      assert.equal((await get('/livez')).status, 200);
      await waitFor('readiness', async () => (await get('/readyz')).status === 200);
      b.sim.api.createAlerts(5);
      const updated = b.sim.api.updateAlerts(10).filter((alert) => b.serves(alert)).length;
      const truth = b.sim.api.truth();
      await waitFor('the changes to be stored', () => count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'updated'") >= updated && count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      const metrics = (await get('/metrics')).text;
      for (const expected of [
        /mde_alert_sync_passes_total\{outcome="success"\} \d+/,
        new RegExp(`mde_alert_sync_alerts_written_total\\{kind="inserted"\\} ${served(b)}\n`),
        new RegExp(`mde_alert_sync_alerts_written_total\\{kind="updated"\\} ${updated}\n`),
        /mde_alert_sync_api_requests_total\{status="200"\} \d+/,
        /mde_alert_sync_cursor_age_seconds\{stream="[^"]+"\} \d+/,
        /mde_alert_sync_token_expiry_timestamp_seconds \d+/,
        /mde_alert_sync_last_success_timestamp_seconds \d+/,
        /mde_alert_sync_signed_in 1/,
        /mde_alert_sync_api_throttled_total 0/,
      ]) {
        assert.match(metrics, expected);
      }
      // The Defender API stops working after 1 February 2027 (MC1220762): a gauge with that date, and a
      // warning at start; Graph has neither.
      const retirement = /mde_alert_sync_source_retirement_timestamp_seconds\{source="defender"\} 1801440000\n/;
      if (source === 'defender') assert.match(metrics, retirement);
      else assert.doesNotMatch(metrics, /mde_alert_sync_source_retirement_timestamp_seconds\{/);
      worker.child.kill('SIGTERM');
      const result = await worker.done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /"msg":"stopped cleanly"/);
      const warned = /"level":40,.*"msg":"source defender: the Defender for Endpoint API stops working after 2027-02-01/;
      if (source === 'defender') assert.match(result.stdout, warned);
      else assert.doesNotMatch(result.stdout, /2027-02-01/);
      assert.match(result.stdout, /"msg":"sync pass finished"/, 'one log line per pass, as JSON on stdout');
      assertStoreEqualsTruth(b, truth);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"), 0);
    });

    it('never runs two passes at once: a tick during a pass is skipped and counted', async () => {
      const b = await bedWith({ initialAlerts: 20 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_REQUEST_TIMEOUT: '2500ms' });
      await signedIn(b);
      // The first request stalls past the timeout: the first pass lasts > 2.5 s while ticks come every second.
      b.sim.api.faults.push({ kind: 'stall', ms: 3000 });
      const { worker, get } = await startWorker(b);
      await waitFor('a skipped tick', async () => /mde_alert_sync_skipped_ticks_total\{reason="pass_running"\} [1-9]/.test((await get('/metrics')).text));
      await waitFor('two passes', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 2);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      const runs = openDb(b.dbPath).prepare('SELECT started_at, finished_at FROM sync_runs ORDER BY id').all() as { started_at: string; finished_at: string }[];
      for (let i = 1; i < runs.length; i += 1) assert.ok(runs[i]!.started_at >= runs[i - 1]!.finished_at, 'passes do not overlap');
    });

    it('SIGTERM in the middle of a backfill ends the pass at a window, exits 0, and the next run continues', async () => {
      const b = await bedWith({ initialAlerts: 1500, initialAlertDays: 90 }, { MDE_ALERT_SYNC_PAGE_SIZE: '50' });
      await signedIn(b);
      const worker = b.spawnCli(['run']);
      processes.push(worker);
      b.sim.api.beforeQuery = (index) => {
        if (index === 8) worker.child.kill('SIGTERM');
      };
      const result = await worker.done;
      b.sim.api.beforeQuery = undefined;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(lastRun(b.dbPath).outcome, 'interrupted');
      const partial = count(b.dbPath, 'SELECT count(*) FROM alerts');
      assert.ok(partial > 0 && partial < served(b));
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('refuses a second writer while one runs, lets readers read, and a killed worker is replaced at once', async () => {
      const b = await bedWith({ initialAlerts: 30 });
      await signedIn(b);
      const first = await startWorker(b);
      await waitFor('readiness', async () => (await first.get('/readyz')).status === 200);
      const second = await b.cli(['run'], { MDE_ALERT_SYNC_HEALTH_PORT: '0' });
      assert.equal(second.code, 6);
      assert.match(second.stderr, /Another mde-alert-sync run \(pid \d+ on .*\) is writing to .*alerts\.db; only one writer may run/);
      const sync = await b.cli(['sync']);
      assert.equal(sync.code, 6);
      const status = await b.cli(['status']);
      assert.equal(status.code, 0, 'a reader is not blocked by the running writer');
      assert.match(status.stdout, new RegExp(`${served(b)} alerts`));

      first.worker.child.kill('SIGKILL');
      await first.worker.done;
      b.sim.api.createAlerts(3);
      const replacement = await startWorker(b);
      await waitFor('the replacement to sync', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      replacement.worker.child.kill('SIGTERM');
      assert.equal((await replacement.worker.done).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('reports unready while passes fail, and recovers', async () => {
      const b = await bedWith({ initialAlerts: 10 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_MAX_RETRIES: '0' });
      await signedIn(b);
      for (let i = 0; i < 4; i += 1) b.sim.api.faults.push({ kind: 'status', status: 500 });
      const { worker, get } = await startWorker(b);
      const unready = await waitFor('a failed pass', async () => {
        const response = await get('/readyz');
        return response.status === 503 && /"consecutiveFailures":[1-9]/.test(response.text) && response;
      });
      assert.match(unready.text, /no successful pass yet/);
      assert.match((await get('/metrics')).text, /mde_alert_sync_passes_total\{outcome="failed"\} [1-9]/);
      await waitFor('recovery', async () => (await get('/readyz')).status === 200);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
    });

    it('a clock years ahead is measured in the metrics; a cursor in the future makes it unready with a reason', async () => {
      const b = await bedWith({ initialAlerts: 10 }, { MDE_ALERT_SYNC_SCHEDULE: '0 0 1 1 *' });
      await signedIn(b);
      b.sim.api.faults.push({ kind: 'dateOffset', ms: 3 * 365 * 86_400_000 });
      const { worker, get } = await startWorker(b);
      await waitFor('readiness', async () => (await get('/readyz')).status === 200);
      const metrics = (await get('/metrics')).text;
      const skew = Number(/^mde_alert_sync_clock_skew_seconds (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(Math.abs(skew - 3 * 365 * 86_400) < 5, `the skew is measured (${skew} s)`);
      assert.match(metrics, /mde_alert_sync_clock_skew_passes_total 1\n/);
      assert.ok(Number(/^mde_alert_sync_cursor_age_seconds\{stream="[^"]+"\} (\S+)$/m.exec(metrics)?.[1]) >= 600, 'the cursor stays a settle lag behind this machine\'s clock');

      // A cursor put in the future (an older version, a hand edit) is unready until a pass repairs it.
      const db = new Database(b.dbPath, { timeout: 5000 });
      db.prepare('UPDATE sync_cursor SET position = ?').run('2099-01-01T00:00:00.0000000Z');
      db.close();
      const unready = await get('/readyz');
      assert.equal(unready.status, 503);
      assert.match(unready.text, /the cursor of [^"]+ \(2099-01-01T00:00:00\.0000000Z\) is ahead of this machine's clock/);
      assert.ok(Number(/^mde_alert_sync_cursor_age_seconds\{stream="[^"]+"\} (\S+)$/m.exec((await get('/metrics')).text)?.[1]) < 0);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
    });

    it('signed out: stays alive, unready, stops calling the identity provider, and resumes after login', async () => {
      const b = await bedWith({ initialAlerts: 10, identity: { accessTokenLifetimeSec: 60 } }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      b.sim.identity.revokeRefreshTokens();
      const { worker, get } = await startWorker(b);
      const unready = await waitFor('signed-out readiness', async () => {
        const response = await get('/readyz');
        return response.status === 503 && /signed out/.test(response.text) && response;
      });
      assert.match(unready.text, /"signedIn":false/);
      assert.match((await get('/metrics')).text, /mde_alert_sync_signed_in 0/);
      const refreshes = () => b.sim.identity.tokenRequests.filter((r) => r.grantType === 'refresh_token').length;
      const before = refreshes();
      await waitFor('ticks skipped while signed out', async () => /mde_alert_sync_skipped_ticks_total\{reason="signed_out"\} [2-9]/.test((await get('/metrics')).text));
      assert.equal(refreshes(), before, 'no identity call while the token cache is unchanged');
      assert.equal(worker.child.exitCode, null, 'the worker is still running');

      await signedIn(b); // the operator signs in again: the cache changes
      await waitFor('ready again', async () => (await get('/readyz')).status === 200);
      worker.child.kill('SIGINT');
      assert.equal((await worker.done).code, 0);
    });
  });
}
