// The sync_runs table: one row per pass, written at its start so that a pass killed midway stays visible.
import type { Db } from './database.js';
import type { UpsertCounts } from './upsertAlerts.js';
import type { RecordEntity } from '../recordEntity.js';

export type RunOutcome = 'success' | 'failed' | 'interrupted';

export interface RunProgress {
  windows: number;
  requests: number;
  retries: number;
  throttled: number;
}

/** Where a running pass has got to (migration 012): instants in canonical text. */
export interface RunSpan {
  spanFrom: string;
  spanTo: string;
  readThrough: string;
  /** When the pass is expected to end, at the pace of its last windows. */
  expectedEndAt: string | null;
}

export interface SyncRunRecord {
  id: number;
  source: string;
  started_at: string;
  finished_at: string | null;
  outcome: string;
  alerts_received: number;
  alerts_inserted: number;
  alerts_updated: number;
  alerts_unchanged: number;
  alerts_stale: number;
  alerts_rejected: number;
  windows: number;
  requests: number;
  retries: number;
  throttled: number;
  error: string | null;
  cursor_before: string | null;
  cursor_after: string | null;
  signed_in_user: string | null;
  stream: string | null;
  /** alerts or incidents (migration 010; absent in older databases). */
  entity?: string;
  clock_skew_ms: number | null;
  note: string | null;
  /** Absent in a database older than migration 012 (status does not migrate). */
  span_from?: string | null;
  span_to?: string | null;
  read_through?: string | null;
  last_window_at?: string | null;
  expected_end_at?: string | null;
}

export function syncRuns(db: Db) {
  const start = db.prepare(
    "INSERT INTO sync_runs (source, stream, started_at, outcome, cursor_before, signed_in_user, entity) VALUES (?, ?, ?, 'running', ?, ?, ?)",
  );
  const addCounts = db.prepare(
    `UPDATE sync_runs SET alerts_received = alerts_received + @received, alerts_inserted = alerts_inserted + @inserted,
       alerts_updated = alerts_updated + @updated, alerts_unchanged = alerts_unchanged + @unchanged,
       alerts_stale = alerts_stale + @stale, alerts_rejected = alerts_rejected + @rejected,
       windows = @windows, requests = @requests, retries = @retries, throttled = @throttled, cursor_after = @cursor,
       span_from = coalesce(@spanFrom, span_from), span_to = coalesce(@spanTo, span_to),
       read_through = coalesce(@readThrough, read_through), last_window_at = @now, expected_end_at = @expectedEndAt
     WHERE id = @id`,
  );
  const finish = db.prepare(
    `UPDATE sync_runs SET finished_at = @now, outcome = @outcome, error = @error, windows = @windows,
       requests = @requests, retries = @retries, throttled = @throttled WHERE id = @id`,
  );
  const interrupt = db.prepare(
    "UPDATE sync_runs SET outcome = 'interrupted', error = 'the process stopped before the pass finished' WHERE outcome = 'running'",
  );
  const setUser = db.prepare('UPDATE sync_runs SET signed_in_user = ? WHERE id = ?');
  const setCursorBefore = db.prepare('UPDATE sync_runs SET cursor_before = ? WHERE id = ?');
  const setSkew = db.prepare('UPDATE sync_runs SET clock_skew_ms = ? WHERE id = ?');
  const addNote = db.prepare("UPDATE sync_runs SET note = coalesce(note || '; ', '') || ? WHERE id = ?");
  // Cursors are canonical text (7 fraction digits): text order is time order.
  const lastCursor = db.prepare<[string, string, string], { cursor_before: string | null; cursor_after: string | null; started_at: string; finished_at: string | null }>(
    `SELECT cursor_before, cursor_after, started_at, finished_at FROM sync_runs
     WHERE stream = ? AND (cursor_after <= ? OR cursor_before <= ?) ORDER BY id DESC LIMIT 1`,
  );
  const recent = db.prepare<[number], SyncRunRecord>('SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?');
  const lastUser = db.prepare<[], { signed_in_user: string | null }>(
    "SELECT signed_in_user FROM sync_runs WHERE signed_in_user IS NOT NULL AND outcome <> 'running' ORDER BY id DESC LIMIT 1",
  );

  return {
    /** `entity`: the kind of record the run's counts count (migration 010). */
    start(source: string, startedAt: string, cursorBefore: string | null, user: string | null, stream: string | null = null, entity: RecordEntity = 'alerts'): number {
      return Number(start.run(source, stream, startedAt, cursorBefore, user, entity).lastInsertRowid);
    },
    setCursorBefore(id: number, cursor: string | null): void {
      setCursorBefore.run(cursor, id);
    },
    /** The API's clock minus this machine's, at the pass's first answer. */
    setClockSkew(id: number, skewMs: number): void {
      setSkew.run(Math.round(skewMs), id);
    },
    addNote(id: number, note: string): void {
      addNote.run(note, id);
    },
    /**
     * The latest run of the stream that recorded a cursor not later than `limit`: that cursor (the later of
     * its before and after not past the limit) and when the run ended (or began, if it never ended).
     */
    lastCursorNotAfter(stream: string, limit: string): { cursor: string; endedAt: string } | undefined {
      const row = lastCursor.get(stream, limit, limit);
      if (!row) return undefined;
      const candidates = [row.cursor_after, row.cursor_before].filter((c): c is string => c !== null && c <= limit).sort();
      return { cursor: candidates.at(-1)!, endedAt: row.finished_at ?? row.started_at };
    },
    addCounts(id: number, counts: UpsertCounts, progress: RunProgress, cursor: string | null, now: string, span?: RunSpan): void {
      addCounts.run({ id, ...counts, ...progress, cursor, now, spanFrom: span?.spanFrom ?? null, spanTo: span?.spanTo ?? null, readThrough: span?.readThrough ?? null, expectedEndAt: span?.expectedEndAt ?? null });
    },
    finish(id: number, now: string, outcome: RunOutcome, progress: RunProgress, error: string | null): void {
      finish.run({ id, now, outcome, error, ...progress });
    },
    setUser(id: number, user: string): void {
      setUser.run(user, id);
    },
    /** Runs left 'running' by a process that died; returns how many. */
    markInterrupted(): number {
      return interrupt.run().changes;
    },
    recent(limit: number): SyncRunRecord[] {
      return recent.all(limit);
    },
    lastSignedInUser(): string | null {
      return lastUser.get()?.signed_in_user ?? null;
    },
  };
}
export type SyncRuns = ReturnType<typeof syncRuns>;
