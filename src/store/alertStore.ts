// The store as the sync engine sees it: open (and migrate), then commit each fully read window's rows and
// the cursor that covers them in one transaction, so a crash at any point resumes exactly where it stopped.
import { UserFacingError } from '../errors.js';
import { formatInstant, instantFromMs, storedTimestamp, type Instant } from '../instants.js';
import { cursorStore, type CursorStore } from './cursorStore.js';
import { openDatabase, storeError, type Db } from './database.js';
import { migrate } from './migrate.js';
import { syncRuns, type RunProgress, type RunSpan, type SyncRuns } from './syncRuns.js';
import type { AlertSource } from '../config/settings.js';
import { prepareUpsertAlerts, type AlertUpserter, type UpsertCounts } from './upsertAlerts.js';
import { prepareUpsertIncidents, type IncidentUpserter } from './upsertIncidents.js';
import type { RecordEntity } from '../recordEntity.js';
import { LOCK_CODES, retryWrite } from './writeRetry.js';
import { closeWriter, DEFAULT_WAL_POLICY, type WalPolicy } from './walPolicy.js';

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
  /** How far the pass has read, for `status` while it runs. */
  span?: RunSpan;
  /** The API the alerts came from (default defender). */
  source?: AlertSource;
  /** The kind of record the window holds (default alerts): each kind has its own tables. */
  entity?: RecordEntity;
}

export class AlertStore {
  readonly cursors: CursorStore;
  readonly runs: SyncRuns;
  private readonly upsert: AlertUpserter;
  private readonly upsertIncidents: IncidentUpserter;

  private constructor(
    readonly db: Db,
    readonly file: string,
    readonly wal: WalPolicy,
  ) {
    this.cursors = cursorStore(db);
    this.runs = syncRuns(db);
    this.upsert = prepareUpsertAlerts(db);
    this.upsertIncidents = prepareUpsertIncidents(db);
  }

  static open(file: string, wal: WalPolicy = DEFAULT_WAL_POLICY): AlertStore {
    const db = openDatabase(file, { wal });
    try {
      migrate(db);
      return new AlertStore(db, file, wal);
    } catch (error) {
      closeWriter(db, wal);
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
      const counts =
        commit.entity === 'incidents'
          ? this.upsertIncidents(commit.alerts, { runId: commit.runId, now })
          : this.upsert(commit.alerts, { runId: commit.runId, now, ...(commit.source ? { source: commit.source } : {}) });
      const cursor = commit.cursor === null ? this.cursors.get(commit.stream) : this.cursors.advance(commit.stream, commit.cursor, commit.runId, now);
      this.runs.addCounts(commit.runId, counts, commit.progress, cursor === undefined ? null : formatInstant(cursor), formatInstant(instantFromMs(Date.now())), commit.span);
      return { ...counts, cursor };
    });
  }

  /** Leaves the file readable for users who may not write its folder (walPolicy.ts). */
  close(): void {
    closeWriter(this.db, this.wal);
  }
}
