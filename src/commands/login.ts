import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import { createWorker } from './worker.js';

export async function loginCommand(settings: Settings, logger: Logger, print: (line: string) => void): Promise<void> {
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
