// The chaos run: the simulator keeps creating and changing alerts while it injects faults, the real worker
// process (`mde-alert-sync run`, a pass every second) is killed with SIGKILL at random moments (after its
// first API request) and started
// again, and a reporting reader queries the views from another process the whole time. At the end the
// database must equal the simulator's truth. A short profile runs inside `npm test`; the long one with
// `npm run test:chaos` (options: --profile short|long, --seconds N, --seed N, --set KEY=VALUE for a worker
// setting, e.g. --set SETTLE_LAG=0s for a control run that must find mismatches).
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { instantFromMs, parseInstant } from '../../src/instants.js';
import { parseDuration } from '../../src/config/durations.js';
import { seededRandom, type SimAlert } from '../../src/simulator/alertFactory.js';
import type { ApiFault, ApiRequestRecord } from '../../src/simulator/alertsApi.js';
import { toGraphAlert } from '../../src/simulator/graphAlert.js';
import type { SimIncident } from '../../src/simulator/incidentFactory.js';
import { createTestBed, cursorOf, leakedSecretCount, openDb, REPO_ROOT, runProcess, waitFor, type AlertSource, type RunningProcess, type TestBed } from '../support/harness.js';
import type { ReaderFigures } from './reportingReader.js';

export interface ChaosProfile {
  name: string;
  seconds: number;
  seed: number;
  initialAlerts: number;
  pageSize: number;
  /** The worker is killed this long after it starts: uniformly between the two. */
  killAfterMs: [number, number];
  churnEveryMs: number;
  faultEveryMs: number;
  /** Extra worker settings as MDE_ALERT_SYNC_<KEY> values, e.g. a control run with SETTLE_LAG=0s. */
  settings?: Record<string, string>;
}

export const PROFILES: Record<'short' | 'long', ChaosProfile> = {
  short: { name: 'short', seconds: 25, seed: 7, initialAlerts: 400, pageSize: 50, killAfterMs: [500, 5000], churnEveryMs: 150, faultEveryMs: 400 },
  long: { name: 'long', seconds: 600, seed: 11, initialAlerts: 3000, pageSize: 500, killAfterMs: [500, 8000], churnEveryMs: 100, faultEveryMs: 300 },
};

const YEAR_MS = 365 * 86_400_000;
/**
 * What the simulator serves wrongly, and how often relative to each other. Each is injected once in this
 * order first (so that even the short profile meets every kind), then at random.
 */
const API_FAULTS: ApiFault[] = [
  // A clock that is wrong (a proxy's Date header): the cursor must follow only what both clocks allow.
  { kind: 'dateOffset', ms: 3 * YEAR_MS },
  { kind: 'dateOffset', ms: -3 * YEAR_MS },
  { kind: 'noDate' },
  { kind: 'status', status: 429, retryAfter: '1' },
  { kind: 'status', status: 500 },
  { kind: 'status', status: 503 },
  { kind: 'reset' },
  { kind: 'stall', ms: 1500 },
  { kind: 'truncated' },
  { kind: 'html', status: 502 },
  { kind: 'empty', status: 500 },
  { kind: 'wrongShape' },
  { kind: 'nextLink', pageSize: 7 },
];
/** Put first in the queue when a worker starts, so that they meet the first answer of a pass, which sets its horizon. */
const CLOCK_FAULTS: ApiFault[] = API_FAULTS.slice(0, 3);
const LATE_INDEXING_MS = 3000;
const SETTLE_LAG = '30s';

export interface ChaosFigures {
  profile: string;
  seconds: number;
  settings: Record<string, string>;
  passes: number;
  passesSucceeded: number;
  passesFailed: number;
  kills: number;
  killsDuringPass: number;
  faults: Record<string, number>;
  /** The alerts the source serves (with graph: Defender for Endpoint's), each compared with the store. */
  alerts: number;
  /** With graph: the incidents served, each compared with the store too (their mismatches are in `mismatches`). */
  incidents: number;
  source: AlertSource;
  changesRecorded: number;
  simulatedVersions: number;
  mismatches: number;
  mismatchSamples: string[];
  integrity: string;
  cursorRegressions: number;
  /** Cursors seen later than this machine's clock minus the settle lag (after a kill): the clock rule broken. */
  cursorsAheadOfClock: number;
  reader: ReaderFigures;
  secretsLeaked: number;
}

