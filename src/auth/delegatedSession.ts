// The signed-in user's session: device code sign-in once, then silent refresh from the persisted MSAL cache
// for as long as the refresh token lives. A rejected grant removes the account, so the dead refresh token is
// never sent again, and tells the operator to sign in.
import { type AccountInfo, type AuthenticationResult, type AuthError, InteractionRequiredAuthError, PublicClientApplication } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/settings.js';
import { SignInRequiredError, SyncFailedError, UserFacingError, ExitCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { msalConfiguration } from './msalConfiguration.js';
import { IdentityNetworkFailures } from './msalNetworkClient.js';
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

/** A way of signing in: what login, logout and every token use go through. */
export interface Session extends TokenSource {
  login(showMessage: (message: string) => void): Promise<{ username: string }>;
  logout(): Promise<{ username: string }[]>;
}

// AADSTS codes of the password flow that only an interactive sign-in can satisfy.
const INTERACTION_CODES = /AADSTS(50076|50079|50158|53003|50072|50074|50097|65001)\b/;

const SIGN_IN_NEEDED_CODES = new Set([
  'invalid_grant',
  'interaction_required',
  'login_required',
  'consent_required',
  'no_tokens_found',
  'refresh_token_expired',
  'bad_token',
]);

// MSAL's codes for "no usable answer came": the network failure below (recorded by our network client) says why.
const NETWORK_CODES = new Set(['endpoints_resolution_error', 'network_error', 'post_request_failed', 'no_network_connectivity', 'openid_config_error']);

/** "AADSTS50173: The provided grant has expired…" → first line, without trace and correlation ids. */
export function describeIdentityError(error: unknown, failures?: IdentityNetworkFailures): string {
  const authError = error as Partial<AuthError> & { message?: string };
  const below = authError.errorCode && NETWORK_CODES.has(authError.errorCode) ? failures?.take() : undefined;
  if (below) return `${authError.errorCode}: could not reach the identity provider at ${below}`;
  let text = authError.errorMessage || authError.message || String(error);
  // MSAL wraps network-level failures in "Error(s): Not Available - ... - Description: <what> - ...".
  text = /Description: (.*?) - Correlation ID/.exec(text)?.[1] ?? text;
  const firstLine = text.split(/\r?\n/)[0]!.replace(/\s*Trace ID:.*$/i, '').trim();
  const code = authError.errorCode ? `${authError.errorCode}: ` : '';
  return firstLine.startsWith(authError.errorCode ?? '\u0000') ? firstLine : `${code}${firstLine}`;
}

/** MSAL passes on a token answer without an access token; it would reach the API as "Bearer undefined". */
export function requireAccessToken(token: string | undefined): string {
  if (!token) throw new SyncFailedError('The identity provider answered without an access token (a proxy or an outage in between?); the next pass tries again.');
  return token;
}

export function isSignInNeeded(error: unknown): boolean {
  if (error instanceof InteractionRequiredAuthError) return true;
  const code = (error as Partial<AuthError>).errorCode;
  return typeof code === 'string' && SIGN_IN_NEEDED_CODES.has(code);
}

export class DelegatedSession implements Session {
  private readonly app: PublicClientApplication;
  private readonly network = new IdentityNetworkFailures();

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    dispatcher: Dispatcher,
  ) {
    const configuration = msalConfiguration(settings, logger, dispatcher, this.network);
    this.app = new PublicClientApplication({
      ...configuration,
      cache: { cachePlugin: tokenCacheFilePlugin(settings.tokenCachePath, settings.tokenCacheKey, logger) },
    });
  }

  private get scopes(): string[] {
    return [this.settings.scope];
  }

  async account(): Promise<AccountInfo | null> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    return accounts[0] ?? null;
  }

  private async signInWithPassword(): Promise<AuthenticationResult> {
    this.logger.warn('authFlow password (ROPC) is deprecated by Microsoft and fails under MFA or Conditional Access; prefer deviceCode');
    try {
      const result = await this.app.acquireTokenByUsernamePassword({ scopes: this.scopes, username: this.settings.username!, password: this.settings.password! });
      if (!result) throw new Error('no token');
      return result;
    } catch (error) {
      const description = describeIdentityError(error, this.network);
      const hint = INTERACTION_CODES.test(description)
        ? ' Multi-factor authentication or Conditional Access requires an interactive sign-in: use authFlow deviceCode.'
        : /AADSTS50126/.test(description)
          ? ' Check the username and the password.'
          : '';
      throw new SignInRequiredError(`Password sign-in of ${this.settings.username} failed: ${description}.${hint}`, { cause: error });
    }
  }

  /** Signs in (device code, or password for authFlow password) and keeps only this account. */
  async login(showMessage: (message: string) => void): Promise<AccountInfo> {
    let result: AuthenticationResult | null;
    if (this.settings.authFlow === 'password') {
      result = await this.signInWithPassword();
    } else {
      try {
        result = await this.app.acquireTokenByDeviceCode({
          scopes: this.scopes,
          deviceCodeCallback: (response) => showMessage(response.message),
        });
      } catch (error) {
        const description = describeIdentityError(error, this.network);
        const hint = description.includes('AADSTS7000218')
          ? ' The app registration must allow public client flows (Authentication → "Allow public client flows").'
          : '';
        throw new UserFacingError(`Sign-in did not complete: ${description}.${hint}`, ExitCode.signInRequired, { cause: error });
      }
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
    // A cache an older version left beside the database would otherwise be moved in, and the session with it.
    if (this.settings.legacyTokenCachePath) removeCacheFile(this.settings.legacyTokenCachePath);
    return accounts;
  }

  async accessToken(options: { forceRefresh?: boolean } = {}, passwordRetry = true): Promise<AccessToken> {
    let account = await this.account();
    // With the password flow the worker signs itself in again, unattended.
    if (!account && this.settings.authFlow === 'password') account = await this.login(() => {});
    if (!account) throw new SignInRequiredError('No account is signed in.');
    try {
      const result = await this.app.acquireTokenSilent({ account, scopes: this.scopes, forceRefresh: options.forceRefresh ?? false });
      return { token: requireAccessToken(result.accessToken), expiresOn: result.expiresOn, username: account.username, tenantId: account.tenantId };
    } catch (error) {
      if (error instanceof UserFacingError) throw error; // the token cache itself is unreadable, or no token came
      if (isSignInNeeded(error)) {
        // MSAL forgets a rejected refresh token only in memory; removing the account clears it on disk too.
        await this.app.getTokenCache().removeAccount(account);
        this.logger.error({ account: account.username, reason: describeIdentityError(error) }, 'the refresh token was rejected; signed out');
        if (this.settings.authFlow === 'password' && passwordRetry) return this.accessToken(options, false);
        throw new SignInRequiredError(`The sign-in of ${account.username} is no longer valid (${describeIdentityError(error)}).`, { cause: error });
      }
      throw new SyncFailedError(`Could not refresh the access token: ${describeIdentityError(error, this.network)}`, { cause: error });
    }
  }
}
