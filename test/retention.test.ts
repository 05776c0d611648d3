// Retention after a pass: finished sync_runs older than syncRunRetention go (by default after 90 days), the
// history of alerts resolved and unchanged for longer than resolvedHistoryRetention goes only when that is
// set, alerts never go, and alert_changes stays append-only for everyone else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertStoreEqualsTruth, bedsFor, count, signedIn, SOURCES, startWorker, waitFor, type TestBed } from './support/harness.js';

const DAY_MS = 86_400_000;
const stamp = (ms: number) => new Date(ms).toISOString().replace('Z', '0000Z');

/** Moves the start of run `id` back by `days` (a run of long ago: sync_runs has no append-only rule). */
function ageRun(b: TestBed, id: number, days: number): void {
  const db = new Database(b.dbPath);
  try {
    db.prepare('UPDATE sync_runs SET started_at = ?, finished_at = ? WHERE id = ?').run(stamp(Date.now() - days * DAY_MS), stamp(Date.now() - days * DAY_MS + 1000), id);
  } finally {
    db.close();
  }
}

function withDb<T>(b: TestBed, work: (db: Database.Database) => T): T {
  const db = new Database(b.dbPath);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

const runIds = (b: TestBed) => {
  const db = new Database(b.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT id FROM sync_runs ORDER BY id').pluck().all() as number[];
  } finally {
    db.close();
  }
};

/** History rows of alerts resolved, and unchanged, for longer than `days`, and all the others. */
function history(b: TestBed, days: number): { expired: number; kept: number } {
  const cutoff = stamp(Date.now() - days * DAY_MS);
  const expired = count(
    b.dbPath,
    "SELECT count(*) FROM alert_changes WHERE last_update_time < ? AND alert_id IN (SELECT id FROM alerts WHERE status = 'Resolved' AND last_update_time < ?)",
    cutoff,
    cutoff,
  );
  return { expired, kept: count(b.dbPath, 'SELECT count(*) FROM alert_changes') - expired };
}

for (const source of SOURCES) {
  describe(`retention (${source})`, () => {
    it('prunes old sync runs after each pass, the old history of resolved alerts only when asked, never an alert; alert_changes stays append-only outside pruning', async () => {
      const b = await bedsFor(source)({ initialAlerts: 80, initialAlertDays: 150 });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      b.sim.api.updateAlerts(10);
      assert.equal((await b.cli(['sync'])).code, 0);
      const [first, second] = runIds(b);
      ageRun(b, first!, 91);
      const before = history(b, 30);
      assert.ok(before.expired > 0 && before.kept > 0, 'the simulated tenant has old resolved alerts and others');

      // The default: sync runs older than 90 days go, the history stays whole.
      const third = await b.cli(['sync']);
      assert.equal(third.code, 0, third.stderr);
      assert.deepEqual(runIds(b).slice(0, 1), [second], 'the run of 91 days ago is pruned, the newer ones stay');
      assert.deepEqual(history(b, 30), before);

      // Without its append-only trigger the history is not pruned (it would not be protected again after).
      const trigger = withDb(b, (db) => {
        const sql = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'alert_changes_no_delete'").pluck().get() as string;
        db.exec('DROP TRIGGER alert_changes_no_delete');
        return sql;
      });
      const unprotected = await b.cli(['sync'], { MDE_ALERT_SYNC_RESOLVED_HISTORY_RETENTION: '30d' });
      assert.equal(unprotected.code, 0, unprotected.stderr);
      assert.match(unprotected.stderr, /alert_changes has lost its alert_changes_no_delete trigger.*not pruning it/);
      assert.deepEqual(history(b, 30), before);
      withDb(b, (db) => db.exec(trigger));

      // Opt-in: the history of alerts resolved and unchanged for 30 days goes, everything else stays.
      const pruning = await b.cli(['sync'], { MDE_ALERT_SYNC_RESOLVED_HISTORY_RETENTION: '30d' });
      assert.equal(pruning.code, 0, pruning.stderr);
      assert.match(pruning.stderr, new RegExp(`"alertChanges":${before.expired}\\b.*retention: pruned`));
      assert.deepEqual(history(b, 30), { expired: 0, kept: before.kept });
      assertStoreEqualsTruth(b);

      // Outside pruning the history is still append-only.
      const db = new Database(b.dbPath);
      try {
        assert.throws(() => db.prepare('DELETE FROM alert_changes').run(), /alert_changes is append-only/);
      } finally {
        db.close();
      }

      // The worker prunes after its passes too.
      const [oldest] = runIds(b);
      ageRun(b, oldest!, 10);
      const { worker } = await startWorker(b, { MDE_ALERT_SYNC_SYNC_RUN_RETENTION: '7d' });
      await waitFor('the worker to prune the aged run', () => !runIds(b).includes(oldest!));
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), b.sim.api.truth().filter((alert) => b.serves(alert)).length);
    });

    it('refuses a retention shorter than a day', async () => {
      const b = await bedsFor(source)({ initialAlerts: 1 });
      const result = await b.cli(['sync'], { MDE_ALERT_SYNC_RESOLVED_HISTORY_RETENTION: '5m', MDE_ALERT_SYNC_SYNC_RUN_RETENTION: '2h' });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /resolvedHistoryRetention must be between 1d and/);
      assert.match(result.stderr, /syncRunRetention must be between 1d and/);
    });
  });
}
