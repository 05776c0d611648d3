// The token cache at rest: sealed with the operator's key, 0600, and clear errors when it cannot be opened.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createTestBed, signedIn, tokenCacheFile, waitFor, type TestBed } from './support/harness.js';

async function bed(settings: Record<string, string> = {}) {
  const b = await createTestBed({ initialAlerts: 5 }, settings);
  return b;
}
const cacheFile = (b: TestBed) => tokenCacheFile(b);

describe('token cache at rest', () => {
  it('is encrypted with the configured key, mode 0600, and holds no token in clear', async () => {
    const b = await bed();
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const file = cacheFile(b);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const contents = readFileSync(file, 'utf8');
    assert.equal(JSON.parse(contents).format, 'mde-alert-sync-token-cache');
    for (const secret of b.sim.identity.issuedSecrets()) assert.ok(!contents.includes(secret), 'a token is readable in the cache file');
    assert.ok(!contents.includes('analyst@contoso.example'), 'not even the account name is in clear');
    const status = await b.cli(['status']);
    assert.match(status.stdout, /account analyst@contoso\.example; refresh token held/);
  });

  it('a wrong key, a damaged file or a foreign file give a clear error without calling the identity provider', async () => {
    const b = await bed();
    await signedIn(b);
    const before = b.sim.identity.tokenRequests.length;
    const wrongKey = await b.cli(['sync'], { MDE_ALERT_SYNC_TOKEN_CACHE_KEY: 'another-key-of-enough-length' });
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /token cache .* is unreadable: it cannot be decrypted with the configured key \(wrong key, or the file was modified\)/);
    const sealed = JSON.parse(readFileSync(cacheFile(b), 'utf8'));
    sealed.data = Buffer.from('tampered').toString('base64');
    writeFileSync(cacheFile(b), JSON.stringify(sealed));
    assert.match((await b.cli(['sync'])).stderr, /cannot be decrypted with the configured key/);
    writeFileSync(cacheFile(b), 'this is not a token cache');
    const foreign = await b.cli(['sync']);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /is not a token cache this program wrote .*Run "mde-alert-sync logout", then "mde-alert-sync login"/);
    assert.doesNotMatch(foreign.stderr, /\n\s+at /);
    assert.equal(b.sim.identity.tokenRequests.length, before);
    assert.equal(b.sim.api.requests.length, 0);
    // logout clears it and login starts over.
    assert.equal((await b.cli(['logout'])).code, 0);
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
  });

  it('a damaged cache does not crash the worker: it stays up and unready', async () => {
    const b = await bed({ MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_HEALTH_PORT: '0' });
    await signedIn(b);
    writeFileSync(cacheFile(b), '{"broken": ');
    const worker = b.spawnCli(['run']);
    const url = await waitFor('the health endpoint', () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(worker.output().stdout)?.[1]);
    await waitFor('two failed passes', () => (worker.output().stdout.match(/not a token cache this program wrote/g) ?? []).length >= 2);
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    assert.equal(worker.child.exitCode, null);
    worker.child.kill('SIGTERM');
    assert.equal((await worker.done).code, 0);
  });

  it('needs a key unless plaintext is asked for, and then warns', async () => {
    const b = await bed();
    const noKey = await b.cli(['login'], { MDE_ALERT_SYNC_TOKEN_CACHE_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /MDE_ALERT_SYNC_TOKEN_CACHE_KEY: must hold at least 16 characters/);
    const env = { ...b.env };
    delete env.MDE_ALERT_SYNC_TOKEN_CACHE_KEY;
    const { runProcess, CLI } = await import('./support/harness.js');
    const missing = await runProcess(process.execPath, [CLI, 'login'], env, b.dir).done;
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /the token cache is encrypted at rest and needs a key/);
    const plaintext = await runProcess(process.execPath, [CLI, 'login'], { ...env, MDE_ALERT_SYNC_PLAINTEXT_TOKEN_CACHE: 'true' }, b.dir).done;
    assert.equal(plaintext.code, 0, plaintext.stderr);
    assert.match(plaintext.stderr, /stored UNENCRYPTED because plaintextTokenCache is true/);
    assert.ok(JSON.parse(readFileSync(cacheFile(b), 'utf8')).RefreshToken, 'plain MSAL cache, as asked');
  });

  it('refuses a plaintext cache when a key is configured (sync, status, the worker), and keeps plaintext working without a key', async () => {
    const b = await bed({ MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_HEALTH_PORT: '0' });
    const { runProcess, CLI } = await import('./support/harness.js');
    const plain: Record<string, string> = { ...b.env, MDE_ALERT_SYNC_PLAINTEXT_TOKEN_CACHE: 'true' };
    delete plain.MDE_ALERT_SYNC_TOKEN_CACHE_KEY;
    // A session kept in plaintext, as asked for, works without a key ...
    assert.equal((await runProcess(process.execPath, [CLI, 'login'], plain, b.dir).done).code, 0);
    const plaintextSync = await runProcess(process.execPath, [CLI, 'sync'], plain, b.dir).done;
    assert.equal(plaintextSync.code, 0, plaintextSync.stderr);
    // ... but once a key is configured, a plaintext file (an older setting, or anyone who can write it) is refused.
    const planted = readFileSync(cacheFile(b));
    const tokenRequests = b.sim.identity.tokenRequests.length;
    const apiRequests = b.sim.api.requests.length;
    const refused = /token cache .*token-cache\.json is not encrypted although a key is configured: .*Run "mde-alert-sync logout", then "mde-alert-sync login"/;
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 2, sync.stderr);
    assert.match(sync.stderr, refused);
    assert.doesNotMatch(sync.stderr, /\n\s+at /);
    const status = await b.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, refused);
    assert.doesNotMatch(status.stdout, /account analyst@contoso\.example/);
    const worker = b.spawnCli(['run']);
    const url = await waitFor('the health endpoint', () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(worker.output().stdout)?.[1]);
    await waitFor('two refused passes', () => (worker.output().stdout.match(/is not encrypted although a key is configured/g) ?? []).length >= 2);
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    assert.equal(worker.child.exitCode, null);
    worker.child.kill('SIGTERM');
    assert.equal((await worker.done).code, 0);
    assert.equal(b.sim.identity.tokenRequests.length, tokenRequests, 'the planted session was not used');
    assert.equal(b.sim.api.requests.length, apiRequests);
    assert.deepEqual(readFileSync(cacheFile(b)), planted, 'the file is left as it was, not re-sealed');
    // What the message says works.
    assert.equal((await b.cli(['logout'])).code, 0);
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    assert.equal(JSON.parse(readFileSync(cacheFile(b), 'utf8')).format, 'mde-alert-sync-token-cache');
  });

  it('reads the key from tokenCacheKeyFile', async () => {
    const b = await bed();
    const keyFile = path.join(b.dir, 'cache.key');
    writeFileSync(keyFile, 'a-key-file-with-enough-material\n', { mode: 0o600 });
    const env = { MDE_ALERT_SYNC_TOKEN_CACHE_KEY_FILE: keyFile };
    const { runProcess, CLI } = await import('./support/harness.js');
    const base: Record<string, string> = { ...b.env, ...env };
    delete base.MDE_ALERT_SYNC_TOKEN_CACHE_KEY;
    assert.equal((await runProcess(process.execPath, [CLI, 'login'], base, b.dir).done).code, 0);
    assert.equal((await runProcess(process.execPath, [CLI, 'sync'], base, b.dir).done).code, 0);
    assert.equal(JSON.parse(readFileSync(cacheFile(b), 'utf8')).format, 'mde-alert-sync-token-cache');
  });
});
