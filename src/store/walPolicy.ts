// How the writer treats the WAL so that read-only users can always open the file and the WAL stays bounded.
// A user who may read the database but not write its folder can open a WAL database only while its -wal and
// -shm files exist; SQLite deletes both when the last connection closes cleanly (better-sqlite3 cannot set
// SQLITE_FCNTL_PERSIST_WAL). So a writer leaves the file in rollback (DELETE) mode when it closes: then it
// needs no -wal or -shm at all. If a reader keeps the file open at that moment the switch fails, but then
// SQLite keeps both files (the close is not the last one), which is just as readable.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DEFAULT_WAL_SIZE_LIMIT_MEGABYTES, type Settings, type WAL_CHECKPOINTS } from '../config/settings.js';

type Db = Database.Database;

/** `worker`: this program checkpoints; `external`: Litestream (or another replicator) does, and nothing here. */
export type WalCheckpoints = (typeof WAL_CHECKPOINTS)[number];

export interface WalPolicy {
  /** journal_size_limit: the WAL is cut back to this when SQLite resets it. */
  sizeLimitBytes: number;
  checkpoints: WalCheckpoints;
}

export const DEFAULT_WAL_POLICY: WalPolicy = { sizeLimitBytes: DEFAULT_WAL_SIZE_LIMIT_MEGABYTES * 1_048_576, checkpoints: 'worker' };

export function walPolicy(settings: Pick<Settings, 'walSizeLimitMegabytes' | 'walCheckpoints'>): WalPolicy {
  return { sizeLimitBytes: settings.walSizeLimitMegabytes * 1_048_576, checkpoints: settings.walCheckpoints };
}

/** The switch out of WAL at close waits this little for a reader (a stop must not hang on a reporting tool). */
const CLOSE_BUSY_TIMEOUT_MS = 200;

/** Pragmas of a writer connection, once it is in WAL mode. */
export function applyWalPolicy(db: Db, policy: WalPolicy): void {
  db.pragma(`journal_size_limit = ${policy.sizeLimitBytes}`);
  // Litestream asks applications not to checkpoint at all: it does so itself, in step with its replica.
  if (policy.checkpoints === 'external') db.pragma('wal_autocheckpoint = 0');
}

/**
 * Closes a writer connection, leaving a file that read-only users can open: in rollback mode when no other
 * connection has it open, else in WAL mode with its -wal and -shm kept (another connection holds them).
 * Never throws: it runs in `finally` blocks, and the data is committed either way.
 * @returns the mode the file was left in as far as this connection knows.
 */
export function closeWriter(db: Db, policy: WalPolicy): 'delete' | 'wal' {
  if (!db.open) return 'wal';
  const file = db.name;
  // Litestream needs WAL mode, and its own connection keeps the files while it runs.
  if (db.readonly || db.memory || policy.checkpoints === 'external') {
    db.close();
    return 'wal';
  }
  const left = leaveWal(db);
  db.close();
  if (left || !walWithoutIndex(file)) return left ? 'delete' : 'wal';
  // The reader that made the switch fail let go before our close, which then deleted -wal and -shm: such a
  // file is not readable without write access to its folder. Nobody else has it open now: switch it.
  try {
    const again = new Database(file, { fileMustExist: true });
    try {
      return leaveWal(again) ? 'delete' : 'wal';
    } finally {
      again.close();
    }
  } catch {
    return 'wal';
  }
}

function leaveWal(db: Db): boolean {
  try {
    db.pragma(`busy_timeout = ${CLOSE_BUSY_TIMEOUT_MS}`);
    return db.pragma('journal_mode = DELETE', { simple: true }) === 'delete';
  } catch {
    // SQLITE_BUSY: a reader has the file open (its -wal and -shm stay); anything else: the close still runs.
    return false;
  }
}

/** The header says WAL mode (file format bytes 18 and 19 are 2) but no WAL index exists beside it. */
function walWithoutIndex(file: string): boolean {
  if (existsSync(`${file}-shm`)) return false;
  const header = Buffer.alloc(20);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return readSync(fd, header, 0, 20, 0) === 20 && header[18] === 2;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
