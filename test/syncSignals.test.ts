// `sync` stopped by a signal, as a scheduler or an operator stops it: the pass ends at its next window, its
// run is recorded interrupted, the database is closed cleanly, and the next sync continues; for either source.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStoreEqualsTruth, bedsFor, count, lastRun, signedIn, SOURCES } from './support/harness.js';

for (const source of SOURCES) {
  describe(`sync stopped by a signal (source ${source})`, () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      it(`${signal} in the middle of a backfill: run recorded interrupted, exit ${code}, nothing lost`, async () => {
        const b = await bedsFor(source)({ initialAlerts: 1500, initialAlertDays: 90 }, { MDE_ALERT_SYNC_PAGE_SIZE: '50' });
        await signedIn(b);
        const sync = b.spawnCli(['sync']);
        b.sim.api.beforeQuery = (index) => {
          if (index === 8) sync.child.kill(signal);
        };
        const result = await sync.done;
        b.sim.api.beforeQuery = undefined;
        assert.equal(result.signal, null, 'the process handled the signal itself');
        assert.equal(result.code, code, result.stderr);
        assert.match(result.stderr, new RegExp(`mde-alert-sync: Stopped by ${signal}: the pass ended at a window boundary and is recorded as interrupted; the alerts committed so far are kept, and the next sync continues from the cursor\\.`));
        assert.doesNotMatch(result.stderr, /\n\s+at /);
        const run = lastRun(b.dbPath);
        assert.equal(run.outcome, 'interrupted');
        assert.ok(run.finished_at, 'the run has an end');
        assert.equal(count(b.dbPath, 'SELECT count(*) FROM worker_lease'), 0, 'the lease was released');
        const partial = count(b.dbPath, 'SELECT count(*) FROM alerts');
        assert.ok(partial > 0, 'windows committed before the signal are kept');
        const next = await b.cli(['sync']);
        assert.equal(next.code, 0, next.stderr);
        assert.equal(count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"), 0);
        assertStoreEqualsTruth(b);
      });
    }
  });
}
