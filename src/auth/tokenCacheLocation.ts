// Where the token cache is. Versions before the reader model kept it beside the database; a cache found
// there is still used: commands that sign in move it into its own 0700 folder (a rename: the file is never
// copied, never left half-written, never made readable to more users), and read-only commands read it where it is.
import { chmodSync, existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/settings.js';
import { ensureFolder, DATABASE_FOLDER_MODE, TOKEN_CACHE_FILE_MODE, TOKEN_CACHE_FOLDER_MODE } from '../config/localFolders.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';

export function locateTokenCache(settings: Settings, options: { move: boolean; logger?: Logger }): Settings {
  const { legacyTokenCachePath: legacy, tokenCachePath: target } = settings;
  if (!legacy || !existsSync(legacy)) return settings;
  if (existsSync(target)) {
    options.logger?.warn({ unused: legacy, used: target }, `an older token cache is at ${legacy}, but the one in use is ${target}: delete the older one`);
    return settings;
  }
  if (!options.move) return { ...settings, tokenCachePath: legacy };
  try {
    ensureFolder(path.dirname(target), TOKEN_CACHE_FOLDER_MODE, DATABASE_FOLDER_MODE);
    renameSync(legacy, target);
    // A cache written by an older version under a loose umask is narrowed, never widened.
    chmodSync(target, TOKEN_CACHE_FILE_MODE);
  } catch (error) {
    options.logger?.warn({ file: legacy }, `the token cache stays at ${legacy}: it could not be moved to ${target} (${errorMessage(error)})`);
    return { ...settings, tokenCachePath: legacy };
  }
  options.logger?.info({ from: legacy, to: target }, 'moved the token cache into its own folder (mode 0700), apart from the database that readers may share');
  return settings;
}
