// The reader model: the database in a 0750 folder its group may read (the file, its -wal and -shm 0640),
// the token cache 0600 in a 0700 folder of its own; a cache an older version left beside the database is
// moved there, never lost, never widened; login finds a folder it cannot write before any device code.
// Another unix user is simulated with setpriv (the tests run as root).
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  bedsFor,
  CLI,
  count,
  lastRun,
  OTHER_UID,
  runAsUser,
  signedIn,
  SOURCES,
  startWorker,
  tempDir,
  tokenCacheFile,
  waitFor,
  type TestBed,
} from './support/harness.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;
const octal = (mode: number) => mode.toString(8);

/** A bed whose database is in `data/` of a folder another user may pass through (the harness makes it 0700). */
async function bedWithDataFolder(source: (typeof SOURCES)[number], settings: Record<string, string> = {}): Promise<TestBed> {
  const dir = tempDir('mde-readers-');
  chmodSync(dir, 0o711);
  const b = await bedsFor(source)({ initialAlerts: 30 }, { MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'data', 'alerts.db'), ...settings });
  chmodSync(b.dir, 0o711);
  return b;
}

/** The sqlite3 shell as OTHER_UID in group `gid`, opening the database read-only. */
function sqliteAs(gid: number, dbPath: string, sql: string) {
  return runAsUser(gid, 'sqlite3', ['-readonly', '-batch', dbPath, `.timeout 5000`, sql], { PATH: process.env.PATH ?? '/usr/bin:/bin' }).done;
}

/** The umask of the old unit (UMask=0077): the modes must not depend on it. */
function withUmask<T>(mask: number, action: () => Promise<T>): Promise<T> {
  const before = process.umask(mask);
  return action().finally(() => process.umask(before));
}

for (const source of SOURCES) {
  describe(`reader model (${source})`, () => {
    it('creates the database folder 0750, the database, -wal and -shm 0640 and the token cache 0600 in a 0700 folder, whatever the umask; its group reads, others do not', async () => {
      await withUmask(0o077, async () => {
        const b = await bedWithDataFolder(source);
        await signedIn(b);
        const dataDir = path.dirname(b.dbPath);
        const cache = tokenCacheFile(b);
        assert.equal(octal(modeOf(dataDir)), '750', 'login creates the database folder for readers');
        assert.equal(octal(modeOf(path.dirname(cache))), '700');
        assert.equal(octal(modeOf(cache)), '600');
        const { worker } = await startWorker(b);
        await waitFor('a first pass', () => existsSync(b.dbPath) && lastRun(b.dbPath)?.outcome === 'success');
        for (const file of [b.dbPath, `${b.dbPath}-wal`, `${b.dbPath}-shm`]) assert.equal(octal(modeOf(file)), '640', file);
        const alerts = count(b.dbPath, 'SELECT count(*) FROM alerts');
        assert.ok(alerts > 0);
        const group = statSync(b.dbPath).gid;
        // A member of the database's group reads it while the worker runs, without write access anywhere.
        const reader = await sqliteAs(group, b.dbPath, 'SELECT count(*) FROM alerts;');
        assert.equal(reader.code, 0, reader.stderr);
        assert.equal(Number(reader.stdout.trim()), alerts);
        // Anyone else reads neither the database nor the token cache folder.
        const stranger = await sqliteAs(OTHER_UID, b.dbPath, 'SELECT count(*) FROM alerts;');
        assert.notEqual(stranger.code, 0);
        const listing = await runAsUser(group, 'ls', [path.dirname(cache)], { PATH: process.env.PATH ?? '' }).done;
        assert.notEqual(listing.code, 0, 'a reader of the database must not enter the token cache folder');
        worker.child.kill('SIGTERM');
        assert.equal((await worker.done).code, 0);
      });
    });
  });
}

describe('reader model: an install from before it', () => {
  it('keeps using a token cache found beside the database: status reads it there, the next sync moves it (0600, into a 0700 folder) without a new sign-in, logout removes both', async () => {
    const b = await bedWithDataFolder('graph');
    const legacy = path.join(path.dirname(b.dbPath), 'token-cache.json');
    // The layout of an older version: the cache beside the database.
    assert.equal((await b.cli(['login'], { MDE_ALERT_SYNC_TOKEN_CACHE_PATH: legacy })).code, 0);
    chmodSync(legacy, 0o640);
    const deviceCodes = b.sim.identity.deviceCodes.size;
    const status = await b.cli(['status']);
    assert.match(status.stdout, /account analyst@contoso\.example; refresh token held/);
    assert.ok(existsSync(legacy), 'status reads, it moves nothing');
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    const moved = tokenCacheFile(b);
    assert.equal(existsSync(legacy), false);
    assert.equal(octal(modeOf(moved)), '600', 'narrowed from 0640, never widened');
    assert.equal(octal(modeOf(path.dirname(moved))), '700');
    assert.equal(b.sim.identity.deviceCodes.size, deviceCodes, 'no new sign-in');
    assert.match(sync.stderr, /moved the token cache into its own folder/);
    // Both present (an older copy put back): the one in the folder is used, and logout removes both.
    assert.equal((await b.cli(['login'], { MDE_ALERT_SYNC_TOKEN_CACHE_PATH: legacy })).code, 0);
    assert.equal((await b.cli(['logout'])).code, 0);
    assert.equal(existsSync(legacy) || existsSync(moved), false, 'a cache left behind would sign the worker in again');
    assert.equal((await b.cli(['sync'])).code, 3);
  });
});

describe('login and the file system', () => {
  it('a database or token cache folder that cannot be created or written stops login with exit 7 before any device code is requested', async () => {
    const b = await bedWithDataFolder('graph');
    // A root-owned folder the service user may enter but not write, like /var/lib before the unit ever started.
    const locked = path.join(b.dir, 'var-lib');
    mkdirSync(locked, { mode: 0o755 });
    chmodSync(locked, 0o755);
    chmodSync(path.join(b.dir, 'ca.pem'), 0o644);
    const env = { ...b.env, MDE_ALERT_SYNC_DATABASE_PATH: path.join(locked, 'mde-alert-sync', 'alerts.db') };
    const asService = (extra: Record<string, string> = {}) => runAsUser(OTHER_UID, process.execPath, [CLI, 'login'], { ...env, ...extra }, b.dir).done;
    const noFolder = await asService();
    assert.equal(noFolder.code, 7, noFolder.stderr);
    assert.match(noFolder.stderr, /Cannot create the database folder .*var-lib\/mde-alert-sync \(EACCES\)\. Create it for the user this command runs as \(e\.g\. sudo install -d -m 0750 -o <user> /);
    assert.doesNotMatch(noFolder.stderr, /unexpected error|sign in again|\n\s+at /);
    // The database folder exists (as the README's install step makes it), the cache folder cannot be made.
    const serviceFolder = path.join(b.dir, 'state');
    mkdirSync(serviceFolder, { mode: 0o750 });
    chownSync(serviceFolder, OTHER_UID, OTHER_UID);
    const cacheIn = path.join(locked, 'cache', 'token-cache.json');
    const noCacheFolder = await asService({ MDE_ALERT_SYNC_TOKEN_CACHE_PATH: cacheIn, MDE_ALERT_SYNC_DATABASE_PATH: path.join(serviceFolder, 'alerts.db') });
    assert.equal(noCacheFolder.code, 7, noCacheFolder.stderr);
    assert.match(noCacheFolder.stderr, /Cannot create the token cache folder .*var-lib\/cache \(EACCES\)/);
    assert.equal(b.sim.identity.deviceCodes.size, 0, 'no device code may be requested before the folders are known to be usable');
  });
});