export async function runChaos(profile: ChaosProfile, log: (line: string) => void = () => {}): Promise<ChaosFigures> {
  // With Graph the incidents are synced too (as by default), changed, merged and faulted like the alerts.
  const withIncidents = profile.settings?.SOURCE === 'graph' && profile.settings.INCIDENTS !== 'false';
  const bed = await createTestBed(
    {
      seed: profile.seed,
      initialAlerts: profile.initialAlerts,
      identity: { accessTokenLifetimeSec: 5 },
      api: { callsPerMinute: 1_000_000, callsPerHour: 1_000_000_000, graphCallsPerMinute: 1_000_000 },
      grantIncidentPermission: withIncidents,
      incidents: { callsPerMinute: 1_000_000, initialMergedShare: 0.1 },
    },
    {
      MDE_ALERT_SYNC_INCIDENTS: String(withIncidents),
      MDE_ALERT_SYNC_SCHEDULE: '* * * * * *',
      MDE_ALERT_SYNC_PAGE_SIZE: String(profile.pageSize),
      MDE_ALERT_SYNC_REQUEST_TIMEOUT: '1s',
      MDE_ALERT_SYNC_MAX_RETRIES: '4',
      MDE_ALERT_SYNC_MAX_RETRY_AFTER: '5s',
      MDE_ALERT_SYNC_LOG_LEVEL: 'warn',
      // Well above the late indexing injected (3 s), and short enough that a pass re-reads seconds, not the
      // default quarter hour, of a tenant where alerts change ten times a second.
      MDE_ALERT_SYNC_SETTLE_LAG: SETTLE_LAG,
      MDE_ALERT_SYNC_OVERLAP: '30s',
      ...Object.fromEntries(Object.entries(profile.settings ?? {}).map(([key, value]) => [`MDE_ALERT_SYNC_${key}`, value])),
    },
  );
  const random = seededRandom(profile.seed ^ 0x5eed); // its own sequence, apart from the simulator's
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const faults: Record<string, number> = {};
  const count = (kind: string) => (faults[kind] = (faults[kind] ?? 0) + 1);
  let reader: RunningProcess | undefined;
  let worker: RunningProcess | undefined;
  const timers: NodeJS.Timeout[] = [];
  let injected = 0;
  const settleLagMs = parseDuration(profile.settings?.SETTLE_LAG ?? SETTLE_LAG)!;
  try {
    await expectExit(bed, ['login'], 0);
    await expectExit(bed, ['migrate'], 0);
    reader = runProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/chaos/reportingReader.ts'), bed.dbPath], bed.env);
    await waitFor('the reporting reader', () => reader!.output().stdout.includes('ready'));

    timers.push(setInterval(() => {
      bed.sim.api.createAlerts(between(0, 2), random() < 0.3 ? { indexedAfterMs: between(0, LATE_INDEXING_MS) } : {});
      bed.sim.api.updateAlerts(between(1, 4));
      if (withIncidents && random() < 0.3) bed.sim.incidents.updateIncidents(1);
      if (withIncidents && random() < 0.05) bed.sim.incidents.mergeIncidents(1);
    }, profile.churnEveryMs));
    timers.push(setInterval(() => {
      if (random() < 0.15) {
        bed.sim.identity.expireAccessTokens();
        count('tokenExpiry');
      } else if (withIncidents && random() < 0.3) {
        if (bed.sim.incidents.faults.length < 2) bed.sim.incidents.faults.push(API_FAULTS[between(0, API_FAULTS.length - 1)]!);
      } else if (bed.sim.api.faults.length < 3) {
        bed.sim.api.faults.push(API_FAULTS[injected < API_FAULTS.length ? injected : between(0, API_FAULTS.length - 1)]!);
        injected += 1;
      }
    }, profile.faultEveryMs));

    const deadline = Date.now() + profile.seconds * 1000;
    let kills = 0;
    let cursorRegressions = 0;
    let cursorsAheadOfClock = 0;
    let starts = 0;
    let lastCursor: string | undefined;
    while (Date.now() < deadline) {
      // The first starts meet each clock fault, later ones a quarter of the time.
      if (starts < CLOCK_FAULTS.length || random() < 0.25) bed.sim.api.faults.unshift(CLOCK_FAULTS[starts < CLOCK_FAULTS.length ? starts : between(0, CLOCK_FAULTS.length - 1)]!);
      starts += 1;
      const requestsBefore = bed.sim.api.requests.length;
      const started = (worker = bed.spawnCli(['run']));
      // The kill comes at a random moment after the worker's first request, so that even on a busy machine
      // (where starting takes seconds) every worker meets the API, and the clock fault put first in line.
      await waitFor('the worker to call the API', () => bed.sim.api.requests.length > requestsBefore || started.child.exitCode !== null || started.child.signalCode !== null, 60_000);
      await Promise.race([sleep(between(...profile.killAfterMs)), worker.done]);
      worker.child.kill('SIGKILL');
      const ended = await worker.done;
      if (ended.signal === 'SIGKILL') kills += 1;
      else throw new Error(`the worker ended by itself (exit ${ended.code}): ${ended.stderr.slice(-2000)}`);
      const cursor = cursorOf(bed.dbPath);
      if (cursor !== undefined && lastCursor !== undefined && cursor < lastCursor) cursorRegressions += 1;
      if (cursor !== undefined && parseInstant(cursor)! > instantFromMs(Date.now() - settleLagMs)) cursorsAheadOfClock += 1;
      lastCursor = cursor ?? lastCursor;
      if (kills % 10 === 0) log(`${kills} kills, cursor ${cursor}, ${bed.sim.api.requests.length} requests`);
    }
    for (const timer of timers) clearInterval(timer);
    bed.sim.api.faults.length = 0;
    bed.sim.incidents.faults.length = 0;
    // Alerts indexed late become visible, and the second the last change happened in passes.
    await sleep(LATE_INDEXING_MS + 1100);
    await expectExit(bed, ['sync'], 0);
    const truth = bed.sim.api.truth();

    reader.child.kill('SIGTERM');
    const readerEnd = await reader.done;
    const readerFigures = JSON.parse(readerEnd.stdout.trim().split('\n').pop()!) as ReaderFigures;
    for (const record of [...bed.sim.api.requests, ...bed.sim.incidents.requests]) if (record.fault) count(faultName(record));

    const verdict = compareWithTruth(bed, truth);
    const incidents = withIncidents ? bed.sim.incidents.truth() : [];
    if (withIncidents) verdict.mismatches.push(...compareIncidentsWithTruth(bed, incidents));
    const runs = runOutcomes(bed.dbPath);
    return {
      profile: profile.name,
      seconds: profile.seconds,
      settings: profile.settings ?? {},
      passes: runs.total,
      passesSucceeded: runs.success ?? 0,
      passesFailed: runs.failed ?? 0,
      kills,
      killsDuringPass: runs.interrupted ?? 0,
      faults,
      alerts: truth.filter((alert) => bed.serves(alert)).length,
      incidents: incidents.length,
      source: bed.source,
      changesRecorded: verdict.changes,
      simulatedVersions: [...bed.sim.api.versions.values()].reduce((sum, versions) => sum + versions.length, 0),
      mismatches: verdict.mismatches.length,
      mismatchSamples: verdict.mismatches.slice(0, 10),
      integrity: verdict.integrity,
      cursorRegressions,
      cursorsAheadOfClock,
      reader: readerFigures,
      secretsLeaked: leakedSecretCount(),
    };
  } finally {
    for (const timer of timers) clearInterval(timer);
    worker?.child.kill('SIGKILL');
    reader?.child.kill('SIGKILL');
    await bed.close();
  }
}

