// The demo's directory. The demo creates it (or takes an empty one) and marks it; later runs work only in a
// directory holding that marker, and only with a database and a token cache the demo made: a real database
// or token cache (the same names a real setup uses) is never opened, changed or deleted. Everything is
// checked before anything is written, so a refusal leaves the directory as it was.
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sealedSalt, sealTokenCache } from '../auth/tokenCacheCipher.js';
import { readCacheFile, writeFileAtomic } from '../auth/tokenCacheFile.js';
import { ConfigurationError } from '../errors.js';

export const DEMO_MARKER = '.mde-alert-sync-demo';
/** Stamped into the header of each database the demo creates (PRAGMA application_id); a real one has 0. */
export const DEMO_APPLICATION_ID = 0x6d646544; // "mdeD"

interface Marker {
  createdBy: 'mde-alert-sync demo';
  note: string;
  /** The salt of the token cache the demo sealed last: a cache with another salt (or none) is not the demo's. */
  tokenCacheSalt?: string;
}

export interface DemoFiles {
  databasePath: string;
  tokenCachePath: string;
  caFile: string;
}

const NOTHING_CHANGED = 'Nothing was changed.';

/** Checks `directory`, then readies it for a demo run whose token cache is sealed with `tokenCacheKey`. */
export function prepareDemoDirectory(directory: string, tokenCacheKey: string): DemoFiles {
  const files: DemoFiles = {
    databasePath: path.join(directory, 'alerts.db'),
    tokenCachePath: path.join(directory, 'token-cache.json'),
    caFile: path.join(directory, 'simulator-ca.pem'),
  };
  const marker = existingMarker(directory);
  if (marker) {
    refuseForeignDatabase(files.databasePath);
    refuseForeignTokenCache(files.tokenCachePath, marker);
  }
  // The cache is sealed here, empty, so that the marker names it before it exists; MSAL's writes keep its salt.
  const sealed = sealTokenCache('{}', tokenCacheKey);
  // In this order a demo stopped at any point leaves a directory the next run accepts.
  writing(directory, () => {
    mkdirSync(directory, { recursive: true });
    // The previous run's cache (checked above to be the demo's) is sealed with that run's throwaway key.
    rmSync(files.tokenCachePath, { force: true });
    writeMarker(directory, { tokenCacheSalt: sealedSalt(sealed)! });
    if (!existsSync(files.databasePath)) createStampedDatabase(files.databasePath);
    writeFileAtomic(files.tokenCachePath, sealed);
  });
  return files;
}

/** The marker of a demo directory; undefined for a new or empty directory; refuses any other. */
function existingMarker(directory: string): Partial<Marker> | undefined {
  let entries: string[];
  try {
    if (!statSync(directory).isDirectory()) throw new ConfigurationError(`The demo directory ${directory} is not a directory: pick another --dir. ${NOTHING_CHANGED}`);
    entries = readdirSync(directory);
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigurationError(`Cannot use the demo directory ${directory} (${code ?? String(error)}): pick another --dir.`);
  }
  if (entries.includes(DEMO_MARKER)) return readMarker(path.join(directory, DEMO_MARKER));
  if (entries.length === 0) return undefined;
  const real = entries.filter((name) => ['alerts.db', 'token-cache.json', 'token-cache'].includes(name));
  throw new ConfigurationError(
    `The demo directory ${directory} was not created by the demo (it has no ${DEMO_MARKER} marker) and is not empty` +
      `${real.length ? `: it holds ${real.join(' and ')}, perhaps of a real setup` : ''}. The demo never touches data it did not make: ` +
      `pick another --dir (a new or an empty directory); if this is a demo directory of an earlier version, delete it. ${NOTHING_CHANGED}`,
  );
}

function readMarker(file: string): Partial<Marker> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Partial<Marker>) : {};
  } catch {
    return {}; // still the demo's directory; it only knows no token cache of its own
  }
}

function refuseForeignDatabase(file: string): void {
  // A link could lead SQLite to create or open a file elsewhere, a real setup's path among them.
  if (lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) {
    throw new ConfigurationError(`${file} is a symbolic link: the demo works only with a database it created in its directory. Pick another --dir, or remove the link. ${NOTHING_CHANGED}`);
  }
  const header = Buffer.alloc(72);
  let length: number;
  try {
    const fd = openSync(file, 'r');
    try {
      length = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigurationError(`Cannot read ${file} (${(error as NodeJS.ErrnoException).code}): pick another --dir.`);
  }
  const stamped = length === header.length && header.toString('latin1', 0, 16) === 'SQLite format 3\0' && header.readInt32BE(68) === DEMO_APPLICATION_ID;
  if (!stamped) {
    throw new ConfigurationError(`${file} is not a database the demo created (it lacks the demo's stamp): it may be a real one, so the demo does not open it. Pick another --dir, or move the file away. ${NOTHING_CHANGED}`);
  }
}

function refuseForeignTokenCache(file: string, marker: Partial<Marker>): void {
  const contents = readCacheFile(file);
  if (contents === undefined) return;
  if (!marker.tokenCacheSalt || sealedSalt(contents) !== marker.tokenCacheSalt) {
    throw new ConfigurationError(`${file} is not a token cache the demo wrote: it may hold a real session, so the demo does not read or delete it. Pick another --dir, or move the file away. ${NOTHING_CHANGED}`);
  }
}

/** A new database carries the stamp in its header, written before WAL mode so that it is in the file itself. */
function createStampedDatabase(file: string): void {
  const db = new Database(file);
  try {
    db.pragma(`application_id = ${DEMO_APPLICATION_ID}`);
  } finally {
    db.close();
  }
}

function writeMarker(directory: string, fields: Pick<Marker, 'tokenCacheSalt'>): void {
  const marker: Marker = {
    createdBy: 'mde-alert-sync demo',
    note: 'This directory belongs to "mde-alert-sync demo": its database and token cache hold simulated data only. The demo refuses any directory without this file.',
    ...fields,
  };
  writeFileAtomic(path.join(directory, DEMO_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}

/** Turns a directory the demo cannot write into a message. */
function writing(directory: string, action: () => void): void {
  try {
    action();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
      throw new ConfigurationError(`Cannot write in the demo directory ${directory} (${code}): pick a --dir you can write.`);
    }
    throw error;
  }
}
