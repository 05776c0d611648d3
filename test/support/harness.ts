// What the integration tests share: a simulator over real HTTPS, the real CLI in a child process with a clean
// environment, a real SQLite file, and a record of everything the processes printed (scanned for secrets).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import type { SimAlert } from '../../src/simulator/alertFactory.js';
import { workerEnv } from './workerEnv.js';
import { DEFAULT_SERVICE_SOURCES } from '../../src/config/settings.js';
import { serviceSourceOf, toGraphAlert } from '../../src/simulator/graphAlert.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Everything any CLI process printed in this test file, for the secret scan. */
export const printed: string[] = [];
const secretSources: (() => string[])[] = [];

/** How many of the secrets the simulator or the tests issued appear in anything a process printed. */
export function leakedSecretCount(): number {
  const output = printed.join('\n');
  return secretSources.flatMap((secrets) => secrets()).filter((secret) => secret && output.includes(secret)).length;
}

// In every test file that uses this harness: no token, refresh token, password, client secret or cache key
// may appear in logs, messages or output. (Scripts outside the test runner, like the chaos run, call
// leakedSecretCount themselves.)
if (process.env.NODE_TEST_CONTEXT) {
  after(() => assert.equal(leakedSecretCount(), 0, 'secret(s) appeared in what the processes printed'));
}

/** Every test bed created in this process: a test file's beds are closed after it (scripts close their own). */
const openBeds: TestBed[] = [];
if (process.env.NODE_TEST_CONTEXT) {
  after(async () => {
    for (const bed of openBeds.splice(0)) await bed.close();
  });
}

export function tempDir(prefix = 'mde-test-'): string {
  const base = path.join(tmpdir(), 'mde-alert-sync-tests');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(path.join(base, prefix));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The two APIs the worker can read alerts from (setting `source`). */
export type AlertSource = 'defender' | 'graph';
export const SOURCES: readonly AlertSource[] = ['defender', 'graph'];

/** The settings that select a source, always explicit (with none set, a new database would get graph). */
export function sourceSettings(source: AlertSource): Record<string, string> {
  return { MDE_ALERT_SYNC_SOURCE: source };
}

/** Extra settings for one process; a key set to undefined is removed (e.g. to leave `source` unset). */
export type EnvSettings = Record<string, string | undefined>;

function withoutUnset(env: EnvSettings): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export interface TestBed {
  sim: Simulator;
  dir: string;
  dbPath: string;
  /** The source the bed's settings select (defender unless they say otherwise). */
  source: AlertSource;
  /** The field the cursor follows in that source's alerts. */
  updateField: 'lastUpdateTime' | 'lastUpdateDateTime';
  /** Whether the source, with the bed's serviceSourceFilter, serves this alert (Graph reads one service by default). */
  serves(alert: SimAlert, source?: AlertSource): boolean;
  env: Record<string, string>;
  cli(args: string[], extraEnv?: EnvSettings): Promise<CliResult>;
  spawnCli(args: string[], extraEnv?: EnvSettings): RunningProcess;
  close(): Promise<void>;
}

/** Settings for fast tests: short retry delays; everything else is the product's default. */
export const FAST_RETRIES = {
  MDE_ALERT_SYNC_RETRY_MIN_DELAY: '20ms',
  MDE_ALERT_SYNC_RETRY_MAX_DELAY: '100ms',
  MDE_ALERT_SYNC_REQUEST_TIMEOUT: '3s',
};

export interface RunningProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
}