/** The fault as the figures name it: the HTTP status, or which way the Date header was off. */
function faultName(record: ApiRequestRecord): string {
  if (record.fault === 'status') return `http${record.status}`;
  if (record.fault === 'dateOffset') return (record.dateOffsetMs ?? 0) > 0 ? 'dateAhead' : 'dateBehind';
  return record.fault!;
}

async function expectExit(bed: TestBed, args: string[], code: number): Promise<void> {
  const result = await bed.cli(args);
  if (result.code !== code) throw new Error(`mde-alert-sync ${args.join(' ')} exited ${result.code}, not ${code}: ${result.stderr.slice(-2000)}`);
}

function runOutcomes(dbPath: string): Record<string, number> & { total: number } {
  const db = openDb(dbPath);
  try {
    const rows = db.prepare('SELECT outcome, count(*) AS n FROM sync_runs GROUP BY outcome').all() as { outcome: string; n: number }[];
    return { total: rows.reduce((sum, row) => sum + row.n, 0), ...Object.fromEntries(rows.map((row) => [row.outcome, row.n])) };
  } finally {
    db.close();
  }
}

/**
 * Every alert present at its latest version with the raw JSON as served, nothing extra, and each alert's
 * recorded changes real (a version the service had), in order, chained, not repeated, ending at the latest.
 */
