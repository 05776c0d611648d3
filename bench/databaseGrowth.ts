// `node --import tsx bench/databaseGrowth.ts`: what the database grows by, measured with the real CLI against
// the simulator (Graph, realistic alerts with evidence), per table from SQLite's dbstat, then projected to a
// year at the default schedule (a pass every 5 minutes). Options:
//   --alerts N   alerts of the backfill (default 5000)
//   --changes N  alerts changed once after it (default 2000)
//   --passes N   passes of the worker with nothing new, for the cost of a sync_runs row (default 120)
// The figures and the projection are in the README (Retention and database size).
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createTestBed, signedIn, startWorker, waitFor } from '../test/support/harness.js';

const { values } = parseArgs({ options: { alerts: { type: 'string', default: '5000' }, changes: { type: 'string', default: '2000' }, passes: { type: 'string', default: '120' } } });
const alerts = Number(values.alerts);
const changes = Number(values.changes);
const passes = Number(values.passes);

type Sizes = { bytes: Map<string, number>; rows: { alerts: number; changes: number; runs: number } };

/** Bytes of every table and index (dbstat), and the row counts that explain them. */
function measure(file: string): Sizes {
  const db = new Database(file, { readonly: true });
  try {
    const bytes = new Map((db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]).map((r) => [r.name, r.bytes]));
    const n = (sql: string) => db.prepare(sql).pluck().get() as number;
    return { bytes, rows: { alerts: n('SELECT count(*) FROM alerts'), changes: n('SELECT count(*) FROM alert_changes'), runs: n('SELECT count(*) FROM sync_runs') } };
  } finally {
    db.close();
  }
}

const isRuns = (name: string) => name.startsWith('sync_runs');
const isChanges = (name: string) => name.startsWith('alert_changes');
const sum = (sizes: Sizes, pick: (name: string) => boolean) => [...sizes.bytes].filter(([name]) => pick(name)).reduce((total, [, b]) => total + b, 0);

const bed = await createTestBed({ initialAlerts: alerts, initialAlertDays: 180 }, { MDE_ALERT_SYNC_SOURCE: 'graph', MDE_ALERT_SYNC_LOG_LEVEL: 'warn' });
try {
  await signedIn(bed);
  if ((await bed.cli(['sync'])).code !== 0) throw new Error('the backfill failed');
  const backfill = measure(bed.dbPath);
  bed.sim.api.updateAlerts(changes);
  if ((await bed.cli(['sync'])).code !== 0) throw new Error('the pass after the changes failed');
  const changed = measure(bed.dbPath);
  const { worker } = await startWorker(bed, { MDE_ALERT_SYNC_SCHEDULE: '* * * * * *', MDE_ALERT_SYNC_LOG_LEVEL: 'info' });
  const runsBefore = changed.rows.runs;
  await waitFor(`${passes} quiet passes`, () => measureRuns(bed.dbPath) >= runsBefore + passes, passes * 5000);
  worker.child.kill('SIGTERM');
  await worker.done;
  const quiet = measure(bed.dbPath);

  // An alert: its row, evidence, comments, techniques, their indexes, summaries, and its first history row.
  const perAlert = (sum(backfill, (name) => !isRuns(name)) - sum(backfill, isChanges)) / backfill.rows.alerts + sum(backfill, isChanges) / backfill.rows.changes;
  const perChange = (sum(changed, (name) => !isRuns(name)) - sum(backfill, (name) => !isRuns(name))) / (changed.rows.changes - backfill.rows.changes);
  const perRun = (sum(quiet, isRuns) - sum(changed, isRuns)) / (quiet.rows.runs - changed.rows.runs);
  const runsPerYear = 365 * 24 * 12;
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
  console.log(`measured: ${backfill.rows.alerts} alerts, ${changed.rows.changes - backfill.rows.changes} changes, ${quiet.rows.runs - changed.rows.runs} passes`);
  console.log(`per alert (with its evidence and first history row): ${Math.round(perAlert)} bytes`);
  console.log(`per later change (its alert_changes row, and what the new version adds to the alert's rows): ${Math.round(perChange)} bytes`);
  console.log(`per pass (sync_runs row and index): ${Math.round(perRun)} bytes`);
  console.log(`sync_runs at the default schedule: ${mb(runsPerYear * perRun)} MB a year kept whole; ${mb(90 * 288 * perRun)} MB with syncRunRetention 90d (the default)`);
  for (const perDay of [50, 500]) {
    const year = 365 * perDay * (perAlert + 3 * perChange) + 90 * 288 * perRun;
    console.log(`a tenant with ${perDay} alerts a day, each changed 3 times: ${mb(year)} MB a year`);
  }
} finally {
  await bed.close();
}

function measureRuns(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM sync_runs').pluck().get() as number;
  } finally {
    db.close();
  }
}
