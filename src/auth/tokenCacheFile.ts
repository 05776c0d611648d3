// Persists MSAL's token cache through its cache plugin interface, so that a restart refreshes silently
// with the stored refresh token. Sealed with the configured key (plaintext only when asked for), written
// atomically (temp file + rename) with mode 0600.
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { TOKEN_CACHE_KEY_ENV } from '../config/settings.js';
import { DATABASE_FOLDER_MODE, ensureFolder, TOKEN_CACHE_FILE_MODE, TOKEN_CACHE_FOLDER_MODE } from '../config/localFolders.js';
import { ConfigurationError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { isSealed, openTokenCache, sealTokenCache, TokenCacheUnreadableError } from './tokenCacheCipher.js';

export function readCacheFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigurationError(`Cannot read the token cache ${file} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}): check its owner and permissions, or set tokenCachePath.`);
  }
}

export function writeFileAtomic(file: string, contents: string): void {
  ensureFolder(path.dirname(file), TOKEN_CACHE_FOLDER_MODE, DATABASE_FOLDER_MODE);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents, { mode: TOKEN_CACHE_FILE_MODE });
  chmodSync(temporary, TOKEN_CACHE_FILE_MODE);
  renameSync(temporary, file);
}

export function removeCacheFile(file: string): void {
  rmSync(file, { force: true });
}

const RECOVER = 'Run "mde-alert-sync logout", then "mde-alert-sync login".';

/** The MSAL cache JSON held in `file`, opened with `key`; undefined when there is no file yet. */
export function readTokenCache(file: string, key: string | undefined): string | undefined {
  const contents = readCacheFile(file);
  if (contents === undefined) return undefined;
  let json = contents;
  const sealed = isSealed(contents);
  if (sealed) {
    if (!key) throw new ConfigurationError(`The token cache ${file} is encrypted, and no key is configured: set ${TOKEN_CACHE_KEY_ENV} or tokenCacheKeyFile to the key it was written with. ${RECOVER}`);
    try {
      json = openTokenCache(contents, key);
    } catch (error) {
      if (error instanceof TokenCacheUnreadableError) throw new ConfigurationError(`The token cache ${file} is unreadable: ${error.message}. Check the key; otherwise ${RECOVER}`);
      throw error;
    }
  }
  try {
    const parsed = JSON.parse(json) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
  } catch {
    throw new ConfigurationError(`The token cache ${file} is not a token cache this program wrote (it cannot be parsed). ${RECOVER}`);
  }
  // With a key, only a sealed file is trusted: a plaintext one would let anyone who can write it plant a session.
  if (key && !sealed) {
    throw new ConfigurationError(
      `The token cache ${file} is not encrypted although a key is configured: someone, or an earlier setting (plaintextTokenCache: true without a key), wrote it in plaintext, and it is not used. ${RECOVER}`,
    );
  }
  return json;
}

export function tokenCacheFilePlugin(file: string, key: string | undefined, logger: Logger): ICachePlugin {
  let warnedPlaintext = false;
  return {
    async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
      const json = readTokenCache(file, key);
      if (json !== undefined) context.tokenCache.deserialize(json);
    },
    async afterCacheAccess(context: TokenCacheContext): Promise<void> {
      if (!context.cacheHasChanged) return;
      const serialized = context.tokenCache.serialize();
      if (key) {
        writeFileAtomic(file, sealTokenCache(serialized, key, readCacheFile(file)));
        return;
      }
      if (!warnedPlaintext) {
        logger.warn({ file }, `the token cache (with its refresh token) is stored UNENCRYPTED because plaintextTokenCache is true; set ${TOKEN_CACHE_KEY_ENV} to encrypt it`);
        warnedPlaintext = true;
      }
      writeFileAtomic(file, serialized);
    },
  };
}
