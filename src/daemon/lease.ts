// The single-writer lease: held in the database itself, so it works wherever the file is, and cannot stay
// stuck: a holder that stops heartbeating, or that is certainly gone from this host (processIdentity.ts),
// loses it. A heartbeat that cannot be written (another program holds the write lock, the disk is full) is
// retried, not taken for a lost lease: only a heartbeat that is written and finds another owner is one.
import { randomUUID } from 'node:crypto';
import { ExitCode, UserFacingError, errorMessage } from '../errors.js';
import { storedTimestamp } from '../instants.js';
import type { Logger } from '../logger.js';
import type { AlertStore } from '../store/alertStore.js';
import { DISK_CODES, LOCK_CODES, retryWrite } from '../store/writeRetry.js';
import { holderGone, thisProcess, type ProcessIdentity } from './processIdentity.js';

export const LEASE_TIMEOUT_MS = 60_000;
/** Longest pause between two attempts of a heartbeat that cannot be written. */
const HEARTBEAT_RETRY_MAX_MS = 5_000;

export class AnotherWriterError extends UserFacingError {
  constructor(message: string) {
    super(message, ExitCode.anotherWriter);
  }
}

interface LeaseRow {
  owner: string;
  host: string;
  pid: number;
  boot_id: string | null;
  start_ticks: number | null;
  command: string;
  acquired_at: string;
  heartbeat_at: string;
}

export class WriterLease {
  readonly owner = randomUUID();
  private readonly self: ProcessIdentity = thisProcess();

  constructor(
    private readonly store: AlertStore,
    private readonly command: string,
    private readonly timeoutMs = LEASE_TIMEOUT_MS,
  ) {}

  private current(): LeaseRow | undefined {
    return this.store.db.prepare('SELECT owner, host, pid, boot_id, start_ticks, command, acquired_at, heartbeat_at FROM worker_lease WHERE id = 1').get() as LeaseRow | undefined;
  }

  /** Takes the lease or throws AnotherWriterError naming the holder; returns whom it took over from, if anyone. */
  acquire(): string | undefined {
    return this.store.write(() => {
      const holder = this.current();
      const now = Date.now();
      let previous: string | undefined;
      if (holder && holder.owner !== this.owner) {
        const silentMs = now - Date.parse(holder.heartbeat_at);
        const gone = holderGone({ host: holder.host, pid: holder.pid, bootId: holder.boot_id, startTicks: holder.start_ticks }, this.self);
        if (!gone && silentMs < this.timeoutMs) {
          throw new AnotherWriterError(
            `Another mde-alert-sync ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired_at}) is writing to ${this.store.file}; only one writer may run. ` +
              `Stop it first; if it crashed on another host, its lease expires ${Math.ceil((this.timeoutMs - silentMs) / 1000)} s after its last heartbeat.`,
          );
        }
        previous = `${holder.command} (pid ${holder.pid} on ${holder.host}, last heartbeat ${holder.heartbeat_at}): ${gone ?? `no heartbeat for ${Math.round(silentMs / 1000)} s`}`;
      }
      const stamp = storedTimestamp(now);
      this.store.db
        .prepare(
          `INSERT INTO worker_lease (id, owner, host, pid, boot_id, start_ticks, command, acquired_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, boot_id = excluded.boot_id,
             start_ticks = excluded.start_ticks, command = excluded.command, acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`,
        )
        .run(this.owner, this.self.host, this.self.pid, this.self.bootId, this.self.startTicks, this.command, stamp, stamp);
      return previous;
    });
  }

  /** Renews the lease; returns false if another writer has taken it over. One attempt: throws if it cannot write. */
  heartbeat(): boolean {
    return this.store.write(() => this.store.db.prepare('UPDATE worker_lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?').run(storedTimestamp(), this.owner).changes === 1);
  }

  release(): void {
    this.store.write(() => this.store.db.prepare('DELETE FROM worker_lease WHERE id = 1 AND owner = ?').run(this.owner));
  }
}

/**
 * Acquires the lease and keeps it fresh (a heartbeat every timeoutMs / 4) until released; `onLost` runs if
 * another writer has taken it over, or if a heartbeat fails for a reason that retrying cannot cure.
 */
export function holdWriterLease(store: AlertStore, command: string, logger: Logger, onLost: (error: Error) => void, timeoutMs = LEASE_TIMEOUT_MS): { release(): void } {
  const lease = new WriterLease(store, command, timeoutMs);
  const previous = lease.acquire();
  if (previous) logger.info({ previous }, 'took over the writer lease');
  const stop = new AbortController();
  let lastWrittenMs = Date.now();
  let timer: NodeJS.Timeout | undefined;

  const beat = async () => {
    let failingSinceMs: number | undefined;
    let expiryWarned = false;
    try {
      const held = await retryWrite(() => lease.heartbeat(), {
        codes: [...LOCK_CODES, ...DISK_CODES],
        maxWaitMs: Number.POSITIVE_INFINITY,
        maxDelayMs: HEARTBEAT_RETRY_MAX_MS,
        signal: stop.signal,
        unref: true,
        onRetry: (error) => {
          if (failingSinceMs === undefined) {
            failingSinceMs = Date.now();
            logger.warn({ reason: errorMessage(error) }, 'the lease heartbeat could not be written: retrying; the worker keeps running');
          } else if (!expiryWarned && Date.now() - lastWrittenMs >= timeoutMs) {
            expiryWarned = true;
            logger.warn({ lastHeartbeatAt: new Date(lastWrittenMs).toISOString() }, 'no lease heartbeat written for longer than the lease timeout: a writer on another host may take over; the next heartbeat written tells');
          }
        },
      });
      if (stop.signal.aborted) return;
      if (!held) return onLost(new AnotherWriterError(`Another writer took over the lease of ${store.file}; this ${command} stops.`));
      lastWrittenMs = Date.now();
      if (failingSinceMs !== undefined) logger.info({ failedForMs: lastWrittenMs - failingSinceMs }, 'the lease heartbeat is written again');
    } catch (error) {
      if (stop.signal.aborted) return;
      return onLost(error as Error);
    }
    schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void beat(), timeoutMs / 4);
    timer.unref();
  };
  schedule();

  return {
    release() {
      stop.abort();
      clearTimeout(timer);
      if (!store.db.open) return;
      try {
        lease.release();
      } catch (error) {
        // Nothing is lost: a later start on this host takes a dead holder's lease over at once, another host
        // after the lease timeout.
        logger.warn({ reason: errorMessage(error) }, 'could not remove the writer lease row');
      }
    },
  };
}
