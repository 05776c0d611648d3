// The WAL stays bounded: a reader holding a snapshot makes it grow during heavy writes (SQLite cannot reset it
// under a reader), and once the reader lets go the worker's checkpoint after the next pass brings it back to
// its size limit; /metrics shows its size. With walCheckpoints: external the worker leaves it to Litestream.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertStoreEqualsTruth, bedsFor, count, signedIn, SOURCES, startWorker, waitFor, type AlertSource, type TestBed } from './support/harness.js';

const MiB = 1_048_576;
const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;
const walBytes = (b: TestBed) => {
  try {
    return statSync(`${b.dbPath}-wal`).size;
  } catch {
    return 0;
  }
};
const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

/** A reporting tool in the middle of a long query: a read transaction on its own connection. */
function holdSnapshot(dbPath: string): Database.Database {
  const reader = new Database(dbPath, { readonly: true, fileMustExist: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM alerts').get();
  return reader;
}

for (const source of SOURCES) walBounded(source);

function walBounded(source: AlertSource): void {
  const bedWith = bedsFor(source);

  describe(`the WAL (source ${source})`, () => {
    it('grows while a reader holds a snapshot during heavy writes, and shrinks to its limit after the next pass once the reader lets go', async () => {
      const b = await bedWith({ initialAlerts: 20 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_WAL_SIZE_LIMIT_MEGABYTES: '1' });
      await signedIn(b);
      const { worker, get } = await startWorker(b);
      await waitFor('the first pass', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      const reader = holdSnapshot(b.dbPath);
      b.sim.api.createAlerts(4000);
      await waitFor('the new alerts', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b), 60_000);
      b.sim.api.updateAlerts(2000);
      await waitFor('the changes', () => count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'updated'") > 0, 60_000);
      const grown = walBytes(b);
      assert.ok(grown > 4 * MiB, `the WAL grew under the reader (${grown} bytes)`);
      const held = (await get('/metrics')).text;
      assert.ok(metric(held, 'mde_alert_sync_wal_bytes') > 4 * MiB, 'the gauge shows the grown WAL');
      assert.match(held, /mde_alert_sync_wal_checkpoints_total\{outcome="busy"\} [1-9]/, 'checkpoints held back by the reader are counted');

      reader.exec('COMMIT');
      reader.close();
      await waitFor('the WAL to shrink to its limit', () => walBytes(b) <= MiB, 30_000);
      await waitFor('the gauge to follow', async () => metric((await get('/metrics')).text, 'mde_alert_sync_wal_bytes') <= MiB);
      // SQLite's own checkpoint can shrink the file first: the worker's TRUNCATE after a pass is counted when that pass ends.
      await waitFor('a truncating checkpoint after a pass', async () => /mde_alert_sync_wal_checkpoints_total\{outcome="truncated"\} [1-9]/.test((await get('/metrics')).text), 30_000);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('with walCheckpoints external leaves every checkpoint to Litestream: the WAL keeps what the passes wrote', async () => {
      const b = await bedWith({ initialAlerts: 2000 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_WAL_CHECKPOINTS: 'external' });
      await signedIn(b);
      const { worker, get } = await startWorker(b);
      await waitFor('the backfill', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      const passes = count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'");
      await waitFor('two more passes', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= passes + 2);
      // SQLite's own checkpoint at 1,000 pages is off too: the pages stay in the WAL, none copied to the file.
      assert.ok(walBytes(b) > 4 * MiB, `the WAL holds the backfill (${walBytes(b)} bytes)`);
      assert.ok(statSync(b.dbPath).size < MiB, `nothing was checkpointed into the database file (${statSync(b.dbPath).size} bytes)`);
      assert.doesNotMatch((await get('/metrics')).text, /mde_alert_sync_wal_checkpoints_total\{/);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assertStoreEqualsTruth(b);
    });
  });
}