export function runProcess(command: string, args: string[], env: Record<string, string>, cwd = REPO_ROOT): RunningProcess {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      printed.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Workers started by startWorker in this test file: killed after it if still running. */
const startedWorkers: RunningProcess[] = [];
if (process.env.NODE_TEST_CONTEXT) {
  after(() => {
    for (const p of startedWorkers.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
}

/** `run` with its health endpoints on a free port; resolves once they listen. */
export async function startWorker(b: TestBed, extraEnv: Record<string, string> = {}) {
  const worker = b.spawnCli(['run'], { MDE_ALERT_SYNC_HEALTH_PORT: '0', ...extraEnv });
  startedWorkers.push(worker);
  const url = await waitFor('the health endpoint', () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(worker.output().stdout)?.[1]);
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    return { status: response.status, text: await response.text() };
  };
  return { worker, url, get };
}

export async function createTestBed(options: SimulatorOptions = {}, settings: EnvSettings = {}): Promise<TestBed> {
  const sim = await startSimulator({ ...options, identity: { autoApproveAfterMs: 0, ...options.identity } });
  const dir = tempDir();
  const dbPath = path.join(dir, 'alerts.db');
  const env: Record<string, string> = withoutUnset({
    ...workerEnv(sim, sim.writeCaFile(path.join(dir, 'ca.pem')), dir, dbPath),
    MDE_ALERT_SYNC_LOG_LEVEL: 'info',
    // The tests written before Graph became the default for new databases mean the Defender API.
    ...sourceSettings('defender'),
    // And the tests written before incidents mean the alerts only (test/incidents.test.ts turns them on).
    MDE_ALERT_SYNC_INCIDENTS: 'false',
    ...FAST_RETRIES,
    ...settings,
  });
  secretSources.push(() => [...sim.identity.issuedSecrets(), env.MDE_ALERT_SYNC_TOKEN_CACHE_KEY!]);
  const spawnCli = (args: string[], extraEnv: EnvSettings = {}) => runProcess(process.execPath, [CLI, ...args], withoutUnset({ ...env, ...extraEnv }), dir);
  const source: AlertSource = env.MDE_ALERT_SYNC_SOURCE === 'graph' ? 'graph' : 'defender';
  const serviceSources = env.MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER?.split(',') ?? DEFAULT_SERVICE_SOURCES;
  let closed: Promise<void> | undefined;
  const bed: TestBed = {
    sim,
    dir,
    dbPath: env.MDE_ALERT_SYNC_DATABASE_PATH!,
    source,
    updateField: source === 'graph' ? 'lastUpdateDateTime' : 'lastUpdateTime',
    serves: (alert, as = source) => as === 'defender' || serviceSources.includes('all') || serviceSources.includes(serviceSourceOf(alert)),
    env,
    spawnCli,
    cli: (args, extraEnv) => spawnCli(args, extraEnv).done,
    close: () => (closed ??= sim.close()),
  };
  openBeds.push(bed);
  return bed;
}

/** createTestBed for one source: `const bed = bedsFor(source)`, then `await bed(options, settings)`. */
export function bedsFor(source: AlertSource): (options?: SimulatorOptions, settings?: EnvSettings) => Promise<TestBed> {
  return (options = {}, settings = {}) => createTestBed(options, { ...sourceSettings(source), ...settings });
}

export async function signedIn(bed: TestBed): Promise<void> {
  const result = await bed.cli(['login']);
  assert.equal(result.code, 0, `login failed: ${result.stderr}`);
}

export function openDb(dbPath: string): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true });
}

/**
 * The database holds exactly the alerts the bed's source serves (by default all the simulator has now), each
 * at its latest version, raw JSON as that API served it. Rows another source stored are not counted.
 */
export function assertStoreEqualsTruth(b: TestBed, truth: SimAlert[] = b.sim.api.truth(), source: AlertSource = b.source): void {
  const served = truth.filter((alert) => b.serves(alert, source));
  const present = (alert: SimAlert): unknown => (source === 'graph' ? toGraphAlert(alert) : alert);
  const db = openDb(b.dbPath);
  try {
    const rows = db.prepare('SELECT id, raw_json FROM alerts WHERE source = ?').all(source) as { id: string; raw_json: string }[];
    const stored = new Map(rows.map((row) => [row.id, JSON.parse(row.raw_json) as unknown]));
    const missing = served.filter((alert) => !stored.has(alert.id)).map((alert) => alert.id);
    assert.deepEqual(missing, [], `${missing.length} alerts missing from the store`);
    const stale = served.filter((alert) => !isDeepStrictEqual(stored.get(alert.id), present(alert))).map((alert) => alert.id);
    if (stale.length > 0) assert.deepEqual(stored.get(stale[0]!), present(served.find((alert) => alert.id === stale[0])!), `${stale.length} alerts stored at another version than the one served, the first:`);
    assert.equal(rows.length, served.length, `the store holds ${source} alerts the service does not serve`);
    assert.equal((db.pragma('integrity_check', { simple: true }) as string), 'ok');
  } finally {
    db.close();
  }
}

export function count(dbPath: string, sql: string, ...params: unknown[]): number {
  const db = openDb(dbPath);
  try {
    return Object.values(db.prepare(sql).get(...params) as Record<string, number>)[0]!;
  } finally {
    db.close();
  }
}

export function lastRun(dbPath: string): Record<string, unknown> {
  const db = openDb(dbPath);
  try {
    return db.prepare('SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1').get() as Record<string, unknown>;
  } finally {
    db.close();
  }
}

export function cursorOf(dbPath: string): string | undefined {
  const db = openDb(dbPath);
  try {
    return (db.prepare('SELECT position FROM sync_cursor').get() as { position: string } | undefined)?.position;
  } finally {
    db.close();
  }
}

/** Where the bed's token cache is by default: its own folder beside the database. */
export function tokenCacheFile(b: Pick<TestBed, 'dbPath'>): string {
  return path.join(path.dirname(b.dbPath), 'token-cache', 'token-cache.json');
}

/** The unprivileged user the tests act as when a second unix user is needed (the tests run as root). */
export const OTHER_UID = 65534;

/** `command` run as OTHER_UID with only the group `gid`: another user on the machine, e.g. a reader. */
export function runAsUser(gid: number, command: string, args: string[], env: Record<string, string>, cwd = '/'): RunningProcess {
  return runProcess('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${gid}`, '--clear-groups', command, ...args], env, cwd);
}
