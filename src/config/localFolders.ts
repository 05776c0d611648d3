// The reader model on disk: the database in a folder its group may read, the token cache in a folder of its
// own that only the worker's user may enter. Folders and files are created with these modes whatever the
// umask; existing ones are left as they are (narrowing them could lock out a reader set up on purpose).
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { FileSystemError } from '../errors.js';

/** The database's folder: the owner writes, its group (the readers) lists and enters. */
export const DATABASE_FOLDER_MODE = 0o750;
/** The database, and its -wal and -shm files (SQLite gives them the database file's mode). */
export const DATABASE_FILE_MODE = 0o640;
export const TOKEN_CACHE_FOLDER_MODE = 0o700;
export const TOKEN_CACHE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) with `mode`; returns whether it was created. */
export function ensureFolder(dir: string, mode: number, parentMode = mode): boolean {
  const parent = path.dirname(dir);
  if (parent !== dir) createMissing(parent, parentMode);
  return createMissing(dir, mode);
}

function createMissing(dir: string, mode: number): boolean {
  const first = mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return false;
  // mkdir's mode is reduced by the umask: set it on every folder this call created.
  for (let created = dir; ; created = path.dirname(created)) {
    chmodSync(created, mode);
    if (created === first || path.dirname(created) === created) break;
  }
  return true;
}

/** Creates an empty file with `mode` unless something is already there. */
export function createFileIfAbsent(file: string, mode: number): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    chmodSync(file, mode);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Checks that this user can create (or has) `dir` and write in it; throws FileSystemError naming `what`
 * (e.g. "the token cache folder") and what to do.
 */
export function requireWritableFolder(dir: string, mode: number, what: string, parentMode = DATABASE_FOLDER_MODE): void {
  try {
    ensureFolder(dir, mode, parentMode);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new FileSystemError(`Cannot ${folderProblem(error)} ${what} ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}). ${folderAdvice(error, dir, mode)}`);
  }
}

function folderProblem(error: unknown): string {
  return (error as NodeJS.ErrnoException).syscall === 'access' ? 'write in' : 'create';
}

function folderAdvice(error: unknown, dir: string, mode: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EROFS') return `Its filesystem is read-only: give a path on a writable one, or remount it read-write.`;
  if (code === 'ENOSPC') return 'The disk is full: free space, then try again.';
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'A file is in the way of that folder: move it, or choose another path.';
  return `Create it for the user this command runs as (e.g. sudo install -d -m ${mode.toString(8).padStart(4, '0')} -o <user> ${dir}), or choose another path.`;
}
