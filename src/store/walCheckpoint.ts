// The checkpoint after each pass that keeps the WAL near its size limit (walPolicy.ts). SQLite's own
// checkpoints (every 1,000 pages) copy pages back but never shrink the file, and cannot reset it while a reader
// holds an old snapshot: a TRUNCATE checkpoint, once readers let go, empties it. It waits at most the running
// busy timeout (200 ms) for a reader, so the event loop is never held long; a busy one is tried after the next pass.
import { statSync } from 'node:fs';
import type { Db } from './database.js';
import type { WalPolicy } from './walPolicy.js';

export type CheckpointOutcome = 'truncated' | 'busy';

/** Checkpoints and truncates the WAL unless Litestream does; undefined when it is left to Litestream. */
export function checkpointAfterPass(db: Db, policy: WalPolicy): CheckpointOutcome | undefined {
  if (policy.checkpoints === 'external') return undefined;
  try {
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return result?.busy === 0 ? 'truncated' : 'busy';
  } catch {
    // A locked or failing database: the pass already reported it; the next pass tries again.
    return 'busy';
  }
}

/** The size of the database's WAL file; 0 when there is none (rollback mode, or just truncated). */
export function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}
