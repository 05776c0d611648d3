// `npm run bench`: the backfill and steady-state costs of the real worker process against the simulator on
// loopback (realistic alerts: 180 days, evidence expanded, about 3 KB each), with the floors it is compared
// with, the reporting views over the largest database, and scaling in N. Options:
//   --alerts N        the main backfill (default 100000)
//   --scaling LIST    backfill sizes for the scaling table (default 10000,100000,1000000)
//   --page-size N     pageSize (default 10000)
//   --node-options=S  the worker's NODE_OPTIONS (default none)
//   --plain-malloc    without the glibc malloc tuning the container image sets (by default the worker runs with it)
//   --requests-only   only the request figures (backfills by density profile, both sources, both server orders)
//   --request-alerts N  the size of those backfills (default 7646)
//   --incidents N     the incidents the incident views are timed over (default 100000)
//   --incidents-backfill N  the incidents of the incident backfill (source graph; default 100000)
//   --cli FILE        the worker to measure (default dist/cli.js), e.g. another checkout's, for a before/after
// Figures recorded with the machine they were taken on: docs/performance.md.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { FloorFigures, FloorJob } from './floors.js';
import { measureProcess, type ProcessUsage } from './processUsage.js';
import type { DensityProfile, SimulatorCommand } from './simulatorProcess.js';
import type { OrderByHandling } from '../src/simulator/alertsApi.js';
import { workerEnv } from '../test/support/workerEnv.js';
import { incidentViewFigures } from './incidentViews.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI_DEFAULT = path.join(ROOT, 'dist', 'cli.js');
// Each reporting view as it is read: the aggregate ones whole; the row-level ones of migration 008 as the
// dashboard reads them (newest 100 rows, or a 30-day range), since reading them whole is bound by the rows.
const VIEWS: { view: string; sql: string }[] = [
  ...['open_alerts_by_severity', 'alerts_per_day', 'alert_time_to_resolve', 'time_to_resolve_by_severity', 'alerts_per_day_series', 'sync_cursor_age', 'new_high_severity_alerts']
    .map((view) => ({ view, sql: `SELECT * FROM ${view}` })),
  { view: 'alert_time_to_resolve_series (30 days)', sql: "SELECT * FROM alert_time_to_resolve_series WHERE resolved_epoch >= CAST(strftime('%s', 'now', '-30 days') AS INTEGER)" },
  { view: 'recent_alert_changes (newest 100)', sql: 'SELECT * FROM recent_alert_changes LIMIT 100' },
  { view: 'sync_run_history (newest 100)', sql: 'SELECT * FROM sync_run_history LIMIT 100' },
];

// The worker runs with the malloc tuning of the container image (MALLOC_* in its ENV), as deployed.
const IMAGE_MALLOC_ENV = Object.fromEntries([...readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').matchAll(/\b(MALLOC_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
const { values } = parseArgs({ options: { cli: { type: 'string', default: CLI_DEFAULT }, 'requests-only': { type: 'boolean', default: false }, 'request-alerts': { type: 'string', default: '7646' }, alerts: { type: 'string', default: '100000' }, scaling: { type: 'string', default: '10000,100000,1000000' }, 'page-size': { type: 'string', default: '10000' }, 'node-options': { type: 'string', default: '' }, 'plain-malloc': { type: 'boolean', default: false }, incidents: { type: 'string', default: '100000' }, 'incidents-backfill': { type: 'string', default: '100000' } } });
// Another build's dist/cli.js (--cli), to measure a change against what it replaces.
const CLI = path.resolve(values.cli!);
const mainN = Number(values.alerts);
const scalingNs = values.scaling!.split(',').filter(Boolean).map(Number);
const pageSize = Number(values['page-size']);
const workerNodeOptions = values['node-options']!;
const workerMallocEnv: Record<string, string> = values['plain-malloc'] ? {} : IMAGE_MALLOC_ENV;

interface SimRequest { filter: string | null; top: number | null; skip: number; expand: boolean; status: number; returned: number }

class SimulatorProcess {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, (reply: { result?: unknown; error?: string }) => void>();
  constructor(heapMb: number) {
    this.child = fork(path.join(ROOT, 'bench/simulatorProcess.ts'), [], { execArgv: ['--import', 'tsx', `--max-old-space-size=${heapMb}`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: { id: number; result?: unknown; error?: string }) => this.pending.get(reply.id)?.(reply));
    // A simulator that dies (out of memory, say) fails the benchmark instead of leaving it waiting.
    this.child.on('exit', (code, signal) => {
      for (const settle of this.pending.values()) settle({ error: `the simulator process ended (exit ${code ?? signal})` });
      this.pending.clear();
    });
  }
  call<T>(message: SimulatorCommand): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        this.pending.delete(id);
        if (reply.error) reject(new Error(reply.error));
        else resolve(reply.result as T);
      });
      this.child.send({ ...message, id });
    });
  }
}

