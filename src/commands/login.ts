import path from 'node:path';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import { createWorker } from './worker.js';
import { DATABASE_FOLDER_MODE, requireWritableFolder, TOKEN_CACHE_FOLDER_MODE } from '../config/localFolders.js';

/** The database's folder (0750, for readers) and the token cache's (0700), created or checked writable. */
function requireLocalFolders(settings: Settings): void {
  requireWritableFolder(path.dirname(settings.databasePath), DATABASE_FOLDER_MODE, 'the database folder');
  requireWritableFolder(path.dirname(settings.tokenCachePath), TOKEN_CACHE_FOLDER_MODE, 'the token cache folder');
}

export async function loginCommand(settings: Settings, logger: Logger, print: (line: string) => void): Promise<void> {
  // Found before the device code is requested: the user must not approve a sign-in that cannot be kept.
  if (settings.authFlow !== 'clientCredentials') requireLocalFolders(settings);
  const worker = createWorker(settings, logger);
  try {
    const account = await worker.session.login((message) => print(message));
    print(
      settings.authFlow === 'clientCredentials'
        ? `Signed in as ${account.username} (client credentials): nothing is stored; each run requests its own token.`
        : `Signed in as ${account.username}. The session is kept (encrypted${settings.tokenCacheKey ? '' : ': NO, plaintext as configured'}) in ${settings.tokenCachePath} and refreshed silently.`,
    );
  } finally {
    await worker.close();
  }
}

export async function logoutCommand(settings: Settings, logger: Logger, print: (line: string) => void): Promise<void> {
  const worker = createWorker(settings, logger);
  try {
    const accounts = await worker.session.logout();
    print(accounts.length > 0 ? `Signed out ${accounts.map((a) => a.username).join(', ')}; removed ${settings.tokenCachePath}.` : `No account was signed in; ${settings.tokenCachePath} is removed.`);
  } finally {
    await worker.close();
  }
}
