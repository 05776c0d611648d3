// A reporting user who may read the database but not write it or its folder (Grafana's container, a pandas
// user) opens it with the sqlite3 shell, Python's mode=ro and `status`, whether the worker runs, was stopped
// by SIGTERM, or was killed; for either source. The reader is another unix user (setpriv), as in production.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { bedsFor, CLI, count, createTestBed, runProcess, signedIn, SOURCES, startWorker, waitFor, type AlertSource, type TestBed } from './support/harness.js';

/** nobody:nogroup, with no supplementary groups: only the "other" permission bits apply to it. */
const READER = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const PATH = '/usr/local/bin:/usr/bin:/bin';

function asReader(command: string, args: string[], env: Record<string, string> = { PATH }) {
  return runProcess('setpriv', [...READER, command, ...args], env, '/').done;
}

const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;

/** The folder and the file readable by everyone, writable only by the worker's user (root here). */
function readableByOthers(b: TestBed): void {
  chmodSync(b.dir, 0o755);
  chmodSync(b.dbPath, 0o644);
}

async function assertReadable(b: TestBed, state: string, expected: number): Promise<void> {
  const query = 'SELECT count(*) FROM alerts';
  const shell = await asReader('sqlite3', [b.dbPath, query]);
  assert.equal(shell.code, 0, `sqlite3 as a read-only user, worker ${state}: ${shell.stderr}`);
  assert.equal(shell.stdout.trim(), String(expected), `sqlite3, worker ${state}`);
  const script = `import sqlite3, sys\nc = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\nprint(c.execute(sys.argv[2]).fetchone()[0])`;
  const python = await asReader(PYTHON, ['-c', script, b.dbPath, query]);
  assert.equal(python.code, 0, `python mode=ro as a read-only user, worker ${state}: ${python.stderr}`);
  assert.equal(python.stdout.trim(), String(expected), `python, worker ${state}`);
  const status = await asReader(process.execPath, [CLI, 'status', '--json'], { ...b.env, PATH });
  assert.equal(status.code, 0, `status as a read-only user, worker ${state}: ${status.stderr}`);
  assert.equal((JSON.parse(status.stdout) as { store: { alerts: number } }).store.alerts, expected, `status, worker ${state}`);
}

/**
 * A reader that keeps its connection open, as Grafana's data source pools it: each line on its stdin runs the
 * query again on the same connection and prints the count (or the error).
 */
function heldReader(dbPath: string) {
  const script = [
    'import sqlite3, sys',
    "c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)",
    'for line in sys.stdin:',
    '    try: print(c.execute(\'SELECT count(*) FROM alerts\').fetchone()[0], flush=True)',
    "    except Exception as e: print('error', e, flush=True)",
  ].join('\n');
  const child = spawn('setpriv', [...READER, PYTHON, '-c', script, dbPath], { env: { PATH }, cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async count(): Promise<string> {
      child.stdin!.write('\n');
      return String((await lines.next()).value);
    },
    async close(): Promise<void> {
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.stdin!.end();
      await exited;
    },
  };
}

for (const source of SOURCES) readers(source);

function readers(source: AlertSource): void {
  const bedWith = bedsFor(source);

  describe(`read-only readers (source ${source})`, () => {
    it('read the database as another unix user while the worker runs, after SIGTERM and after SIGKILL', async () => {
      const b = await bedWith({ initialAlerts: 60 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      assert.equal((await b.cli(['migrate'])).code, 0);
      readableByOthers(b);
      const write = await asReader('touch', [`${b.dbPath}.probe`]);
      assert.notEqual(write.code, 0, 'the reader must not be able to write the folder');

      const first = await startWorker(b);
      await waitFor('the first pass', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      await assertReadable(b, 'running', served(b));

      first.worker.child.kill('SIGTERM');
      assert.equal((await first.worker.done).code, 0);
      await assertReadable(b, 'stopped by SIGTERM', served(b));

      b.sim.api.createAlerts(4);
      const second = await startWorker(b);
      await waitFor('the new alerts', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      second.worker.child.kill('SIGKILL');
      await second.worker.done;
      await assertReadable(b, 'killed', served(b));

      // And the worker starts again from what the readers saw, and stops cleanly once more.
      b.sim.api.createAlerts(2);
      const third = await startWorker(b);
      await waitFor('the alerts after the kill', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      third.worker.child.kill('SIGTERM');
      assert.equal((await third.worker.done).code, 0);
      await assertReadable(b, 'stopped by SIGTERM after a kill', served(b));
    });

    it('a reader that keeps its connection open across a clean stop and the next start goes on reading', async () => {
      const b = await bedWith({ initialAlerts: 40 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *' });
      await signedIn(b);
      assert.equal((await b.cli(['migrate'])).code, 0);
      readableByOthers(b);
      const first = await startWorker(b);
      await waitFor('the first pass', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
      const reader = heldReader(b.dbPath);
      try {
        assert.equal(await reader.count(), String(served(b)));
        first.worker.child.kill('SIGTERM');
        assert.equal((await first.worker.done).code, 0);
        // The held connection kept -wal and -shm: it and a new reader both still read.
        assert.equal(await reader.count(), String(served(b)), 'the held reader after SIGTERM');
        await assertReadable(b, 'stopped while a reader holds the file', served(b));
        b.sim.api.createAlerts(3);
        const second = await startWorker(b);
        await waitFor('the new alerts', () => count(b.dbPath, 'SELECT count(*) FROM alerts') === served(b));
        assert.equal(await reader.count(), String(served(b)), 'the held reader sees the next worker\'s alerts');
        second.worker.child.kill('SIGTERM');
        assert.equal((await second.worker.done).code, 0);
      } finally {
        await reader.close();
      }
      // The reader was the last to close, and could not tidy up: the files stay, and stay readable.
      await assertReadable(b, 'stopped, after the held reader let go', served(b));
    });
  });
}

describe('a reader in the middle of a transaction while no worker runs', () => {
  it('keeps the next writer from switching the file back to WAL mode: after 10 s exit 5 saying what to do, nothing changed', async () => {
    const b = await createTestBed({ initialAlerts: 10 });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const reader = new Database(b.dbPath, { readonly: true, fileMustExist: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM alerts').get();
    const blocked = await b.cli(['sync']);
    reader.exec('COMMIT');
    reader.close();
    assert.equal(blocked.code, 5, blocked.stderr);
    assert.match(blocked.stderr, /a reader has been inside one transaction for 10 s: while no worker runs the file is in rollback-journal mode, so that read-only users can open it, and it cannot be switched back to WAL mode until that transaction ends\); nothing was changed/);
    assert.doesNotMatch(blocked.stderr, /unexpected error|\n\s+at /);
    assert.equal(count(b.dbPath, 'SELECT count(*) FROM sync_runs'), 1, 'no run was started');
    assert.equal((await b.cli(['sync'])).code, 0);
  });
});
