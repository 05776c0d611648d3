// Opens the SQLite file the reports read: WAL so that readers never block the writer (nor it them), a busy
// timeout instead of instant SQLITE_BUSY, and foreign keys for the child tables.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, errorMessage } from '../errors.js';
import { applyWalPolicy, DEFAULT_WAL_POLICY, type WalPolicy } from './walPolicy.js';
import { createFileIfAbsent, DATABASE_FILE_MODE, DATABASE_FOLDER_MODE, ensureFolder } from '../config/localFolders.js';

export type Db = Database.Database;

/** While a command opens the file (migrations, the writer lease) a long wait is harmless: nothing else runs yet. */
const BUSY_TIMEOUT_MS = 10_000;
/**
 * Once the worker runs, better-sqlite3's busy wait blocks the event loop (health endpoints, timers) for as
 * long as it lasts: each attempt waits this little, and writes are retried asynchronously (writeRetry.ts).
 */
export const RUNNING_BUSY_TIMEOUT_MS = 200;

export function setBusyTimeout(db: Db, ms: number): void {
  db.pragma(`busy_timeout = ${ms}`);
}

export function openDatabase(file: string, options: { readonly?: boolean; wal?: WalPolicy } = {}): Db {
  try {
    if (!options.readonly) createWithReaderModes(file);
    const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    setBusyTimeout(db, BUSY_TIMEOUT_MS);
    if (!options.readonly) {
      enterWal(db, file);
      applyWalPolicy(db, options.wal ?? DEFAULT_WAL_POLICY);
      // In WAL mode NORMAL keeps the file consistent through crashes; rows and cursor commit together, so a
      // transaction lost to power failure is read again on the next pass.
      db.pragma('synchronous = NORMAL');
      // 32 MiB of page cache instead of SQLite's 2 MB: the writer's index inserts stay in memory longer as
      // the store grows (docs/performance.md weighs it against peak RSS).
      db.pragma('cache_size = -32768');
      // Temporary files (statement journals of the summary triggers, sorts) in memory: the container runs
      // with a read-only root filesystem, where SQLite's temporary directory cannot be written.
      db.pragma('temp_store = MEMORY');
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (error) {
    throw storeError(error, file);
  }
}

/** A stopped writer leaves the file in rollback mode (walPolicy.ts); a transaction open there blocks the switch back. */
function enterWal(db: Db, file: string): void {
  if (db.memory) return;
  let mode: unknown;
  try {
    mode = db.pragma('journal_mode = WAL', { simple: true });
  } catch (error) {
    if (!(error as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw error;
    throw new StoreError(
      `Database ${file}: another process holds the write lock: stop the other writer or wait for it (or a reader has been inside one transaction for ${BUSY_TIMEOUT_MS / 1000} s: while no worker runs the file is in rollback-journal mode, so that read-only users can open it, and it cannot be switched back to WAL mode until that transaction ends); nothing was changed.`,
      { cause: error },
    );
  }
  if (mode === 'wal') return;
  const directoryProblem = unwritableDirectory(path.dirname(file));
  throw new StoreError(`Database ${file}: ${directoryProblem ?? `SQLite cannot use WAL mode for it (it stays in ${String(mode)} mode), which the worker needs so that readers never block it: put the database on a local filesystem`}.`);
}

/** The folder 0750 and the file 0640 (SQLite gives -wal and -shm the file's mode), when they are new. */
function createWithReaderModes(file: string): void {
  try {
    ensureFolder(path.dirname(file), DATABASE_FOLDER_MODE);
    createFileIfAbsent(file, DATABASE_FILE_MODE);
  } catch {
    // Not creatable: SQLite's own open below fails, and storeError says why.
  }
}

function unwritableDirectory(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return `its filesystem is read-only: remount ${dir} read-write (the worker writes the database and its -wal and -shm files there)`;
    if (code === 'EACCES' || code === 'EPERM') return `its directory ${dir} is not writable for this user: fix the permissions (the worker writes the database and its -wal and -shm files there)`;
    return undefined;
  }
}

/** Turns SQLite's failures into messages that say what to do. */
export function storeError(error: unknown, file: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string }).code ?? '';
  const detail = errorMessage(error);
  const advice: Record<string, string> = {
    SQLITE_FULL: 'the disk is full: free space, then run again; nothing committed was lost',
    SQLITE_READONLY: 'the database is read-only for this user: fix its permissions (and those of its directory)',
    SQLITE_CANTOPEN: 'cannot open it: check that the directory exists and is writable, or set databasePath',
    SQLITE_BUSY: 'another process holds the write lock: stop the other writer or wait for it',
    SQLITE_LOCKED: 'another process holds the write lock: stop the other writer or wait for it',
    SQLITE_NOTADB: 'the file is not a SQLite database: point databasePath elsewhere',
    SQLITE_CORRUPT: 'the file is damaged: restore it from a backup or start a new one',
    SQLITE_IOERR: 'the disk reported an I/O error',
    SQLITE_PERM: 'permission denied: fix the file permissions',
  };
  const key = Object.keys(advice).find((prefix) => code.startsWith(prefix));
  // SQLite says only "unable to open" when the directory (WAL and -shm files live there) cannot be written.
  const directoryProblem = key === 'SQLITE_CANTOPEN' || key === 'SQLITE_READONLY' ? unwritableDirectory(path.dirname(file)) : undefined;
  const hint = directoryProblem ?? (key ? advice[key] : `SQLite error ${code || 'unknown'}`);
  return new StoreError(`Database ${file}: ${hint} (${detail}).`, { cause: error });
}
