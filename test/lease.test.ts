// The writer lease: who may take it over, and when. Through the real CLI where a process decides about
// another (a lease row left by a dead or live holder); in-process on a real SQLite file for the heartbeat
// under a held write lock. The lease does not depend on the source, so these run once (for defender).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { AnotherWriterError, holdWriterLease } from '../src/daemon/lease.js';
import { holderGone, startTicksFromStat, type ProcessIdentity, type ProcessTable } from '../src/daemon/processIdentity.js';
import { AlertStore } from '../src/store/alertStore.js';
import { RUNNING_BUSY_TIMEOUT_MS, setBusyTimeout } from '../src/store/database.js';
import { assertStoreEqualsTruth, createTestBed, signedIn, tempDir, waitFor, type TestBed } from './support/harness.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const startTicksOf = (pid: number) => startTicksFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))!;

/** A live process that is not an mde-alert-sync writer. */
async function liveProcess(): Promise<number> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

interface LeaseRow {
  host?: string;
  pid: number;
  bootId?: string | null;
  startTicks?: number | null;
  heartbeatAgoMs?: number;
}

/** A database whose lease row names someone else, as a writer that stopped without releasing it leaves it. */
async function bedWithLease(row: LeaseRow): Promise<TestBed> {
  const b = await createTestBed({ initialAlerts: 12 });
  await signedIn(b);
  assert.equal((await b.cli(['migrate'])).code, 0);
  const db = new Database(b.dbPath);
  try {
    const heartbeat = new Date(Date.now() - (row.heartbeatAgoMs ?? 0)).toISOString();
    db.prepare(
      `INSERT INTO worker_lease (id, owner, host, pid, boot_id, start_ticks, command, acquired_at, heartbeat_at)
       VALUES (1, 'an-earlier-writer', ?, ?, ?, ?, 'run', ?, ?)`,
    ).run(row.host ?? hostname(), row.pid, row.bootId === undefined ? BOOT_ID : row.bootId, row.startTicks ?? null, heartbeat, heartbeat);
  } finally {
    db.close();
  }
  return b;
}

describe('writer lease (CLI)', () => {
  it('a lease whose PID now belongs to another process (a reused PID, a restarted container) is taken over at once', async () => {
    const pid = await liveProcess();
    const b = await bedWithLease({ pid, startTicks: startTicksOf(pid) - 1 });
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stderr, /"msg":"took over the writer lease"/);
    assert.match(sync.stderr, new RegExp(`its process ID ${pid} now belongs to another process`));
    assertStoreEqualsTruth(b);
  });

  it('a lease left before this host restarted (another boot id) is taken over at once', async () => {
    const b = await bedWithLease({ pid: await liveProcess(), bootId: '00000000-0000-4000-8000-000000000000', startTicks: 1 });
    const sync = await b.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stderr, /this host has restarted since/);
  });

  it('a lease whose holder is alive on this host is refused with exit 6, also one written without boot id and start time', async () => {
    const pid = await liveProcess();
    for (const row of [{ pid, startTicks: startTicksOf(pid) }, { pid, bootId: null, startTicks: null }]) {
      const b = await bedWithLease(row);
      const sync = await b.cli(['sync']);
      assert.equal(sync.code, 6, sync.stderr);
      assert.match(sync.stderr, new RegExp(`Another mde-alert-sync run \\(pid ${pid} on ${hostname()}, since .*\\) is writing to .*alerts\\.db; only one writer may run`));
    }
  });

  it('a lease held from another host is refused until 60 s after its last heartbeat, then taken over', async () => {
    const recent = await bedWithLease({ host: 'another-host', pid: process.pid, heartbeatAgoMs: 30_000 });
    const refused = await recent.cli(['sync']);
    assert.equal(refused.code, 6, refused.stderr);
    const expiresIn = Number(/pid \d+ on another-host.*its lease expires (\d+) s after its last heartbeat/.exec(refused.stderr)?.[1]);
    assert.ok(expiresIn > 0 && expiresIn <= 30, refused.stderr);

    const expired = await bedWithLease({ host: 'another-host', pid: process.pid, heartbeatAgoMs: 61_000 });
    const sync = await expired.cli(['sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stderr, /on another-host.*no heartbeat for 6\d s/);
  });
});

