// The single-writer lease: held in the database itself, so it works wherever the file is, and cannot stay
// stuck: a holder that stops heartbeating, or whose process no longer exists on this host, loses it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ExitCode, UserFacingError } from '../errors.js';
import type { AlertStore } from '../store/alertStore.js';

export const LEASE_TIMEOUT_MS = 60_000;

export class AnotherWriterError extends UserFacingError {
  constructor(message: string) {
    super(message, ExitCode.anotherWriter);
  }
}

interface LeaseRow {
  owner: string;
  host: string;
  pid: number;
  command: string;
  acquired_at: string;
  heartbeat_at: string;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class WriterLease {
  readonly owner = randomUUID();
  private readonly host = hostname();

  constructor(
    private readonly store: AlertStore,
    private readonly command: string,
    private readonly timeoutMs = LEASE_TIMEOUT_MS,
  ) {}

  private current(): LeaseRow | undefined {
    return this.store.db.prepare('SELECT owner, host, pid, command, acquired_at, heartbeat_at FROM worker_lease WHERE id = 1').get() as LeaseRow | undefined;
  }

  /** Takes the lease or throws AnotherWriterError naming the holder. */
  acquire(): void {
    this.store.write(() => {
      const holder = this.current();
      const now = Date.now();
      if (holder && holder.owner !== this.owner) {
        const silentMs = now - Date.parse(holder.heartbeat_at);
        const gone = holder.host === this.host && !processExists(holder.pid);
        if (!gone && silentMs < this.timeoutMs) {
          throw new AnotherWriterError(
            `Another mde-alert-sync ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired_at}) is writing to ${this.store.file}; only one writer may run. ` +
              `Stop it first; if it crashed on another host, its lease expires ${Math.ceil((this.timeoutMs - silentMs) / 1000)} s after its last heartbeat.`,
          );
        }
      }
      const stamp = new Date(now).toISOString();
      this.store.db
        .prepare(
          `INSERT INTO worker_lease (id, owner, host, pid, command, acquired_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, command = excluded.command,
             acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`,
        )
        .run(this.owner, this.host, process.pid, this.command, stamp, stamp);
    });
  }

  /** Renews the lease; returns false if another writer has taken it over. */
  heartbeat(): boolean {
    return this.store.write(() => this.store.db.prepare('UPDATE worker_lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?').run(new Date().toISOString(), this.owner).changes === 1);
  }

  release(): void {
    this.store.write(() => this.store.db.prepare('DELETE FROM worker_lease WHERE id = 1 AND owner = ?').run(this.owner));
  }
}

/** Acquires the lease and keeps it fresh until released; `onLost` runs if another writer takes it over. */
export function holdWriterLease(store: AlertStore, command: string, onLost: (error: Error) => void): { release(): void } {
  const lease = new WriterLease(store, command);
  lease.acquire();
  const timer = setInterval(() => {
    try {
      if (!lease.heartbeat()) onLost(new AnotherWriterError(`Another writer took over the lease of ${store.file}; this ${command} stops.`));
    } catch (error) {
      onLost(error as Error);
    }
  }, LEASE_TIMEOUT_MS / 4);
  timer.unref();
  return {
    release() {
      clearInterval(timer);
      if (store.db.open) lease.release();
    },
  };
}
