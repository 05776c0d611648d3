// The command line as an operator meets it: help, status, migrate, demo, and data that is not an alert.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadMigrations } from '../src/store/migrate.js';
import { CLI, count, createTestBed, openDb, runProcess, signedIn, tempDir, tokenCacheFile, waitFor, type TestBed } from './support/harness.js';

const env = { PATH: process.env.PATH ?? '' };
const LATEST = loadMigrations().at(-1)!.version;

/** Every file in `dir` (and its folders, such as the token cache's) and its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  return new Map(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
      .sort()
      .map((name) => [name, readFileSync(path.join(dir, name))]),
  );
}

/** The demo with `--dir dir` (absolute: the working directory does not matter). */
function demo(dir: string, ...args: string[]) {
  return runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1', '--alerts', '20', ...args], env, tmpdir()).done;
}

/** A directory where a real worker synced: its database and token cache. */
async function realDataDirectory() {
  const bed = await createTestBed({ initialAlerts: 5 });
  await signedIn(bed);
  assert.equal((await bed.cli(['sync'])).code, 0);
  assert.ok(existsSync(bed.dbPath) && existsSync(tokenCacheFile(bed)));
  return bed;
}

describe('command line', () => {
  it('has --help on every command and exits 2 on usage errors', async () => {
    for (const command of ['login', 'logout', 'sync', 'token', 'run', 'status', 'resync', 'migrate', 'demo', 'simulator']) {
      const result = await runProcess(process.execPath, [CLI, command, '--help'], env).done;
      assert.equal(result.code, 0, command);
      assert.match(result.stdout, new RegExp(`Usage: mde-alert-sync ${command}`));
    }
    const unknown = await runProcess(process.execPath, [CLI, 'frobnicate'], env).done;
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  it('demo signs in through the device code flow, runs the worker while alerts change, and stops on Ctrl-C with a summary', async () => {
    const dir = tempDir('demo-');
    const demo = runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1'], env, dir);
    await waitFor('three passes', () => /Pass 3 \(incremental\)/.test(demo.output().stdout));
    demo.child.kill('SIGINT');
    const result = await demo.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /enter the code \w+ to authenticate/);
    assert.match(result.stdout, /Press Ctrl-C to stop/);
    assert.match(result.stdout, /Pass 1 \(first sync, reads back 30 days\): \d{3} new/);
    assert.match(result.stdout, /Pass 2 \(incremental\): \d+ new, \d+ updated/);
    const dbPath = path.join(dir, 'alerts.db');
    assert.match(result.stdout, new RegExp(`Database file: ${dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    // The demo reads Microsoft Graph, whose default serviceSourceFilter keeps Defender for Endpoint's alerts:
    // most of the 300 (the simulated tenant has alerts of other services too), all from Graph.
    assert.ok(count(dbPath, 'SELECT count(*) FROM alerts') >= 200);
    assert.equal(count(dbPath, "SELECT count(*) FROM alerts WHERE source <> 'graph'"), 0, 'the demo syncs Microsoft Graph');
    assert.ok(count(dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'updated'") > 0, 'changes made while the worker ran were recorded');
  });

  it('demo --passes stops by itself', async () => {
    const dir = tempDir('demo-');
    const result = await runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1', '--passes', '2', '--alerts', '50'], env, dir).done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Pass 2 \(incremental\)/);
    assert.doesNotMatch(result.stdout, /Pass 3/);
  });

  it('demo refuses a directory it did not create and leaves the real database and token cache byte-identical', async () => {
    const bed = await realDataDirectory();
    const before = snapshot(bed.dir);
    const result = await demo(bed.dir, '--passes', '1');
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, /demo directory .* was not created by the demo \(it has no \.mde-alert-sync-demo marker\)/);
    assert.match(result.stderr, /pick another --dir/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.deepEqual(snapshot(bed.dir), before, 'nothing in the directory changed, nothing was added');
    assert.equal((await bed.cli(['sync'])).code, 0, 'the real worker still opens its session');
    // Any other non-empty directory too: the demo creates its own, or takes an empty one.
    const other = tempDir('not-demo-');
    writeFileSync(path.join(other, 'notes.txt'), 'mine');
    assert.equal((await demo(other, '--passes', '1')).code, 2);
    assert.deepEqual([...snapshot(other).keys()], ['notes.txt']);
  });

  it('demo reuses only its own directory, labels its first pass by the cursor it found, and never opens a database or token cache it did not make', async () => {
    const dir = path.join(tempDir('demo-'), 'new', 'demo');
    const first = await demo(dir, '--passes', '1');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Pass 1 \(first sync, reads back 30 days\)/);
    assert.ok(existsSync(path.join(dir, '.mde-alert-sync-demo')), 'the demo marks the directory it created');
    const again = await demo(dir, '--passes', '1');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Pass 1 \(incremental\)/, 'a cursor was there: not a first sync');
    assert.doesNotMatch(again.stdout, /first sync/);

    // Someone later puts a real database, then a real token cache, into the demo's directory.
    const real = await realDataDirectory();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(dir, `alerts.db${suffix}`), { force: true });
    copyFileSync(real.dbPath, path.join(dir, 'alerts.db'));
    let before = snapshot(dir);
    const foreignDb = await demo(dir, '--passes', '1');
    assert.equal(foreignDb.code, 2, foreignDb.stdout);
    assert.match(foreignDb.stderr, /alerts\.db is not a database the demo created/);
    assert.deepEqual(snapshot(dir), before);
    rmSync(path.join(dir, 'alerts.db'));
    copyFileSync(tokenCacheFile(real), path.join(dir, 'token-cache.json'));
    before = snapshot(dir);
    const foreignCache = await demo(dir, '--passes', '1');
    assert.equal(foreignCache.code, 2, foreignCache.stdout);
    assert.match(foreignCache.stderr, /token-cache\.json is not a token cache the demo wrote/);
    assert.deepEqual(snapshot(dir), before);
    // A link in its place (to where a real setup's database would go) is not followed.
    rmSync(path.join(dir, 'token-cache.json'));
    const elsewhere = path.join(tempDir('real-'), 'alerts.db');
    symlinkSync(elsewhere, path.join(dir, 'alerts.db'));
    const linked = await demo(dir, '--passes', '1');
    assert.equal(linked.code, 2, linked.stdout);
    assert.match(linked.stderr, /alerts\.db is a symbolic link/);
    assert.equal(existsSync(elsewhere), false);
  });

  it('migrate creates the schema, status reports runs, cursor, counts and the session without secrets', async () => {
    const bed = await createTestBed({ initialAlerts: 40 });
    const migrated = await bed.cli(['migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /Applied 001_initial\.sql, 002_worker_lease\.sql, 003_reporting_indexes\.sql/);
    assert.match((await bed.cli(['migrate'])).stdout, new RegExp(`is up to date \\(schema version ${LATEST}\\)`));
    await signedIn(bed);
    assert.equal((await bed.cli(['sync'])).code, 0);
    const status = await bed.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /40 alerts/);
    assert.match(status.stdout, /cursor defender:alerts: \d{4}-\d\d-\d\dT/);
    assert.match(status.stdout, /#1 .* success .*40 new/);
    assert.match(status.stdout, /account analyst@contoso\.example; refresh token held/);
    assert.match(status.stdout, /access token expires \d{4}-/);
    const json = JSON.parse((await bed.cli(['status', '--json'])).stdout) as { store: { alerts: number }; token: { account: string } };
    assert.equal(json.store.alerts, 40);
    assert.equal(json.token.account, 'analyst@contoso.example');
  });

  it('keeps items that are not alerts in rejected_alerts and stores the rest', async () => {
    const bed = await createTestBed({ initialAlerts: 10 });
    await signedIn(bed);
    bed.sim.api.faults.push({ kind: 'extraItems', items: [{ title: 'no id here', lastUpdateTime: '2026-01-01T00:00:00Z' }, 42, { id: 'x1', lastUpdateTime: 'soon' }] });
    const result = await bed.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /10 new, 0 updated, 0 unchanged, 3 rejected \(kept in rejected_alerts\)/);
    const db = openDb(bed.dbPath);
    assert.equal((db.prepare('SELECT count(*) AS n FROM rejected_alerts').get() as { n: number }).n, 3);
    db.close();
  });

  it('refuses a database newer than the code with exit 5 and leaves it unchanged', async () => {
    const bed = await createTestBed({ initialAlerts: 5 });
    assert.equal((await bed.cli(['migrate'])).code, 0);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(bed.dbPath);
    db.prepare("INSERT INTO schema_migrations VALUES (?, 'future.sql', 'later')").run(LATEST + 1);
    db.close();
    await signedIn(bed);
    const result = await bed.cli(['sync']);
    assert.equal(result.code, 5);
    assert.match(result.stderr, new RegExp(`schema version ${LATEST + 1}, newer than this mde-alert-sync knows \\(${LATEST}\\)\\. Upgrade mde-alert-sync; the database was not changed`));
    assert.equal(bed.sim.api.requests.length, 0);
  });
});

const NOBODY = '65534';
const NO_STACK = /\n\s+at /;

/** `status` as a user who may only read the bed's directory and database (nobody; the tests run as root). */
function statusAsReader(bed: TestBed) {
  chmodSync(bed.dir, 0o755);
  chmodSync(bed.dbPath, 0o644);
  return runProcess('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, 'status'], bed.env, bed.dir).done;
}

describe('status on a database it cannot read as usual', () => {
  it('a file that is not SQLite, a truncated and a damaged database: exit 5 with what to do, never "please report it"', async () => {
    const bed = await createTestBed({ initialAlerts: 300 });
    await signedIn(bed);
    assert.equal((await bed.cli(['sync'])).code, 0);
    const good = readFileSync(bed.dbPath);
    const damaged = Buffer.from(good);
    damaged.fill(0x5a, 4096, good.length); // every page after the first overwritten
    for (const [name, write, message] of [
      ['not SQLite', () => writeFileSync(bed.dbPath, 'alerts,exported,as,csv\n1,2,3,4\n'), /the file is not a SQLite database: point databasePath elsewhere/],
      ['truncated', () => truncateSync(bed.dbPath, 8192), /the file is damaged: restore it from a backup or start a new one/],
      ['damaged', () => writeFileSync(bed.dbPath, damaged), /the file is damaged: restore it from a backup or start a new one/],
    ] as const) {
      writeFileSync(bed.dbPath, good);
      write();
      const status = await bed.cli(['status']);
      assert.equal(status.code, 5, `${name}: ${status.stderr}`);
      assert.match(status.stderr, new RegExp(`mde-alert-sync: Database ${bed.dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `), name);
      assert.match(status.stderr, message, name);
      assert.doesNotMatch(status.stderr, /unexpected error|please report/i, name);
      assert.doesNotMatch(status.stderr, NO_STACK, name);
    }
  });

  it('a user who may only read: status works after a sync and while the worker runs; with walCheckpoints external and nothing running, exit 5 saying what SQLite needs', async () => {
    const bed = await createTestBed({ initialAlerts: 30 });
    await signedIn(bed);
    assert.equal((await bed.cli(['sync'])).code, 0);
    const stopped = await statusAsReader(bed);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /30 alerts/);

    // Left to Litestream, the file stays in WAL mode, and SQLite deletes -wal and -shm at the last close.
    assert.equal((await bed.cli(['sync'], { MDE_ALERT_SYNC_WAL_CHECKPOINTS: 'external' })).code, 0);
    const alone = await statusAsReader(bed);
    assert.equal(alone.code, 5, alone.stderr);
    assert.match(alone.stderr, /mde-alert-sync: Database .*alerts\.db: this user may read it but not create .*alerts\.db-shm in .* which SQLite needs to read a WAL database that no process has open \(walCheckpoints: external leaves it in WAL mode for Litestream\)\. Run status while the worker or Litestream runs, as the worker's user, or with write access to that directory/);
    assert.doesNotMatch(alone.stderr, /unexpected error|please report|attempt to write/i);

    const worker = bed.spawnCli(['run'], { MDE_ALERT_SYNC_SCHEDULE: '0 0 1 1 *' });
    await waitFor('the first pass', () => /sync pass finished/.test(worker.output().stdout));
    const beside = await statusAsReader(bed);
    worker.child.kill('SIGTERM');
    assert.equal((await worker.done).code, 0);
    assert.equal(beside.code, 0, beside.stderr);
    assert.match(beside.stdout, /30 alerts/);
    assert.match(beside.stdout, /#\d+ .* success/);
  });
});
