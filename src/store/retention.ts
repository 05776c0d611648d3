// Retention, after a pass: finished sync_runs older than syncRunRetention, and (opt-in) the history of alerts
// resolved and unchanged for longer than resolvedHistoryRetention. Alerts themselves are never pruned. Tables
// are walked by id range, one short write transaction per range, with the event loop free in between, so
// readers, the pass's writes and the health endpoints never wait long. alert_changes is append-only by a trigger (migration 001): the pruning
// transaction drops it and creates it again before committing, so no other connection ever sees it missing.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { StoreError, errorMessage } from '../errors.js';
import { storedTimestamp } from '../instants.js';
import type { Logger } from '../logger.js';
import type { AlertStore } from './alertStore.js';
import type { Db } from './database.js';

export interface RetentionPolicy {
  syncRunRetention: number;
  resolvedHistoryRetention?: number | undefined;
}

export interface Pruned {
  runs: number;
  changes: number;
}

/** Rows examined per transaction: by id range, so a transaction stays short however large the table. */
const SCAN = 2000;
const NO_DELETE_TRIGGER = 'alert_changes_no_delete';

/** A table pruned by id range: the expired ids in (from, to], and a statement that deletes one. */
interface RangeQuery {
  maxId: () => number;
  select: (from: number, to: number) => number[];
  remove: (id: number) => void;
}

function runsQuery(db: Db, cutoff: string): RangeQuery {
  // Never a running pass, and never the latest run of a stream (status and the cursor repair read it).
  const select = db.prepare<[number, number, string], number>(
    `SELECT id FROM sync_runs WHERE id > ? AND id <= ? AND started_at < ? AND outcome <> 'running'
       AND id NOT IN (SELECT max(id) FROM sync_runs GROUP BY stream)`,
  ).pluck();
  const remove = db.prepare('DELETE FROM sync_runs WHERE id = ?');
  const maxId = db.prepare<[], number | null>('SELECT max(id) FROM sync_runs').pluck();
  return { maxId: () => maxId.get() ?? 0, select: (from, to) => select.all(from, to, cutoff), remove: (id) => void remove.run(id) };
}

function changesQuery(db: Db, cutoff: string): RangeQuery {
  const select = db.prepare<[number, number, string, string], number>(
    `SELECT c.id FROM alert_changes c JOIN alerts a ON a.id = c.alert_id
     WHERE c.id > ? AND c.id <= ? AND c.last_update_time < ? AND a.status = 'Resolved' AND a.last_update_time < ?`,
  ).pluck();
  const remove = db.prepare('DELETE FROM alert_changes WHERE id = ?');
  const maxId = db.prepare<[], number | null>('SELECT max(id) FROM alert_changes').pluck();
  return { maxId: () => maxId.get() ?? 0, select: (from, to) => select.all(from, to, cutoff, cutoff), remove: (id) => void remove.run(id) };
}

/** Runs `work` with the append-only trigger lifted, inside the caller's transaction. */
function withoutNoDeleteTrigger(db: Db, work: () => void): void {
  const trigger = db.prepare<[string], string>("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?").pluck().get(NO_DELETE_TRIGGER);
  if (!trigger) throw new StoreError(`alert_changes has lost its ${NO_DELETE_TRIGGER} trigger, which keeps the history append-only: not pruning it. Restore the trigger (migration 001).`);
  db.exec(`DROP TRIGGER ${NO_DELETE_TRIGGER}`);
  work();
  db.exec(trigger);
}

async function pruneInBatches(store: AlertStore, query: RangeQuery, wrap: (work: () => void) => void, signal?: AbortSignal): Promise<number> {
  const last = query.maxId();
  let total = 0;
  for (let from = 0; from < last; from += SCAN) {
    if (signal?.aborted) return total;
    total += await store.whenUnlocked(
      () =>
        store.write(() => {
          const batch = query.select(from, from + SCAN);
          if (batch.length > 0) wrap(() => batch.forEach(query.remove));
          return batch.length;
        }),
      { signal },
    );
    await yieldToEventLoop();
  }
  return total;
}

export async function pruneExpired(store: AlertStore, policy: RetentionPolicy, options: { nowMs?: number; signal?: AbortSignal } = {}): Promise<Pruned> {
  const nowMs = options.nowMs ?? Date.now();
  const runs = await pruneInBatches(store, runsQuery(store.db, storedTimestamp(nowMs - policy.syncRunRetention)), (work) => work(), options.signal);
  const changes =
    policy.resolvedHistoryRetention === undefined
      ? 0
      : await pruneInBatches(store, changesQuery(store.db, storedTimestamp(nowMs - policy.resolvedHistoryRetention)), (work) => withoutNoDeleteTrigger(store.db, work), options.signal);
  return { runs, changes };
}

/** After a pass: prunes, and logs what it pruned; a failure is logged, never fails the pass (the next one tries again). */
export async function pruneAfterPass(store: AlertStore, policy: RetentionPolicy, logger: Logger, signal?: AbortSignal): Promise<Pruned | undefined> {
  try {
    const pruned = await pruneExpired(store, policy, { ...(signal ? { signal } : {}) });
    if (pruned.runs || pruned.changes) logger.info({ syncRuns: pruned.runs, alertChanges: pruned.changes }, 'retention: pruned rows older than their retention');
    return pruned;
  } catch (error) {
    if (signal?.aborted) return undefined; // stopping: the next start prunes
    logger.warn({ reason: errorMessage(error) }, 'retention: pruning failed; the next pass tries again (nothing else is affected)');
    return undefined;
  }
}
