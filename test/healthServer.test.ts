// The worker's health endpoints as a real process meets them: a port or host it cannot listen on is a
// configuration error that leaves no lease behind, and idle connections cannot starve the worker or the probes.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { CLI, count, createTestBed, openDb, runProcess, signedIn, waitFor, type TestBed } from './support/harness.js';

const NO_STACK = /\n\s+at /;
const cleanups: (() => void)[] = [];
after(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

async function occupiedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

async function assertLeaseFreed(b: TestBed): Promise<void> {
  assert.equal(count(b.dbPath, 'SELECT count(*) FROM worker_lease'), 0, 'the lease row is gone');
  const next = await b.cli(['sync']);
  assert.equal(next.code, 0, `another sync runs at once: ${next.stderr}`);
}

function unsuccessfulRuns(b: TestBed): unknown[] {
  const db = openDb(b.dbPath);
  try {
    return db.prepare("SELECT outcome, error FROM sync_runs WHERE outcome <> 'success'").all();
  } finally {
    db.close();
  }
}

describe('health endpoints', () => {
  it('a healthPort in use: exit 2 naming the setting, and the lease released', async () => {
    const b = await createTestBed({ initialAlerts: 5 });
    await signedIn(b);
    const port = await occupiedPort();
    const result = await b.cli(['run'], { MDE_ALERT_SYNC_HEALTH_PORT: String(port) });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`mde-alert-sync: healthPort ${port}: 127\\.0\\.0\\.1:${port} is already in use by another program \\(or another worker\\): choose another healthPort, or stop that program`));
    assert.doesNotMatch(result.stderr, /unexpected error|please report/i);
    assert.doesNotMatch(result.stderr + result.stdout, NO_STACK);
    await assertLeaseFreed(b);
  });

  for (const [host, message] of [
    ['no-such-host.invalid', /mde-alert-sync: healthHost no-such-host\.invalid does not resolve to an address \(ENOTFOUND\): set healthHost to an address of this machine, such as 127\.0\.0\.1 or 0\.0\.0\.0/],
    ['192.0.2.1', /mde-alert-sync: healthHost 192\.0\.2\.1 is not an address of this machine \(EADDRNOTAVAIL\): set healthHost to an address of this machine, such as 127\.0\.0\.1 or 0\.0\.0\.0/],
  ] as const) {
    it(`a healthHost it cannot listen on (${host}): exit 2 naming the setting, and the lease released`, async () => {
      const b = await createTestBed({ initialAlerts: 5 });
      await signedIn(b);
      const result = await b.cli(['run'], { MDE_ALERT_SYNC_HEALTH_PORT: '0', MDE_ALERT_SYNC_HEALTH_HOST: host });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /unexpected error|please report/i);
      await assertLeaseFreed(b);
    });
  }

  it('hundreds of idle connections neither starve the worker of descriptors nor keep /livez away for long', { timeout: 120_000 }, async () => {
    const b = await createTestBed({ initialAlerts: 20 }, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_HEALTH_PORT: '0' });
    await signedIn(b);
    // A descriptor limit the idle sockets alone would exhaust (a container's is often 1024; 400 sockets were reported).
    const worker = runProcess('prlimit', ['--nofile=256:256', process.execPath, CLI, 'run'], b.env, b.dir);
    cleanups.push(() => worker.child.kill('SIGKILL'));
    const url = new URL(await waitFor('the health endpoint', () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(worker.output().stdout)?.[1]));
    await waitFor('the first pass', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 1);

    const idle: Socket[] = [];
    for (let i = 0; i < 400; i += 1) {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => {}); // refused or reset beyond the cap: expected
      idle.push(socket);
    }
    cleanups.push(() => idle.forEach((socket) => socket.destroy()));
    await waitFor('the sockets to connect or be refused', () => idle.every((socket) => !socket.connecting));
    const passesBefore = count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'");
    await waitFor('three more passes while the idle sockets are open', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= passesBefore + 3, 60_000);
    assert.deepEqual(unsuccessfulRuns(b), [], 'every pass succeeded while the idle sockets were open');
    // The idle sockets are timed out, which frees their slots for the probes.
    await waitFor('/livez to answer', async () => (await fetch(`${url.origin}/livez`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)) === 200, 60_000);
    await waitFor('the idle sockets to be closed by the worker', () => idle.every((socket) => socket.destroyed || socket.readableEnded), 60_000);

    worker.child.kill('SIGTERM');
    const result = await worker.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(unsuccessfulRuns(b), [], 'every pass succeeded while the idle sockets were open');
    assert.doesNotMatch(result.stdout + result.stderr, /EMFILE/);
  });
});