interface Tenant {
  sim: SimulatorProcess;
  dir: string;
  dbPath: string;
  env: Record<string, string>;
  apiBaseUrl: string;
  caFile: string;
}

interface TenantOptions {
  profile?: DensityProfile;
  orderBy?: OrderByHandling;
  graphServerPageSize?: number;
  /** Incidents in the tenant, one alert each (their quota lifted); the permission to read them granted. */
  incidents?: number;
  /** Settings of the worker beyond the bench's own (source, pageSize). */
  settings?: Record<string, string>;
}

async function startTenant(alerts: number, options: TenantOptions = {}): Promise<Tenant> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mde-bench-'));
  // About 5.5 KB of simulator heap per alert with 180 days of history (1,000,000 did not fit in 5.4 GB),
  // plus room to serve pages.
  const sim = new SimulatorProcess(Math.max(2048, Math.ceil((alerts * 9) / 1024) + 1024));
  const { settings, ...simulatorOptions } = options;
  const info = await sim.call<{ tenantId: string; clientId: string; authorityUrl: string; apiBaseUrl: string; caFile: string }>({ command: 'start', alerts, dir, ...simulatorOptions });
  const dbPath = path.join(dir, 'alerts.db');
  const env = {
    ...workerEnv(info, info.caFile, dir, dbPath),
    MDE_ALERT_SYNC_TOKEN_CACHE_PATH: path.join(dir, 'token-cache.json'),
    MDE_ALERT_SYNC_SOURCE: 'defender', // the figures in docs/performance.md are the Defender API's; a new database would get graph
    MDE_ALERT_SYNC_PAGE_SIZE: String(pageSize),
    MDE_ALERT_SYNC_EXPAND_EVIDENCE: 'true',
    MDE_ALERT_SYNC_MAX_RESPONSE_MEGABYTES: '256',
    MDE_ALERT_SYNC_LOG_LEVEL: 'warn',
    ...(workerNodeOptions ? { NODE_OPTIONS: workerNodeOptions } : {}),
    ...workerMallocEnv,
    ...settings,
  };
  const login = await measureProcess(process.execPath, [CLI, 'login'], env);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  await sim.call({ command: 'requests' });
  return { sim, dir, dbPath, env, apiBaseUrl: info.apiBaseUrl, caFile: info.caFile };
}

async function sync(tenant: Tenant): Promise<{ usage: ProcessUsage; requests: SimRequest[] }> {
  const usage = await measureProcess(process.execPath, [CLI, 'sync'], tenant.env);
  if (usage.code !== 0) throw new Error(`sync failed (exit ${usage.code}): ${usage.stderr.slice(-2000)}`);
  return { usage, requests: await tenant.sim.call<SimRequest[]>({ command: 'requests' }) };
}

/** Rows the last pass wrote: the differences of the counts taken before it and now. */
function rowsWritten(dbPath: string, before: Counts): Counts {
  const now = counts(dbPath);
  return { alerts: now.alerts - before.alerts, changes: now.changes - before.changes, runs: now.runs - before.runs, alertVersions: now.alertVersions - before.alertVersions };
}
interface Counts { alerts: number; changes: number; runs: number; alertVersions: number }
function counts(dbPath: string): Counts {
  const db = new Database(dbPath, { readonly: true });
  try {
    const row = db.prepare('SELECT (SELECT count(*) FROM alerts) AS alerts, (SELECT count(*) FROM alert_changes) AS changes, (SELECT count(*) FROM sync_runs) AS runs, (SELECT total(versions_seen) FROM alerts) AS alertVersions').get() as Counts;
    return row;
  } finally {
    db.close();
  }
}

