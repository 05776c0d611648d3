// The store as the sync engine sees it: open (and migrate), then commit each fully read window's rows and
// the cursor that covers them in one transaction, so a crash at any point resumes exactly where it stopped.
import { UserFacingError } from '../errors.js';
import { formatInstant, storedTimestamp, type Instant } from '../instants.js';
import { cursorStore, type CursorStore } from './cursorStore.js';
import { openDatabase, storeError, type Db } from './database.js';
import { migrate } from './migrate.js';
import { syncRuns, type RunProgress, type SyncRuns } from './syncRuns.js';
import type { AlertSource } from '../config/settings.js';
import { prepareUpsertAlerts, type AlertUpserter, type UpsertCounts } from './upsertAlerts.js';
import { LOCK_CODES, retryWrite } from './writeRetry.js';

/**
 * How long a write of a pass waits for the write lock another program holds (a reporting tool's long
 * transaction); then the pass fails, so that /readyz and the metrics show it, and the next tick retries.
 */
export const LOCKED_WRITE_WAIT_MS = 30_000;

export interface WindowCommit {
  runId: number;
  stream: string;
  alerts: unknown[];
  /** New cursor position (moved forward only), or null to leave it. */
  cursor: Instant | null;
  progress: RunProgress;
  /** The API the alerts came from (default defender). */
  source?: AlertSource;
}

export class AlertStore {
  readonly cursors: CursorStore;
  readonly runs: SyncRuns;
  private readonly upsert: AlertUpserter;

  private constructor(
    readonly db: Db,
    readonly file: string,
  ) {
    this.cursors = cursorStore(db);
    this.runs = syncRuns(db);
    this.upsert = prepareUpsertAlerts(db);
  }

  static open(file: string): AlertStore {
    const db = openDatabase(file);
    try {
      migrate(db);
      return new AlertStore(db, file);
    } catch (error) {
      db.close();
      throw storeError(error, file);
    }
  }

  /** Runs a write as one IMMEDIATE transaction, turning SQLite failures into operator messages. */
  write<T>(work: () => T): T {
    try {
      return this.db.transaction(work).immediate();
    } catch (error) {
      if (error instanceof UserFacingError) throw error;
      throw storeError(error, this.file);
    }
  }

  /**
   * Runs `attempt` (one write: `write` or `commitWindow`) again while another connection holds the write
   * lock, for up to LOCKED_WRITE_WAIT_MS, without blocking the event loop between attempts.
   */
  whenUnlocked<T>(attempt: () => T, options: { signal?: AbortSignal | undefined; onWait?: (error: Error) => void } = {}): Promise<T> {
    return retryWrite(attempt, {
      codes: LOCK_CODES,
      maxWaitMs: LOCKED_WRITE_WAIT_MS,
      signal: options.signal,
      onRetry: (error, attemptNumber) => {
        if (attemptNumber === 1) options.onWait?.(error);
      },
    });
  }

  commitWindow(commit: WindowCommit): UpsertCounts & { cursor: Instant | undefined } {
    return this.write(() => {
      const now = storedTimestamp();
      const counts = this.upsert(commit.alerts, { runId: commit.runId, now, ...(commit.source ? { source: commit.source } : {}) });
      const cursor = commit.cursor === null ? this.cursors.get(commit.stream) : this.cursors.advance(commit.stream, commit.cursor, commit.runId, now);
      this.runs.addCounts(commit.runId, counts, commit.progress, cursor === undefined ? null : formatInstant(cursor));
      return { ...counts, cursor };
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