describe('lease identity', () => {
  it('reads the start time from /proc/<pid>/stat even when the command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    assert.equal(startTicksFromStat(`1234 (a) (b c)) ${fields.join(' ')}\n`), 22);
    assert.equal(startTicksFromStat(readFileSync('/proc/self/stat', 'utf8')), startTicksOf(process.pid));
    assert.equal(startTicksFromStat('garbage'), null);
  });

  it('judges only holders on this host, and without boot id or start time falls back to the PID alone', () => {
    const self: ProcessIdentity = { host: 'h', pid: 1, bootId: 'boot', startTicks: 500 };
    const table = (alive: Record<number, number>): ProcessTable => ({ exists: (pid) => pid in alive, startTicks: (pid) => alive[pid] ?? null });
    const processes = table({ 1: 500, 42: 900 });
    const holder = (over: Partial<ProcessIdentity>): ProcessIdentity => ({ host: 'h', pid: 42, bootId: 'boot', startTicks: 900, ...over });
    assert.equal(holderGone(holder({}), self, processes), undefined, 'alive: same PID, same start time');
    assert.match(holderGone(holder({ startTicks: 899 }), self, processes)!, /now belongs to another process/);
    assert.match(holderGone(holder({ pid: 1, startTicks: 100 }), self, processes)!, /is now this process \(a restarted container\)/);
    assert.match(holderGone(holder({ pid: 7 }), self, processes)!, /no longer exists/);
    assert.match(holderGone(holder({ bootId: 'earlier' }), self, processes)!, /restarted since/);
    assert.equal(holderGone(holder({ host: 'elsewhere', pid: 7 }), self, processes), undefined, 'another host: only the heartbeat tells');
    assert.equal(holderGone(holder({ bootId: null, startTicks: null, pid: 1 }), self, processes), undefined, 'an old lease: a live PID counts');
    assert.equal(holderGone(holder({ startTicks: 899 }), { ...self, bootId: null, startTicks: null }, processes), undefined, 'no /proc here (macOS): a live PID counts');
  });
});

/** A real store with a lease held by this process, a 1 s lease timeout (a heartbeat every 250 ms) and its log. */
function heldLease() {
  const store = AlertStore.open(path.join(tempDir('lease-'), 'alerts.db'));
  setBusyTimeout(store.db, RUNNING_BUSY_TIMEOUT_MS);
  const lines: { msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const lost: Error[] = [];
  const lease = holdWriterLease(store, 'run', logger, (error) => lost.push(error), 1000);
  const logged = (pattern: RegExp) => lines.some((line) => pattern.test(line.msg));
  const heartbeatAt = () => (store.db.prepare('SELECT heartbeat_at FROM worker_lease').get() as { heartbeat_at: string } | undefined)?.heartbeat_at;
  const other = new Database(store.file);
  return { store, lease, lost, logged, heartbeatAt, other, close: () => (lease.release(), other.close(), store.close()) };
}

describe('lease heartbeat under a held write lock', () => {
  it('is retried, not taken for a lost lease, and written again once the lock is released', async () => {
    const held = heldLease();
    try {
      held.other.prepare('BEGIN IMMEDIATE').run();
      const before = held.heartbeatAt()!;
      await waitFor('a heartbeat that met the lock', () => held.logged(/the lease heartbeat could not be written: retrying/));
      assert.deepEqual(held.lost, []);
      held.other.prepare('ROLLBACK').run();
      await waitFor('the heartbeat written again', () => held.logged(/the lease heartbeat is written again/) && held.heartbeatAt()! > before);
      assert.deepEqual(held.lost, []);
    } finally {
      held.close();
    }
  });

  it('unwritten for longer than the lease timeout: warns, and if another writer took over meanwhile, the next heartbeat written says the lease is lost', async () => {
    const held = heldLease();
    try {
      // Another writer takes the lease over inside the transaction that keeps this one from writing.
      held.other.prepare('BEGIN IMMEDIATE').run();
      held.other.prepare("UPDATE worker_lease SET owner = 'another-writer'").run();
      await waitFor('the lease timeout warning', () => held.logged(/no lease heartbeat written for longer than the lease timeout/));
      assert.deepEqual(held.lost, [], 'not lost while it cannot tell');
      held.other.prepare('COMMIT').run();
      const [lost] = await waitFor('the lease lost', () => held.lost.length > 0 && held.lost);
      assert.ok(lost instanceof AnotherWriterError, String(lost));
      assert.equal(lost.exitCode, 6);
    } finally {
      held.close();
    }
  });
});