async function floors(tenant: Tenant, requests: SimRequest[]): Promise<FloorFigures> {
  const job: FloorJob = {
    apiBaseUrl: tenant.apiBaseUrl,
    caFile: tenant.caFile,
    token: await tenant.sim.call<string>({ command: 'token' }),
    dbPath: path.join(tenant.dir, 'floor.db'),
    requests: requests.filter((r) => r.status === 200),
  };
  const jobFile = path.join(tenant.dir, 'floor-job.json');
  writeFileSync(jobFile, JSON.stringify(job), { mode: 0o600 });
  const run = await measureProcess(process.execPath, ['--import', 'tsx', '--max-old-space-size=8192', path.join(ROOT, 'bench/floors.ts'), jobFile], { PATH: process.env.PATH ?? '' });
  await tenant.sim.call({ command: 'requests' }); // the floor's own requests are not the worker's
  if (run.code !== 0) throw new Error(`floors failed: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim()) as FloorFigures;
}

async function stopTenant(tenant: Tenant, keepDatabase = false): Promise<void> {
  await tenant.sim.call({ command: 'stop' });
  if (!keepDatabase) rmSync(tenant.dir, { recursive: true, force: true });
}

function viewTimes(dbPath: string): { view: string; medianMs: number; rows: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return VIEWS.map(({ view, sql }) => {
      const statement = db.prepare(sql);
      let rows = statement.all().length; // warm the page cache, as a dashboard that refreshes would
      const times: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        const started = performance.now();
        rows = statement.all().length;
        times.push(performance.now() - started);
      }
      return { view, medianMs: median(times), rows };
    });
  } finally {
    db.close();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function main(): Promise<void> {
  const out: string[] = [];
  const print = (line = '') => {
    out.push(line);
    process.stdout.write(`${line}\n`);
  };
  print(`mde-alert-sync benchmark, ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${mb(totalmem())} RAM, Node.js ${process.version}, pageSize ${pageSize}, worker NODE_OPTIONS ${workerNodeOptions || '(none)'}, ${Object.entries(workerMallocEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'glibc malloc defaults'}`);

  // 1. Requests: what a backfill spends against the minimum, per source, server order and density.
  await requestFigures(print);
  if (values['requests-only']) return save(out);

  // 2. The main backfill, its floors, and the steady state.
  const tenant = await startTenant(mainN);
  const backfill = await sync(tenant);
  const stored = counts(tenant.dbPath);
  const floor = await floors(tenant, backfill.requests);
  const minimumPages = Math.ceil(mainN / pageSize);
  print();
  print(`Backfill of ${mainN} alerts (${mb(floor.bytes)} of JSON in ${backfill.requests.length} requests; at least ${minimumPages} needed)`);
  print(`  end to end        ${s(backfill.usage.wallMs)} wall, ${s(backfill.usage.cpuMs)} CPU, ${Math.round(mainN / (backfill.usage.wallMs / 1000))} alerts/s, peak RSS ${mb(backfill.usage.peakRssBytes)}`);
  print(`  floor: fetch+parse ${s(floor.fetchMs)} wall, ${s(floor.fetchCpuMs)} CPU (the same ${floor.pages} requests, nothing else)`);
  print(`  floor: bare write  ${s(floor.writeMs)} wall, ${s(floor.writeCpuMs)} CPU (${floor.alerts} alerts with their evidence, techniques and changes, bare INSERTs, a transaction per page)`);
  const ratio = backfill.usage.wallMs / (floor.fetchMs + floor.writeMs);
  print(`  ratio             ${ratio.toFixed(2)} × the sum of the floors (target ≤ 1.3: ${verdict(ratio <= 1.3)})`);
  print(`  stored            ${stored.alerts} alerts, ${stored.changes} changes`);

  const beforeUnchanged = counts(tenant.dbPath);
  const unchanged = await sync(tenant);
  const unchangedRows = rowsWritten(tenant.dbPath, beforeUnchanged);
  print();
  print(`Steady state over ${mainN} stored alerts`);
  print(`  nothing changed   ${unchanged.requests.length} request(s), ${s(unchanged.usage.wallMs)} wall (process start included), rows written: ${unchangedRows.alertVersions} alert versions, ${unchangedRows.changes} changes, ${unchangedRows.runs} run record (target: one request per window, no alert rows: ${verdict(unchangedRows.alertVersions === 0 && unchangedRows.changes === 0 && unchanged.requests.length === 1)})`);
  const changedCount = await tenant.sim.call<number>({ command: 'update', count: Math.round(mainN / 100) });
  const beforeChanged = counts(tenant.dbPath);
  const changed = await sync(tenant);
  const changedRows = rowsWritten(tenant.dbPath, beforeChanged);
  print(`  1% changed        ${changedCount} alerts changed: ${changed.requests.length} request(s), ${s(changed.usage.wallMs)} wall, rows written: ${changedRows.alertVersions} alert versions, ${changedRows.changes} changes, ${changedRows.runs} run record`);
  await stopTenant(tenant);

  // 3. Scaling in N, and the views over the largest database.
  print();
  print('Scaling (backfill end to end)');
  print('  N           wall      CPU       alerts/s   peak RSS   requests');
  const scaling: { n: number; usage: ProcessUsage }[] = [];
  let largest: Tenant | undefined;
  for (const n of scalingNs) {
    const run = await startTenant(n);
    const result = await sync(run);
    scaling.push({ n, usage: result.usage });
    print(`  ${String(n).padEnd(10)}  ${s(result.usage.wallMs).padEnd(8)}  ${s(result.usage.cpuMs).padEnd(8)}  ${String(Math.round(n / (result.usage.wallMs / 1000))).padEnd(9)}  ${mb(result.usage.peakRssBytes).padEnd(9)}  ${result.requests.length}`);
    // The largest database stays for the views; the simulators go as soon as they are done.
    await stopTenant(run, n === Math.max(...scalingNs));
    if (n === Math.max(...scalingNs)) largest = run;
  }
  if (scaling.length >= 2) {
    const [first, last] = [scaling[0]!, scaling.at(-1)!];
    const timeRatio = (last.usage.wallMs / last.n) / (first.usage.wallMs / first.n);
    const rssRatio = last.usage.peakRssBytes / first.usage.peakRssBytes;
    print(`  time per alert at ${last.n} / at ${first.n}: ${timeRatio.toFixed(2)} (1 = linear); peak RSS ratio ${rssRatio.toFixed(2)} (1 = flat); largest peak ${mb(Math.max(...scaling.map((r) => r.usage.peakRssBytes)))} (target < 256 MB: ${verdict(Math.max(...scaling.map((r) => r.usage.peakRssBytes)) < 256 * 1_048_576)})`);
  }
  if (largest) {
    print();
    const total = counts(largest.dbPath).alerts;
    print(`Reporting views over ${total} stored alerts (median of 7, warm cache)`);
    for (const { view, medianMs, rows } of viewTimes(largest.dbPath)) print(`  ${view.padEnd(40)} ${medianMs.toFixed(1).padStart(8)} ms  (${rows} rows; target < 100 ms: ${verdict(medianMs < 100)})`);
    rmSync(largest.dir, { recursive: true, force: true });
  }
  print();
  await incidentBackfill(Number(values['incidents-backfill']), print);
  print();
  incidentViewFigures(Number(values.incidents), print);
  save(out);
}

/** The real worker's backfill of N incidents (and the alert each holds) with source graph. */
async function incidentBackfill(n: number, print: (line?: string) => void): Promise<void> {
  const tenant = await startTenant(0, { incidents: n, settings: { MDE_ALERT_SYNC_SOURCE: 'graph', MDE_ALERT_SYNC_PAGE_SIZE: '2000', MDE_ALERT_SYNC_INCIDENTS: 'true' } });
  await tenant.sim.call({ command: 'incidentRequests' });
  const { usage, requests } = await sync(tenant);
  const incidentRequests = await tenant.sim.call<{ filter: string | null; skipToken: boolean; status: number; returned: number }[]>({ command: 'incidentRequests' });
  const stored = incidentCounts(tenant.dbPath);
  await stopTenant(tenant);
  const minimum = Math.ceil(n / 50);
  const refused = incidentRequests.filter((r) => r.status !== 200).length;
  const partial = incidentRequests.filter((r) => r.status === 200 && r.returned < 50).length;
  print(`Backfill of ${n} incidents (source graph, one alert each; the simulator's incident quota raised from 150 to 1e9 calls a minute for the bench;`);
  print(`  the worker still paces itself at Graph's 150 a minute, which callsPerMinute may only lower, so the wall time is at least requests / 150 minutes)`);
  print(`  end to end        ${s(usage.wallMs)} wall, ${s(usage.cpuMs)} CPU, ${Math.round(n / (usage.wallMs / 1000))} incidents/s, peak RSS ${mb(usage.peakRssBytes)} (the pass over their ${stored.alerts} stored alerts included)`);
  print(`  requests          ${incidentRequests.length} incident requests (${refused} not 200, ${partial} with fewer than 50) = ${(incidentRequests.length / minimum).toFixed(2)} x the minimum ceil(N / 50) = ${minimum}; ${requests.length} alert requests`);
  print(`  stored            ${stored.incidents} incidents, ${n - stored.incidents} lost (target: all ${n}, 0 lost: ${verdict(stored.incidents === n)})`);
}

function incidentCounts(dbPath: string): { incidents: number; alerts: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT (SELECT count(*) FROM incidents) AS incidents, (SELECT count(*) FROM alerts) AS alerts').get() as { incidents: number; alerts: number };
  } finally {
    db.close();
  }
}

function save(out: string[]): void {
  mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench', 'results', 'latest.txt'), `${out.join('\n')}\n`);
}

// Graph serves at most 1,000 alerts per answer here (asked for 2,000: $top is cut, the rest behind a nextLink);
// the Defender API serves what $top asks, 1,000 here, so that both have the same page.
const REQUEST_SOURCES = {
  defender: { settings: { MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_PAGE_SIZE: '1000' }, graphServerPageSize: undefined, page: 1000 },
  // The alerts' requests only: the incidents, on by default with graph, are not in these figures.
  graph: { settings: { MDE_ALERT_SYNC_SOURCE: 'graph', MDE_ALERT_SYNC_PAGE_SIZE: '2000', MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER: 'all', MDE_ALERT_SYNC_INCIDENTS: 'false' }, graphServerPageSize: 1000, page: 1000 },
} as const;
const PROFILES: DensityProfile[] = ['uniform', 'denseHour', 'tie', 'emptyStretch'];

/** Backfills of N alerts by the real worker: requests against ceil(N / page), for both sources and both server orders. */
async function requestFigures(print: (line?: string) => void): Promise<void> {
  const n = Number(values['request-alerts']);
  print();
  print(`Requests of a backfill of ${n} alerts: page 1,000 (Graph: $top 2,000 cut to 1,000), minimum ceil(N / page) = ${Math.ceil(n / 1000)}, target <= 1.25 x min (+ 4 for a 1,200-alert tie: 2 scans x 2 pages)`);
  print('  source    profile       server sorts ($orderby)            server ignores $orderby');
  for (const [source, setup] of Object.entries(REQUEST_SOURCES)) {
    for (const profile of PROFILES) {
      const cells: string[] = [];
      for (const orderBy of ['honoured', 'ignored'] as const) {
        const tenant = await startTenant(n, { profile, orderBy, ...(setup.graphServerPageSize ? { graphServerPageSize: setup.graphServerPageSize } : {}), settings: { ...setup.settings, MDE_ALERT_SYNC_EXPAND_EVIDENCE: 'false', MDE_ALERT_SYNC_LOOKBACK: '365d' } });
        const { requests } = await sync(tenant);
        const stored = counts(tenant.dbPath).alerts;
        await stopTenant(tenant);
        const minimum = Math.ceil(n / setup.page);
        const bound = 1.25 * minimum + (profile === 'tie' ? 2 * Math.ceil(1200 / setup.page) : 0);
        cells.push(`${String(requests.length).padStart(3)} = ${(requests.length / minimum).toFixed(2)} x min, ${requests.length <= bound ? 'met' : 'MISSED'}, ${n - stored} lost`.padEnd(34));
      }
      print(`  ${source.padEnd(9)} ${profile.padEnd(13)} ${cells.join(' ')}`);
    }
  }
}

await main();
process.exit(0);
