// The database when storage fails under it: a full disk, a read-only filesystem, another process holding the
// write lock. Each pass fails with a message that says what to do, the file stays intact, and syncing
// resumes with nothing lost once the cause is gone. The filesystems are real (tmpfs mounts: needs root, as
// on the CI machines).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { LEASE_TIMEOUT_MS } from '../src/daemon/lease.js';
import { assertStoreEqualsTruth, count, createTestBed, cursorOf, openDb, signedIn, sourceSettings, SOURCES, startWorker, tempDir, waitFor, type AlertSource, type RunningProcess, type TestBed } from './support/harness.js';

const mounts: string[] = [];
after(() => {
  for (const mount of mounts) execFileSync('umount', ['-l', mount]);
});

function smallFilesystem(megabytes: number): string {
  const dir = path.join(tempDir('mde-storage-'), 'fs');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`these tests mount a small tmpfs and need root (CAP_SYS_ADMIN): ${(error as Error).message}`);
  }
  mounts.push(dir);
  return dir;
}

/** Fills the filesystem until the kernel says it is full; returns the filler to delete. */
function fillUp(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return filler;
}

async function bedOn(dir: string, source: AlertSource, settings: Record<string, string> = {}): Promise<TestBed> {
  const b = await createTestBed({ initialAlerts: 40 }, { ...sourceSettings(source), MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'alerts.db'), ...settings });
  await signedIn(b);
  return b;
}

const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;

/** When the running worker's next lease heartbeat is due: they come every LEASE_TIMEOUT_MS / 4. */
function nextHeartbeatMs(dbPath: string): number {
  const db = openDb(dbPath);
  try {
    return Date.parse((db.prepare('SELECT heartbeat_at FROM worker_lease').get() as { heartbeat_at: string }).heartbeat_at) + LEASE_TIMEOUT_MS / 4;
  } finally {
    db.close();
  }
}

/**
 * With the database unwritable from before the worker's next heartbeat until `lift` (called 5 s after that
 * heartbeat, whatever the worker does), the worker stays up and its health endpoints answer before the fault
 * is lifted; the heartbeat met the fault and said so.
 */
