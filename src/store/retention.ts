// Retention, after a pass: finished sync_runs older than syncRunRetention, and (opt-in) the history of alerts
// resolved and unchanged for longer than resolvedHistoryRetention. Alerts themselves are never pruned. Rows go
// in small batches, one short write transaction each, with the event loop free in between, so readers and the
// health endpoints never wait long. alert_changes is append-only by a trigger (migration 001): the pruning
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

const BATCH = 500;
const NO_DELETE_TRIGGER = 'alert_changes_no_delete';

/** Ids of the next batch after `after`, and a statement that deletes one id. */
interface BatchQuery {
  select: (after: number) => number[];
  remove: (id: number) => void;
}

function runsQuery(db: Db, cutoff: string): BatchQuery {
  // Never a running pass, and never the latest run of a stream (status and the cursor repair read it).
  const select = db.prepare<[number, string, number], number>(
    `SELECT id FROM sync_runs WHERE id > ? AND started_at < ? AND outcome <> 'running'
       AND id NOT IN (SELECT max(id) FROM sync_runs GROUP BY stream) ORDER BY id LIMIT ?`,
  ).pluck();
  const remove = db.prepare('DELETE FROM sync_runs WHERE id = ?');
  return { select: (after) => select.all(after, cutoff, BATCH), remove: (id) => void remove.run(id) };
}

function changesQuery(db: Db, cutoff: string): BatchQuery {
  const select = db.prepare<[number, string, string, number], number>(
    `SELECT c.id FROM alert_changes c JOIN alerts a ON a.id = c.alert_id
     WHERE c.id > ? AND c.last_update_time < ? AND a.status = 'Resolved' AND a.last_update_time < ? ORDER BY c.id LIMIT ?`,
  ).pluck();
  const remove = db.prepare('DELETE FROM alert_changes WHERE id = ?');
  return { select: (after) => select.all(after, cutoff, cutoff, BATCH), remove: (id) => void remove.run(id) };
}

/** Runs `work` with the append-only trigger lifted, inside the caller's transaction. */
function withoutNoDeleteTrigger(db: Db, work: () => void): void {
  const trigger = db.prepare<[string], string>("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?").pluck().get(NO_DELETE_TRIGGER);
  if (!trigger) throw new StoreError(`alert_changes has lost its ${NO_DELETE_TRIGGER} trigger, which keeps the history append-only: not pruning it. Restore the trigger (migration 001).`);
  db.exec(`DROP TRIGGER ${NO_DELETE_TRIGGER}`);
  work();
  db.exec(trigger);
}

async function pruneInBatches(store: AlertStore, query: BatchQuery, wrap: (work: () => void) => void, signal?: AbortSignal): Promise<number> {
  let after = 0;
  let total = 0;
  for (;;) {
    if (signal?.aborted) return total;
    const ids = await store.whenUnlocked(
      () =>
        store.write(() => {
          const batch = query.select(after);
          if (batch.length > 0) wrap(() => batch.forEach(query.remove));
          return batch;
        }),
      { signal },
    );
    total += ids.length;
    if (ids.length < BATCH) return total;
    after = ids.at(-1)!;
    await yieldToEventLoop();
  }
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
