// What `status` shows about the store: counts, cursors and the last runs, read without writing.
import type { Db } from './database.js';
import { schemaVersion } from './migrate.js';
import { syncRuns, type SyncRunRecord } from './syncRuns.js';
import { cursorResets, type CursorReset } from './cursorResets.js';

/** The schema version that has cursor_resets (migration 006). */
const RESETS_VERSION = 6;
/** The schema version that has incidents (migration 010). */
const INCIDENTS_VERSION = 10;

export interface StoreStatus {
  schemaVersion: number;
  alerts: number;
  openBySeverity: { severity: string | null; open_alerts: number }[];
  byStatus: { status: string | null; alerts: number }[];
  changes: number;
  rejected: number;
  /** Graph's incidents (migration 010): stored, open (neither resolved nor merged) by severity, merged. */
  incidents: { stored: number; merged: number; changes: number; openBySeverity: { severity: string | null; open_incidents: number }[] };
  cursors: { stream: string; position: string; updated_at: string }[];
  runs: SyncRunRecord[];
  /** The latest operator moves of a cursor (resync), newest first. */
  resets: CursorReset[];
}

export function storeStatus(db: Db, runLimit = 5): StoreStatus {
  const version = schemaVersion(db);
  const noIncidents = { stored: 0, merged: 0, changes: 0, openBySeverity: [] };
  if (version === 0) return { schemaVersion: 0, alerts: 0, openBySeverity: [], byStatus: [], changes: 0, rejected: 0, incidents: noIncidents, cursors: [], runs: [], resets: [] };
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const incidents =
    version >= INCIDENTS_VERSION
      ? {
          stored: count('SELECT count(*) AS n FROM incidents'),
          merged: count("SELECT count(*) AS n FROM incidents WHERE status = 'Redirected'"),
          changes: count('SELECT count(*) AS n FROM incident_changes'),
          openBySeverity: db.prepare('SELECT severity, open_incidents FROM open_incidents_by_severity').all() as StoreStatus['incidents']['openBySeverity'],
        }
      : noIncidents;
  return {
    schemaVersion: version,
    alerts: count('SELECT count(*) AS n FROM alerts'),
    openBySeverity: db.prepare('SELECT severity, open_alerts FROM open_alerts_by_severity').all() as StoreStatus['openBySeverity'],
    byStatus: db.prepare('SELECT status, count(*) AS alerts FROM alerts GROUP BY status ORDER BY alerts DESC').all() as StoreStatus['byStatus'],
    changes: count('SELECT count(*) AS n FROM alert_changes'),
    rejected: count('SELECT count(*) AS n FROM rejected_alerts'),
    incidents,
    cursors: db.prepare('SELECT stream, position, updated_at FROM sync_cursor ORDER BY stream').all() as StoreStatus['cursors'],
    runs: syncRuns(db).recent(runLimit),
    resets: version >= RESETS_VERSION ? cursorResets(db).recent(3) : [],
  };
}