async function heartbeatMeetsFault(worker: RunningProcess, get: (path: string) => Promise<unknown>, heartbeatDue: number, lift: () => void): Promise<void> {
  let lifted = false;
  const liftOnce = () => {
    if (!lifted) lift();
    lifted = true;
  };
  try {
    await sleep(Math.max(0, heartbeatDue + 1000 - Date.now()));
    assert.equal(worker.child.exitCode, null, `the worker ended while the database could not be written:\n${worker.output().stderr}`);
    const lifting = sleep(5000).then(liftOnce);
    for (const path of ['/livez', '/readyz']) {
      await get(path);
      assert.equal(lifted, false, `${path} answered only after the fault was lifted`);
    }
    await lifting;
  } finally {
    liftOnce();
  }
  assert.match(worker.output().stdout, /"msg":"the lease heartbeat could not be written/);
}

/** The worker kept running, wrote its heartbeat again, stored everything, and stops cleanly. */
async function caughtUp(b: TestBed, worker: RunningProcess, liftedMs: number): Promise<void> {
  await waitFor('the heartbeat written again', () => nextHeartbeatMs(b.dbPath) - LEASE_TIMEOUT_MS / 4 > liftedMs, 30_000);
  await waitFor('every alert stored', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b), 30_000);
  assert.equal(worker.child.exitCode, null, 'the worker is still running');
  worker.child.kill('SIGTERM');
  const result = await worker.done;
  assert.equal(result.code, 0, result.stderr);
  assertStoreEqualsTruth(b);
  assert.equal(count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"), 0);
}

const integrity = (dbPath: string) => {
  const db = openDb(dbPath);
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
};

for (const source of SOURCES) {
  describe(`storage faults (source ${source})`, () => {
    it('disk full: the pass fails clearly, the database stays intact, and the next pass after freeing space loses nothing', async () => {
      const dir = smallFilesystem(24);
      const b = await bedOn(dir, source);
      const dbPath = b.env.MDE_ALERT_SYNC_DATABASE_PATH!;
      assert.equal((await b.cli(['sync'])).code, 0);
      const stored = count(dbPath, 'SELECT count(*) FROM alerts');
      const cursor = cursorOf(dbPath)!;
      b.sim.api.createAlerts(400);
      const filler = fillUp(dir);

      const full = await b.cli(['sync']);
      assert.equal(full.code, 5, full.stderr);
      assert.match(full.stderr, /mde-alert-sync: Database .*alerts\.db: the disk is full: free space, then run again; nothing committed was lost/);
      assert.doesNotMatch(full.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(integrity(dbPath), 'ok');
      assert.ok(count(dbPath, 'SELECT count(*) FROM alerts') >= stored);
      assert.ok(cursorOf(dbPath)! >= cursor, 'the cursor did not move back');

      rmSync(filler);
      const resumed = await b.cli(['sync']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assertStoreEqualsTruth(b);
    });

    it('disk full while the worker runs: heartbeat and passes fail and are retried, /livez answers, and the worker catches up once space is freed', async () => {
      const dir = smallFilesystem(24);
      // No checkpoints by the worker: its TRUNCATE after each (failed) pass gives the WAL's blocks back to the
      // full filesystem, which can let the heartbeat through before the test lifts the fault.
      const b = await bedOn(dir, source, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_WAL_CHECKPOINTS: 'external' });
      const dbPath = b.env.MDE_ALERT_SYNC_DATABASE_PATH!;
      const { worker, get } = await startWorker(b);
      await waitFor('the first pass', () => count(dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 1);
      b.sim.api.createAlerts(400);
      const heartbeatDue = nextHeartbeatMs(dbPath);
      const filler = fillUp(dir);
      await heartbeatMeetsFault(worker, get, heartbeatDue, () => rmSync(filler));
      assert.match(worker.output().stdout, /the disk is full: free space/);
      await caughtUp(b, worker, Date.now());
    });

    it('read-only filesystem: the pass fails clearly, and syncing resumes once it is writable again', async () => {
      const dir = smallFilesystem(32);
      const b = await bedOn(dir, source);
      const dbPath = b.env.MDE_ALERT_SYNC_DATABASE_PATH!;
      assert.equal((await b.cli(['sync'])).code, 0);
      const stored = count(dbPath, 'SELECT count(*) FROM alerts');
      b.sim.api.createAlerts(10);
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const readOnly = await b.cli(['sync']);
      execFileSync('mount', ['-o', 'remount,rw', dir]);
      assert.equal(readOnly.code, 5, readOnly.stderr);
      assert.match(readOnly.stderr, /mde-alert-sync: Database .*alerts\.db: its filesystem is read-only: remount .* read-write/);
      assert.doesNotMatch(readOnly.stderr, /\n\s+at /);
      assert.equal(integrity(dbPath), 'ok');
      assert.equal(count(dbPath, 'SELECT count(*) FROM alerts'), stored);
      const resumed = await b.cli(['sync']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assertStoreEqualsTruth(b);
    });

    it('another program holding the write lock while the worker runs: heartbeat and pass wait without blocking /livez, the worker stays up and loses nothing', async () => {
      const b = await createTestBed({ initialAlerts: 25 }, { ...sourceSettings(source), MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      const { worker, get } = await startWorker(b);
      await waitFor('the first pass', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 1);
      b.sim.api.createAlerts(5);
      // A reporting tool (say sqlite3 in a shell) with an open write transaction, across a heartbeat.
      const heartbeatDue = nextHeartbeatMs(b.dbPath);
      const other = new Database(b.dbPath);
      other.prepare('BEGIN IMMEDIATE').run();
      try {
        await heartbeatMeetsFault(worker, get, heartbeatDue, () => other.prepare('ROLLBACK').run());
      } finally {
        if (other.inTransaction) other.prepare('ROLLBACK').run();
        other.close();
      }
      await caughtUp(b, worker, Date.now());
    });

    it('another program holding the write lock: the pass waits, then fails clearly, and resumes once the lock is released', async () => {
      const b = await createTestBed({ initialAlerts: 25 }, sourceSettings(source));
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const stored = count(b.dbPath, 'SELECT count(*) FROM alerts');
      b.sim.api.createAlerts(5);
      // A foreign writer (say sqlite3 in a shell) with an open write transaction.
      const other = new Database(b.dbPath);
      other.prepare('BEGIN IMMEDIATE').run();
      const locked = await b.cli(['sync']);
      other.prepare('ROLLBACK').run();
      other.close();
      assert.equal(locked.code, 5, locked.stderr);
      assert.match(locked.stderr, /another process holds the write lock: stop the other writer or wait for it/);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), stored);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });
  });
}
