// Writes that meet a busy (or full) database while the worker runs: each attempt waits at most the short busy
// timeout (better-sqlite3 waits synchronously, so a long wait would stall the health endpoints), and the
// retries wait asynchronously, with backoff, so the event loop stays free in between.
import pRetry from 'p-retry';

/** Another connection holds the write lock (a reporting tool in a write transaction). */
export const LOCK_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED'];
/** The write itself cannot land: the disk is full or reported an I/O error; freeing space cures it. */
export const DISK_CODES = ['SQLITE_FULL', 'SQLITE_IOERR'];

/** SQLite's result code behind an error (StoreError keeps SQLite's own error as its cause). */
export function sqliteCode(error: unknown): string {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return code;
  }
  return '';
}

/** Whether the error's SQLite code is one of `codes` (extended codes such as SQLITE_BUSY_SNAPSHOT included). */
export function hasSqliteCode(error: unknown, codes: readonly string[]): boolean {
  const code = sqliteCode(error);
  return codes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
}

export interface WriteRetryOptions {
  /** Codes worth another attempt; any other error fails at once. */
  codes: readonly string[];
  /** Give up (rethrow the last error) after this long; Infinity retries until it works or `signal` aborts. */
  maxWaitMs: number;
  /** Longest pause between two attempts. */
  maxDelayMs?: number;
  signal?: AbortSignal | undefined;
  /** The pauses do not keep the process alive (a background write such as the heartbeat). */
  unref?: boolean;
  onRetry?: (error: Error, attempt: number) => void;
}

export function retryWrite<T>(write: () => T, options: WriteRetryOptions): Promise<T> {
  return pRetry(write, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 100,
    maxTimeout: options.maxDelayMs ?? 2000,
    randomize: true,
    maxRetryTime: options.maxWaitMs,
    unref: options.unref ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
    shouldRetry: ({ error }) => hasSqliteCode(error, options.codes),
    onFailedAttempt: ({ error, attemptNumber }) => {
      if (hasSqliteCode(error, options.codes)) options.onRetry?.(error, attemptNumber);
    },
  });
}
