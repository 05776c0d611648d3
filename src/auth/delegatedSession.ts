// The signed-in user's session: device code sign-in once, then silent refresh from the persisted MSAL cache
// for as long as the refresh token lives. A rejected grant removes the account, so the dead refresh token is
// never sent again, and tells the operator to sign in.
import {
  type AccountInfo,
  type AuthError,
  InteractionRequiredAuthError,
  LogLevel,
  PublicClientApplication,
} from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/settings.js';
import { SignInRequiredError, SyncFailedError, UserFacingError, ExitCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { msalNetworkClient } from './msalNetworkClient.js';
import { removeCacheFile, tokenCacheFilePlugin } from './tokenCacheFile.js';

export interface AccessToken {
  token: string;
  expiresOn: Date | null;
  username: string;
  tenantId: string;
}

export interface TokenSource {
  accessToken(options?: { forceRefresh?: boolean }): Promise<AccessToken>;
}

const SIGN_IN_NEEDED_CODES = new Set([
  'invalid_grant',
  'interaction_required',
  'login_required',
  'consent_required',
  'no_tokens_found',
  'refresh_token_expired',
  'bad_token',
]);

/** "AADSTS50173: The provided grant has expired…" → first line, without trace and correlation ids. */
export function describeIdentityError(error: unknown): string {
  const authError = error as Partial<AuthError> & { message?: string };
  const text = authError.errorMessage || authError.message || String(error);
  const firstLine = text.split(/\r?\n/)[0]!.replace(/\s*Trace ID:.*$/i, '').trim();
  const code = authError.errorCode ? `${authError.errorCode}: ` : '';
  return firstLine.startsWith(authError.errorCode ?? '\u0000') ? firstLine : `${code}${firstLine}`;
}

export function isSignInNeeded(error: unknown): boolean {
  if (error instanceof InteractionRequiredAuthError) return true;
  const code = (error as Partial<AuthError>).errorCode;
  return typeof code === 'string' && SIGN_IN_NEEDED_CODES.has(code);
}

export class DelegatedSession implements TokenSource {
  private readonly app: PublicClientApplication;

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    dispatcher: Dispatcher,
  ) {
    const authorityHost = new URL(settings.authorityHost);
    const isPublicCloudHost = ['login.microsoftonline.com', 'login.microsoftonline.us'].includes(authorityHost.host);
    const msalLog = logger.child({ component: 'msal' });
    this.app = new PublicClientApplication({
      auth: {
        clientId: settings.clientId!,
        authority: `${settings.authorityHost}/${settings.tenantId}`,
        // A host we were told to use is trusted as given, without Microsoft's instance discovery call.
        ...(isPublicCloudHost ? {} : { knownAuthorities: [authorityHost.host] }),
      },
      cache: { cachePlugin: tokenCacheFilePlugin(settings.tokenCachePath, settings.tokenCacheKey, logger) },
      system: {
        networkClient: msalNetworkClient(dispatcher),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message, containsPii) => {
            if (containsPii) return;
            if (level === LogLevel.Error) msalLog.error(message);
            else if (level === LogLevel.Warning) msalLog.warn(message);
            else msalLog.debug(message);
          },
        },
      },
    });
  }

  private get scopes(): string[] {
    return [this.settings.scope];
  }

  async account(): Promise<AccountInfo | null> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    return accounts[0] ?? null;
  }

  /** Device code sign-in: prints Microsoft's message, waits for the user, keeps only this account. */
  async login(showMessage: (message: string) => void): Promise<AccountInfo> {
    let result;
    try {
      result = await this.app.acquireTokenByDeviceCode({
        scopes: this.scopes,
        deviceCodeCallback: (response) => showMessage(response.message),
      });
    } catch (error) {
      const description = describeIdentityError(error);
      const hint = description.includes('AADSTS7000218')
        ? ' The app registration must allow public client flows (Authentication → "Allow public client flows").'
        : '';
      throw new UserFacingError(`Sign-in did not complete: ${description}.${hint}`, ExitCode.signInRequired, { cause: error });
    }
    if (!result?.account) {
      throw new UserFacingError('Sign-in returned no account (the identity provider sent no id_token), so the session cannot be refreshed later.', ExitCode.signInRequired);
    }
    const cache = this.app.getTokenCache();
    for (const other of await cache.getAllAccounts()) {
      if (other.homeAccountId !== result.account.homeAccountId) await cache.removeAccount(other);
    }
    this.logger.info({ account: result.account.username }, 'signed in');
    return result.account;
  }

  /** Forgets every account; a cache that cannot be opened (wrong key, damaged) is removed all the same. */
  async logout(): Promise<AccountInfo[]> {
    const cache = this.app.getTokenCache();
    let accounts: AccountInfo[] = [];
    try {
      accounts = await cache.getAllAccounts();
      for (const account of accounts) await cache.removeAccount(account);
    } catch (error) {
      if (!(error instanceof UserFacingError)) throw error;
      this.logger.warn({ reason: error.message }, 'the token cache could not be opened; removing it');
    }
    removeCacheFile(this.settings.tokenCachePath);
    return accounts;
  }

  async accessToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    const account = await this.account();
    if (!account) throw new SignInRequiredError('No account is signed in.');
    try {
      const result = await this.app.acquireTokenSilent({ account, scopes: this.scopes, forceRefresh: options.forceRefresh ?? false });
      return { token: result.accessToken, expiresOn: result.expiresOn, username: account.username, tenantId: account.tenantId };
    } catch (error) {
      if (error instanceof UserFacingError) throw error; // the token cache itself is unreadable
      if (isSignInNeeded(error)) {
        // MSAL forgets a rejected refresh token only in memory; removing the account clears it on disk too.
        await this.app.getTokenCache().removeAccount(account);
        this.logger.error({ account: account.username, reason: describeIdentityError(error) }, 'the refresh token was rejected; signed out');
        throw new SignInRequiredError(`The sign-in of ${account.username} is no longer valid (${describeIdentityError(error)}).`, { cause: error });
      }
      throw new SyncFailedError(`Could not refresh the access token: ${describeIdentityError(error)}`, { cause: error });
    }
  }
}
