// The incident views over a store of N incidents (default 100,000), written through the store's own upsert
// (as a backfill writes them): a realistic mix of severities, assignees and statuses, a tenth merged into
// others (status redirected), created over 180 days. Used by `npm run bench` and on its own:
//   node --import tsx bench/incidentViews.ts [N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AlertStore } from '../src/store/alertStore.js';

export const INCIDENT_VIEWS = ['open_incidents_by_severity', 'incidents_per_day', 'incident_time_to_resolve', 'incident_time_to_resolve_by_severity', 'open_incidents_by_assignee'];

const SEVERITIES = ['high', 'medium', 'low', 'informational', 'unknown'];
const STATUSES = ['active', 'inProgress', 'resolved', 'resolved', 'resolved', 'awaitingAction'];
const ASSIGNEES = [null, 'secops@contoso.example', 'tier1@contoso.example', 'tier2@contoso.example', 'KaiC@contoso.example'];
const TENANT = '8d5c1c5e-0b7a-4c43-9b5f-1f6b2c0de001';
const DAY_MS = 86_400_000;

/** A deterministic incident `i` of `n`, shaped like Graph's. */
function incident(i: number, n: number, nowMs: number): Record<string, unknown> {
  const createdMs = nowMs - 180 * DAY_MS + Math.floor((i / n) * 180 * DAY_MS);
  const merged = i % 10 === 9;
  const status = merged ? 'redirected' : STATUSES[i % STATUSES.length]!;
  return {
    '@odata.type': '#microsoft.graph.security.incident',
    id: String(100_000 + i),
    tenantId: TENANT,
    displayName: `Multi-stage incident ${i}`,
    status,
    severity: SEVERITIES[(i * 7) % SEVERITIES.length],
    classification: status === 'resolved' ? 'truePositive' : 'unknown',
    determination: status === 'resolved' ? 'malware' : 'unknown',
    assignedTo: ASSIGNEES[(i * 3) % ASSIGNEES.length],
    createdDateTime: new Date(createdMs).toISOString(),
    lastUpdateDateTime: new Date(createdMs + ((i * 37) % 72) * 3_600_000).toISOString(),
    redirectIncidentId: merged ? String(100_000 + i - 1) : null,
    customTags: i % 4 === 0 ? ['Ransomware'] : [],
    systemTags: [],
    incidentWebUrl: `https://security.microsoft.com/incidents/${100_000 + i}?tid=${TENANT}`,
    description: 'Defender XDR correlated alerts into this incident.',
  };
}

/** Writes n incidents into a new store at dbPath, a thousand to a transaction. */
export function fillIncidents(dbPath: string, n: number, nowMs = Date.now()): void {
  const store = AlertStore.open(dbPath);
  try {
    const progress = { windows: 0, requests: 0, retries: 0, throttled: 0 };
    for (let start = 0; start < n; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - start) }, (_, k) => incident(start + k, n, nowMs));
      store.commitWindow({ runId: 0, stream: 'graph:incidents', entity: 'incidents', alerts: batch, cursor: null, progress });
    }
  } finally {
    store.close();
  }
}

/** Each incident view's median time over 7 warm runs. */
export function incidentViewTimes(dbPath: string): { view: string; medianMs: number; rows: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return INCIDENT_VIEWS.map((view) => {
      const statement = db.prepare(`SELECT * FROM ${view}`);
      let rows = statement.all().length;
      const times: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        const started = performance.now();
        rows = statement.all().length;
        times.push(performance.now() - started);
      }
      return { view, medianMs: [...times].sort((a, b) => a - b)[3]!, rows };
    });
  } finally {
    db.close();
  }
}

/** The section `npm run bench` prints. */
export function incidentViewFigures(n: number, print: (line?: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'mde-bench-incidents-'));
  try {
    const dbPath = path.join(dir, 'incidents.db');
    const started = performance.now();
    fillIncidents(dbPath, n);
    print(`Incident views over ${n} stored incidents (a tenth merged; written through the store in ${((performance.now() - started) / 1000).toFixed(1)} s; median of 7, warm cache)`);
    for (const { view, medianMs, rows } of incidentViewTimes(dbPath)) print(`  ${view.padEnd(36)} ${medianMs.toFixed(1).padStart(8)} ms  (${rows} rows; target < 100 ms: ${medianMs < 100 ? 'met' : 'MISSED'})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) incidentViewFigures(Number(process.argv[2] ?? 100_000), (line = '') => process.stdout.write(`${line}\n`));