function compareWithTruth(bed: TestBed, allAlerts: SimAlert[]): { mismatches: string[]; changes: number; integrity: string } {
  const mismatches: string[] = [];
  // With source graph: the Defender for Endpoint alerts (the default serviceSourceFilter), as Graph serves them.
  const present = (alert: SimAlert): Record<string, unknown> => (bed.source === 'graph' ? toGraphAlert(alert) : alert);
  const truth = allAlerts.filter((alert) => bed.serves(alert));
  const db = openDb(bed.dbPath);
  try {
    const stored = new Map((db.prepare('SELECT id, raw_json FROM alerts').all() as { id: string; raw_json: string }[]).map((row) => [row.id, JSON.parse(row.raw_json) as unknown]));
    for (const alert of truth) {
      const row = stored.get(alert.id);
      if (!row) mismatches.push(`missing ${alert.id}`);
      else if (!isDeepStrictEqual(row, present(alert))) mismatches.push(`${alert.id} stored at another version than the latest, ${alert.lastUpdateTime}`);
    }
    const known = new Set(truth.map((alert) => alert.id));
    for (const id of stored.keys()) if (!known.has(id)) mismatches.push(`extra ${id}`);

    const latest = new Map(truth.map((alert) => [alert.id, alert]));
    const changes = db.prepare('SELECT alert_id, change, previous_last_update_time, last_update_time, changed_fields FROM alert_changes ORDER BY id').all() as {
      alert_id: string;
      change: string;
      previous_last_update_time: string | null;
      last_update_time: string;
      changed_fields: string;
    }[];
    const byAlert = new Map<string, typeof changes>();
    for (const change of changes) byAlert.set(change.alert_id, [...(byAlert.get(change.alert_id) ?? []), change]);
    for (const [id, list] of byAlert) {
      const versions = new Map((bed.sim.api.versions.get(id) ?? []).map((version) => [parseInstant(version.lastUpdateTime), present(version)]));
      let previous: string | null = null;
      for (const [index, change] of list.entries()) {
        const at = parseInstant(change.last_update_time);
        const version = versions.get(at);
        if (!version) mismatches.push(`${id}: recorded change to ${change.last_update_time}, a version the service never had`);
        if (index === 0 ? change.change !== 'created' || change.previous_last_update_time !== null : change.change !== 'updated' || change.previous_last_update_time !== previous) {
          mismatches.push(`${id}: change ${index} (${change.change} from ${change.previous_last_update_time}) does not follow ${previous}`);
        }
        if (previous !== null && !(at! > parseInstant(previous)!)) mismatches.push(`${id}: change to ${change.last_update_time} is not after ${previous}`);
        if (version && change.change === 'updated') {
          for (const [field, values] of Object.entries(JSON.parse(change.changed_fields) as Record<string, { new: unknown }>)) {
            if (!isDeepStrictEqual(values.new, version[field] ?? null)) mismatches.push(`${id}: recorded ${field} differs from the version the service had`);
          }
        }
        previous = change.last_update_time;
      }
      const current = latest.get(id);
      if (current && parseInstant(previous) !== parseInstant(current.lastUpdateTime)) mismatches.push(`${id}: the last recorded change is ${previous}, the alert is at ${current.lastUpdateTime}`);
    }
    for (const id of known) if (!byAlert.has(id)) mismatches.push(`${id}: no change recorded`);
    return { mismatches, changes: changes.length, integrity: db.pragma('integrity_check', { simple: true }) as string };
  } finally {
    db.close();
  }
}

