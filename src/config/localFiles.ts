// The files and paths the configuration names: read with a size cap (a device such as /dev/zero never ends),
// `~/` expanded the way a shell would, and a database path that can only be a regular file.
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const MAX_CONFIG_FILE_BYTES = 1_048_576;

export function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

export class LocalFileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * The text of a regular file of at most `maxBytes`. Throws LocalFileError saying what it is instead, or the
 * file system's error (with its code) when it cannot be read.
 */
export function readBoundedText(file: string, maxBytes = MAX_CONFIG_FILE_BYTES): string {
  // Looked at before opening: opening a pipe would wait for a writer.
  const before = statSync(file);
  if (!before.isFile()) throw new LocalFileError(`is not a regular file (${fileKind(before)})`, 'NOT_A_FILE');
  const fd = openSync(file, 'r');
  try {
    // One byte more than allowed tells a file over the cap (or one that grew since it was looked at).
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw new LocalFileError(`is larger than ${Math.round(maxBytes / 1_048_576)} MiB`, 'TOO_LARGE');
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** `~` and `~/…` are the home directory; another user's `~name` is not expanded (undefined). */
export function expandHome(value: string): string | undefined {
  if (value === '~') return homedir();
  if (value.startsWith('~/')) return path.join(homedir(), value.slice(2));
  return value.startsWith('~') ? undefined : value;
}

/** What is wrong with a database path that exists but is not a file SQLite can use, if anything. */
export function databasePathProblem(file: string): string | undefined {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch {
    return undefined; // absent (created by the first sync) or unreadable: SQLite's own message says which
  }
  return stat.isFile() ? undefined : `${file} is ${fileKind(stat)}, not a database file: give the path of a SQLite file (or of one to create)`;
}
