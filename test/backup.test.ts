// `backup <destination>`: a consistent standalone copy of the live database while a worker writes it, written
// atomically, in rollback-journal mode, passing integrity_check; bad destinations refused with exit 2.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertStoreEqualsTruth, bedsFor, CLI, count, createTestBed, openDb, runProcess, signedIn, SOURCES, startWorker, waitFor, type AlertSource } from './support/harness.js';

const NO_STACK = /\n\s+at /;

const mounts: string[] = [];
after(() => {
  for (const mount of mounts) execFileSync('umount', ['-l', mount]);
});

/** A real filesystem too small for the copy (tmpfs: the tests run as root, as storage.test.ts does). */
function smallFilesystem(dir: string, kilobytes: number): string {
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kilobytes}k`, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

function idsIn(file: string): Set<string> {
  const db = openDb(file);
  try {
    return new Set((db.prepare('SELECT id FROM alerts').all() as { id: string }[]).map((row) => row.id));
  } finally {
    db.close();
  }
}

/** The copy on its own: integrity, journal mode (from the file header: 1 is rollback, 2 is WAL), no WAL files. */
function assertStandalone(file: string): void {
  const header = readFileSync(file).subarray(18, 20);
  assert.deepEqual([...header], [1, 1], 'the copy is in rollback-journal mode, not WAL');
  assert.ok(!existsSync(`${file}-wal`) && !existsSync(`${file}-shm`), 'no -wal or -shm beside the copy');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
  } finally {
    db.close();
  }
}

for (const source of SOURCES) backupWhileWriting(source);

function backupWhileWriting(source: AlertSource): void {
  describe(`backup (source ${source})`, () => {
    it('copies the database while a worker writes a large backfill: the copy passes integrity_check and holds every row committed at its start', async () => {
      const b = await bedsFor(source)({ initialAlerts: 4000, initialAlertDays: 120 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100', MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      const { worker } = await startWorker(b);
      await waitFor('the backfill to be under way', () => existsSync(b.dbPath) && count(b.dbPath, 'SELECT count(*) FROM alerts') >= 500);
      // New alerts keep coming, so that passes go on committing after the backfill too.
      const churn = setInterval(() => b.sim.api.createAlerts(20), 200);
      try {
        const before = idsIn(b.dbPath);
        const destination = path.join(b.dir, 'backups', 'alerts-copy.db');
        mkdirSync(path.dirname(destination));
        const result = await b.cli(['backup', destination]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /Backed up \d+ alerts .* to .*alerts-copy\.db/);
        assertStandalone(destination);
        const copied = idsIn(destination);
        const missing = [...before].filter((id) => !copied.has(id));
        assert.deepEqual(missing, [], 'every alert committed before the backup started is in the copy');
        assert.deepEqual(readdirSync(path.dirname(destination)), ['alerts-copy.db'], 'no temporary file left');
      } finally {
        clearInterval(churn);
      }
      await waitFor('every alert', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === b.sim.api.truth().filter((alert) => b.serves(alert)).length, 120_000);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assertStoreEqualsTruth(b);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'failed'"), 0, 'the backup made no pass fail');
    });
  });
}

describe('backup destinations', () => {
  it('refuses to overwrite without --force, a missing or unwritable folder, a directory and the database itself (exit 2); no database or a full disk is exit 5, nothing left behind', async () => {
    const b = await createTestBed({ initialAlerts: 300 });
    await signedIn(b);
    const none = await b.cli(['backup', path.join(b.dir, 'copy.db')]);
    assert.equal(none.code, 5, none.stderr);
    assert.match(none.stderr, /no database at .*alerts\.db: nothing to back up/);
    assert.equal((await b.cli(['sync'])).code, 0);

    const existing = path.join(b.dir, 'existing.db');
    writeFileSync(existing, 'an earlier report');
    for (const [name, destination, message] of [
      ['an existing file', existing, /existing\.db already exists: pass --force to replace it, or choose another name; nothing was written/],
      ['a missing folder', path.join(b.dir, 'no-such-folder', 'copy.db'), /the folder .*no-such-folder does not exist: create it first; nothing was written/],
      ['a directory', b.dir, /is a directory: give the name of the file to write, such as .*alerts-backup\.db/],
      ['the database itself', b.dbPath, /is the database itself: give another file name/],
      ['its WAL', `${b.dbPath}-wal`, /is the database's own -wal file: give another file name/],
      ['a file as its folder', path.join(existing, 'copy.db'), /existing\.db is not a folder; nothing was written/],
    ] as const) {
      const result = await b.cli(['backup', destination]);
      assert.equal(result.code, 2, `${name}: ${result.stderr}`);
      assert.match(result.stderr, message, name);
      assert.doesNotMatch(result.stderr, NO_STACK, name);
      assert.doesNotMatch(result.stderr, /unexpected error/i, name);
    }
    assert.equal(readFileSync(existing, 'utf8'), 'an earlier report', 'the existing file is untouched');

    // A user who may read the database but not write the folder (nobody; the tests run as root).
    chmodSync(b.dir, 0o755);
    chmodSync(b.dbPath, 0o644);
    const reader = await runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'backup', path.join(b.dir, 'copy.db')], b.env, '/').done;
    assert.equal(reader.code, 2, reader.stderr);
    assert.match(reader.stderr, /the folder .* is not writable for this user; nothing was written/);

    const full = smallFilesystem(path.join(b.dir, 'small'), Math.floor(statSync(b.dbPath).size / 2048));
    const noSpace = await b.cli(['backup', path.join(full, 'copy.db')]);
    assert.equal(noSpace.code, 5, noSpace.stderr);
    assert.match(noSpace.stderr, /Backup to .*copy\.db failed, nothing was written there and the database is unchanged: .*the disk is full/);
    assert.doesNotMatch(noSpace.stderr, NO_STACK);
    assert.deepEqual(readdirSync(full), [], 'the partial copy is removed');

    const forced = await b.cli(['backup', '--force', existing]);
    assert.equal(forced.code, 0, forced.stderr);
    assertStandalone(existing);
    assert.equal(count(existing, 'SELECT count(*) FROM alerts'), 300);
    assert.deepEqual(readdirSync(b.dir).filter((name) => name.includes('existing') && name !== 'existing.db'), [], 'no temporary file left');
  });
});
