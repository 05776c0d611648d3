// The database when storage fails under it: a full disk, a read-only filesystem, another process holding the
// write lock. Each pass fails with a message that says what to do, the file stays intact, and syncing
// resumes with nothing lost once the cause is gone. The filesystems are real (tmpfs mounts: needs root, as
// on the CI machines).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertStoreEqualsTruth, count, createTestBed, cursorOf, openDb, signedIn, sourceSettings, SOURCES, tempDir, type AlertSource, type TestBed } from './support/harness.js';

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

async function bedOn(dir: string, source: AlertSource): Promise<TestBed> {
  const b = await createTestBed({ initialAlerts: 40 }, { ...sourceSettings(source), MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'alerts.db') });
  await signedIn(b);
  return b;
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
