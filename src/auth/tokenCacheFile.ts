// Persists MSAL's token cache through its cache plugin interface, so that a restart refreshes silently
// with the stored refresh token. Written atomically (temp file + rename) with mode 0600.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { ConfigurationError, errorMessage } from '../errors.js';

export function readCacheFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigurationError(`Cannot read the token cache ${file} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}): check its owner and permissions, or set tokenCachePath.`);
  }
}

export function writeFileAtomic(file: string, contents: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export function removeCacheFile(file: string): void {
  rmSync(file, { force: true });
}

export function tokenCacheFilePlugin(file: string): ICachePlugin {
  return {
    async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
      const contents = readCacheFile(file);
      if (contents === undefined) return;
      try {
        context.tokenCache.deserialize(contents);
      } catch {
        throw new ConfigurationError(`The token cache ${file} is not a token cache this program wrote (it could not be parsed). Delete it or run "mde-alert-sync logout", then "mde-alert-sync login".`);
      }
    },
    async afterCacheAccess(context: TokenCacheContext): Promise<void> {
      if (context.cacheHasChanged) writeFileAtomic(file, context.tokenCache.serialize());
    },
  };
}
