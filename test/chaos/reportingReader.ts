// A reporting reader in its own process, as Grafana or a pandas notebook would be: it queries every view in
// a loop while the worker writes (and is killed), and on SIGTERM prints what it saw as one JSON line.
// Usage: node --import tsx test/chaos/reportingReader.ts <database>
import Database from 'better-sqlite3';

const REPORT_QUERIES = [
  'SELECT * FROM open_alerts_by_severity',
  'SELECT * FROM alerts_per_day ORDER BY day DESC LIMIT 30',
  'SELECT * FROM time_to_resolve_by_severity',
  'SELECT count(*) AS n FROM alert_time_to_resolve',
  'SELECT count(*) AS n FROM alerts',
  'SELECT count(*) AS n FROM alert_changes',
];

export interface ReaderFigures {
  queries: number;
  errors: number;
  busy: number;
  errorSamples: string[];
  cursorReadings: number;
  cursorRegressions: number;
  slowestQueryMs: number;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: reportingReader.ts <database>\n');
  process.exit(2);
}
// A reader as the README recommends: read-only, with a busy timeout (Python's sqlite3 default is 5 s).
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const statements = REPORT_QUERIES.map((sql) => db.prepare(sql));
const cursorQuery = db.prepare('SELECT stream, position FROM sync_cursor');
const figures: ReaderFigures = { queries: 0, errors: 0, busy: 0, errorSamples: [], cursorReadings: 0, cursorRegressions: 0, slowestQueryMs: 0 };
const lastCursor = new Map<string, string>();
let stopping = false;

function readOnce(): void {
  for (const statement of statements) {
    const started = performance.now();
    try {
      statement.all();
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      figures.errors += 1;
      if (/BUSY|LOCKED/.test(code)) figures.busy += 1;
      if (figures.errorSamples.length < 5) figures.errorSamples.push(`${code}: ${(error as Error).message}`);
    }
    figures.queries += 1;
    figures.slowestQueryMs = Math.max(figures.slowestQueryMs, performance.now() - started);
  }
  try {
    for (const { stream, position } of cursorQuery.all() as { stream: string; position: string }[]) {
      figures.cursorReadings += 1;
      const previous = lastCursor.get(stream);
      // Canonical 7-digit instants compare as strings.
      if (previous !== undefined && position < previous) figures.cursorRegressions += 1;
      lastCursor.set(stream, position);
    }
  } catch (error) {
    figures.errors += 1;
    if (figures.errorSamples.length < 5) figures.errorSamples.push((error as Error).message);
  }
}

function loop(): void {
  if (stopping) return;
  readOnce();
  setTimeout(loop, 5);
}

process.on('SIGTERM', () => {
  stopping = true;
  db.close();
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
loop();
