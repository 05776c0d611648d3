// The sync cursor of each stream (source + filters), kept in the same database as the rows it covers.
import { formatInstant, parseInstant, type Instant } from '../instants.js';
import type { Db } from './database.js';

export interface CursorStore {
  get(stream: string): Instant | undefined;
  /** Moves the cursor forward (never back); returns the position now stored. */
  advance(stream: string, position: Instant, runId: number | null, now: string): Instant;
  /** Puts the cursor at `position`, also backwards: only to re-read (a repair, or an operator's resync). */
  moveBack(stream: string, position: Instant, runId: number | null, now: string): void;
}

export function cursorStore(db: Db): CursorStore {
  const select = db.prepare<[string], { position: string }>('SELECT position FROM sync_cursor WHERE stream = ?');
  const upsert = db.prepare(
    `INSERT INTO sync_cursor (stream, position, updated_at, sync_run_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (stream) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at, sync_run_id = excluded.sync_run_id
     WHERE excluded.position > sync_cursor.position`,
  );
  const set = db.prepare('UPDATE sync_cursor SET position = ?, updated_at = ?, sync_run_id = ? WHERE stream = ?');
  const get = (stream: string): Instant | undefined => {
    const row = select.get(stream);
    return row ? parseInstant(row.position) : undefined;
  };
  return {
    get,
    advance(stream, position, runId, now) {
      upsert.run(stream, formatInstant(position), now, runId);
      return get(stream) ?? position;
    },
    moveBack(stream, position, runId, now) {
      set.run(formatInstant(position), now, runId, stream);
    },
  };
}
