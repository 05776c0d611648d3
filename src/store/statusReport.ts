// What `status` shows about the store: counts, cursors and the last runs, read without writing.
import type { Db } from './database.js';
import { schemaVersion } from './migrate.js';
import { syncRuns, type SyncRunRecord } from './syncRuns.js';
import { cursorResets, type CursorReset } from './cursorResets.js';

/** The schema version that has cursor_resets (migration 006). */
const RESETS_VERSION = 6;

export interface StoreStatus {
  schemaVersion: number;
  alerts: number;
  openBySeverity: { severity: string | null; open_alerts: number }[];
  byStatus: { status: string | null; alerts: number }[];
  changes: number;
  rejected: number;
  cursors: { stream: string; position: string; updated_at: string }[];
  runs: SyncRunRecord[];
  /** The latest operator moves of a cursor (resync), newest first. */
  resets: CursorReset[];
}

export function storeStatus(db: Db, runLimit = 5): StoreStatus {
  const version = schemaVersion(db);
  if (version === 0) return { schemaVersion: 0, alerts: 0, openBySeverity: [], byStatus: [], changes: 0, rejected: 0, cursors: [], runs: [], resets: [] };
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    schemaVersion: version,
    alerts: count('SELECT count(*) AS n FROM alerts'),
    openBySeverity: db.prepare('SELECT severity, open_alerts FROM open_alerts_by_severity').all() as StoreStatus['openBySeverity'],
    byStatus: db.prepare('SELECT status, count(*) AS alerts FROM alerts GROUP BY status ORDER BY alerts DESC').all() as StoreStatus['byStatus'],
    changes: count('SELECT count(*) AS n FROM alert_changes'),
    rejected: count('SELECT count(*) AS n FROM rejected_alerts'),
    cursors: db.prepare('SELECT stream, position, updated_at FROM sync_cursor ORDER BY stream').all() as StoreStatus['cursors'],
    runs: syncRuns(db).recent(runLimit),
    resets: version >= RESETS_VERSION ? cursorResets(db).recent(3) : [],
  };
}
