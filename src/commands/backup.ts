// `mde-alert-sync backup <destination>`: a consistent copy of the live database, safe to hand to an auditor
// or to Excel: one standalone file in rollback-journal mode (no -wal or -shm to go with it) that passed
// integrity_check. SQLite's online backup copies every page in one step, i.e. in one read transaction: one
// snapshot, as of the start, which a WAL writer never waits for (a copy in small steps would start over at
// every commit of the worker, and might never finish during a backfill). Written to a temporary file beside
// the destination, then renamed (or hard-linked, so that an existing file is never replaced unasked).
import { accessSync, closeSync, constants, existsSync, fsyncSync, linkSync, openSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Settings } from '../config/settings.js';
import { ConfigurationError, StoreError, UserFacingError } from '../errors.js';
import { openDatabase, storeError } from '../store/database.js';

/** better-sqlite3's progress callback: how many pages the next step copies (all of them, in one snapshot). */
const ALL_PAGES = 0x7fffffff;
const NOTHING_WRITTEN = 'nothing was written';

export interface BackupResult {
  destination: string;
  alerts: number;
  changes: number;
  bytes: number;
}

export async function backupCommand(settings: Settings, destination: string, options: { force: boolean }, print: (line: string) => void): Promise<BackupResult> {
  const source = settings.databasePath;
  if (!existsSync(source)) throw new StoreError(`There is no database at ${source}: nothing to back up. Check databasePath (or MDE_ALERT_SYNC_DATABASE_PATH).`);
  const target = path.resolve(destination);
  checkDestination(target, source, options.force);
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.partial`);
  try {
    await copyDatabase(source, partial);
    const result = { destination: target, ...finishCopy(partial) };
    publish(partial, target, options.force);
    print(`Backed up ${result.alerts} alerts (${result.changes} recorded changes, ${result.bytes} bytes) from ${source} to ${target}: a standalone SQLite file (rollback journal), integrity_check ok.`);
    return result;
  } catch (error) {
    for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${partial}${suffix}`, { force: true });
    if (error instanceof UserFacingError) throw error;
    throw new StoreError(`Backup to ${target} failed, ${NOTHING_WRITTEN} there and the database is unchanged: ${storeError(error, target).message}`, { cause: error });
  }
}

/** Bad destinations are usage errors (exit 2), found before anything is read or written. */
function checkDestination(target: string, source: string, force: boolean): void {
  const real = (file: string) => (existsSync(file) ? realpathSync(file) : path.resolve(file));
  const database = real(source);
  const folder = path.dirname(target);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (real(target) === `${database}${suffix}`) throw new ConfigurationError(`${target} is the database's own ${suffix} file: give another file name.`);
  }
  if (real(target) === database) throw new ConfigurationError(`${target} is the database itself: give another file name.`);
  if (!existsSync(folder)) throw new ConfigurationError(`Cannot write ${target}: the folder ${folder} does not exist: create it first; ${NOTHING_WRITTEN}.`);
  if (!statSync(folder).isDirectory()) throw new ConfigurationError(`Cannot write ${target}: ${folder} is not a folder; ${NOTHING_WRITTEN}.`);
  if (existsSync(target)) {
    const stat = statSync(target);
    if (stat.isDirectory()) throw new ConfigurationError(`${target} is a directory: give the name of the file to write, such as ${path.join(target, 'alerts-backup.db')}.`);
    if (!stat.isFile()) throw new ConfigurationError(`${target} is not a regular file: give the name of a file to write; ${NOTHING_WRITTEN}.`);
    if (!force) throw new ConfigurationError(`${target} already exists: pass --force to replace it, or choose another name; ${NOTHING_WRITTEN}.`);
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new ConfigurationError(`Cannot write ${target}: the folder ${folder} is not writable for this user; ${NOTHING_WRITTEN}.`);
  }
}

async function copyDatabase(source: string, partial: string): Promise<void> {
  const db = openDatabase(source, { readonly: true });
  try {
    await db.backup(partial, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
}

/** The copy carries the source's header (WAL mode): switch it to a rollback journal, check it, flush it. */
function finishCopy(partial: string): Omit<BackupResult, 'destination'> {
  const db = new Database(partial, { fileMustExist: true });
  let counts: { alerts: number; changes: number };
  try {
    if (db.pragma('journal_mode = DELETE', { simple: true }) !== 'delete') throw new StoreError(`The copy ${partial} could not be switched to rollback-journal mode.`);
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new StoreError(`The copy failed integrity_check (${String(integrity)}): the database itself may be damaged; run "sqlite3 <database> 'PRAGMA integrity_check'". ${NOTHING_WRITTEN}.`);
    counts = db.prepare('SELECT (SELECT count(*) FROM alerts) AS alerts, (SELECT count(*) FROM alert_changes) AS changes').get() as { alerts: number; changes: number };
  } finally {
    db.close();
  }
  fsyncFile(partial, 'r+');
  return { ...counts, bytes: statSync(partial).size };
}

/** Into place atomically; without --force a file that appeared meanwhile is not replaced (link fails). */
function publish(partial: string, target: string, force: boolean): void {
  if (force) {
    renameSync(partial, target);
  } else {
    try {
      linkSync(partial, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ConfigurationError(`${target} appeared while the backup ran: pass --force to replace it, or choose another name; ${NOTHING_WRITTEN}.`);
      throw error;
    }
    rmSync(partial);
  }
  fsyncFile(path.dirname(target), 'r');
}

function fsyncFile(file: string, flags: 'r' | 'r+'): void {
  const fd = openSync(file, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