/** Every incident present at its latest version as served, nothing extra, each one's history chained through versions it had. */
function compareIncidentsWithTruth(bed: TestBed, truth: SimIncident[]): string[] {
  const mismatches: string[] = [];
  const db = openDb(bed.dbPath);
  try {
    const stored = new Map((db.prepare('SELECT id, raw_json FROM incidents').all() as { id: string; raw_json: string }[]).map((row) => [row.id, JSON.parse(row.raw_json) as unknown]));
    for (const incident of truth) {
      const row = stored.get(incident.id);
      if (!row) mismatches.push(`missing incident ${incident.id}`);
      else if (!isDeepStrictEqual(row, incident)) mismatches.push(`incident ${incident.id} stored at another version than the latest, ${incident.lastUpdateDateTime}`);
    }
    const known = new Map(truth.map((incident) => [incident.id, incident]));
    for (const id of stored.keys()) if (!known.has(id)) mismatches.push(`extra incident ${id}`);
    const changes = db.prepare('SELECT incident_id, change, previous_last_update_time, last_update_time FROM incident_changes ORDER BY id').all() as { incident_id: string; change: string; previous_last_update_time: string | null; last_update_time: string }[];
    const byIncident = new Map<string, typeof changes>();
    for (const change of changes) byIncident.set(change.incident_id, [...(byIncident.get(change.incident_id) ?? []), change]);
    for (const [id, list] of byIncident) {
      const versions = new Set((bed.sim.incidents.versions.get(id) ?? []).map((version) => parseInstant(version.lastUpdateDateTime)));
      let previous: string | null = null;
      for (const [index, change] of list.entries()) {
        if (!versions.has(parseInstant(change.last_update_time))) mismatches.push(`incident ${id}: recorded change to ${change.last_update_time}, a version the service never had`);
        if (index === 0 ? change.change !== 'created' || change.previous_last_update_time !== null : change.change !== 'updated' || change.previous_last_update_time !== previous) {
          mismatches.push(`incident ${id}: change ${index} (${change.change} from ${change.previous_last_update_time}) does not follow ${previous}`);
        }
        previous = change.last_update_time;
      }
      const current = known.get(id);
      if (current && parseInstant(previous) !== parseInstant(current.lastUpdateDateTime)) mismatches.push(`incident ${id}: the last recorded change is ${previous}, the incident is at ${current.lastUpdateDateTime}`);
    }
    for (const id of known.keys()) if (!byIncident.has(id)) mismatches.push(`incident ${id}: no change recorded`);
  } finally {
    db.close();
  }
  return mismatches;
}

export function formatFigures(figures: ChaosFigures): string {
  const faultList = Object.entries(figures.faults).sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `${kind} ${n}`).join(', ');
  return [
    `chaos profile ${figures.profile}: ${figures.seconds} s${Object.keys(figures.settings).length ? ` with ${Object.entries(figures.settings).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
    `passes            ${figures.passes} (succeeded ${figures.passesSucceeded}, failed ${figures.passesFailed}, killed mid-pass ${figures.killsDuringPass})`,
    `kills (SIGKILL)   ${figures.kills}`,
    `faults injected   ${Object.values(figures.faults).reduce((a, b) => a + b, 0)}: ${faultList}`,
    `alerts            ${figures.alerts} served by ${figures.source} (the service's versions: ${figures.simulatedVersions}; changes recorded: ${figures.changesRecorded})`,
    ...(figures.incidents > 0 ? [`incidents         ${figures.incidents} served by graph, compared with the store too`] : []),
    `mismatches        ${figures.mismatches}${figures.mismatchSamples.length ? `: ${figures.mismatchSamples.join('; ')}` : ''}`,
    `integrity_check   ${figures.integrity}`,
    `cursor moved back ${figures.cursorRegressions} (seen by the runner after each kill), ${figures.reader.cursorRegressions} (seen by the reader in ${figures.reader.cursorReadings} readings)`,
    `cursor ahead      ${figures.cursorsAheadOfClock} (of this machine's clock minus the settle lag, seen by the runner after each kill)`,
    `reader            ${figures.reader.queries} queries, ${figures.reader.errors} errors, ${figures.reader.busy} busy/locked, slowest ${figures.reader.slowestQueryMs.toFixed(1)} ms${figures.reader.errorSamples.length ? `: ${figures.reader.errorSamples.join('; ')}` : ''}`,
    `secrets in output ${figures.secretsLeaked}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { profile: { type: 'string', default: 'long' }, seconds: { type: 'string' }, seed: { type: 'string' }, set: { type: 'string', multiple: true } } });
  const base = PROFILES[values.profile as 'short' | 'long'];
  if (!base) throw new Error(`--profile must be short or long, not ${values.profile}`);
  const settings = Object.fromEntries((values.set ?? []).map((pair) => pair.split('=', 2) as [string, string]));
  const profile = { ...base, settings, ...(values.seconds ? { seconds: Number(values.seconds) } : {}), ...(values.seed ? { seed: Number(values.seed) } : {}) };
  const figures = await runChaos(profile, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${formatFigures(figures)}\n`);
  const failed = figures.mismatches > 0 || figures.integrity !== 'ok' || figures.cursorRegressions > 0 || figures.cursorsAheadOfClock > 0 || figures.reader.cursorRegressions > 0 || figures.reader.errors > 0 || figures.secretsLeaked > 0;
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
