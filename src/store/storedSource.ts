// Which API an existing database has been syncing, for a configuration that does not set `source`: such a
// database keeps its source (its cursor goes on; nothing is read again or left behind), a new one gets Graph.
import { existsSync } from 'node:fs';
import { SOURCES, type AlertSource, type SourceChoice } from '../config/settings.js';
import { openDatabase, storeError, type Db } from './database.js';

const isSource = (name: string): name is AlertSource => (SOURCES as readonly string[]).includes(name);

function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')").get(name) !== undefined;
}

/** The stream moved last (streams are named "<source>:<query>"). */
function fromCursors(db: Db): Omit<SourceChoice, 'explicit'> | undefined {
  if (!hasTable(db, 'sync_cursor')) return undefined;
  const rows = db.prepare('SELECT stream, updated_at FROM sync_cursor ORDER BY updated_at DESC').all() as { stream: string; updated_at: string }[];
  const row = rows.find((r) => isSource(r.stream.split(':')[0]!));
  if (!row) return undefined;
  const source = row.stream.split(':')[0] as AlertSource;
  return { source, reason: `the database holds a ${source} cursor (${row.stream}, moved ${row.updated_at}): it keeps syncing that source` };
}

/** Alerts without a cursor (none committed with one yet): the source of the version stored last. */
function fromAlerts(db: Db): Omit<SourceChoice, 'explicit'> | undefined {
  if (!hasTable(db, 'alerts')) return undefined;
  // Before migration 005 every stored alert came from the Defender API.
  const hasSource = db.prepare("SELECT 1 FROM pragma_table_info('alerts') WHERE name = 'source'").get() !== undefined;
  const row = db.prepare(hasSource ? 'SELECT source FROM alerts ORDER BY last_stored_at DESC LIMIT 1' : "SELECT 'defender' AS source FROM alerts LIMIT 1").get() as { source: string } | undefined;
  if (!row || !isSource(row.source)) return undefined;
  return { source: row.source, reason: `the database holds alerts from ${row.source}: it keeps syncing that source` };
}

/** Read-only; undefined for a missing or empty database. */
export function storedSource(databasePath: string): Omit<SourceChoice, 'explicit'> | undefined {
  if (!existsSync(databasePath)) return undefined;
  const db = openDatabase(databasePath, { readonly: true });
  try {
    return fromCursors(db) ?? fromAlerts(db);
  } catch (error) {
    throw storeError(error, databasePath);
  } finally {
    db.close();
  }
}
