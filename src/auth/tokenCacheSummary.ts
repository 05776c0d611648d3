// What the persisted token cache says about the session, read without any network call and without
// revealing a token: the account, when its access token expires, whether a refresh token is held.
import { errorMessage } from '../errors.js';
import { readTokenCache } from './tokenCacheFile.js';

export interface TokenCacheSummary {
  file: string;
  account: string | null;
  accessTokenExpiresAt: string | null;
  hasRefreshToken: boolean;
  problem?: string;
}

export function summarizeTokenCache(file: string, key: string | undefined): TokenCacheSummary {
  const summary: TokenCacheSummary = { file, account: null, accessTokenExpiresAt: null, hasRefreshToken: false };
  let contents: string | undefined;
  try {
    contents = readTokenCache(file, key);
  } catch (error) {
    summary.problem = errorMessage(error);
    return summary;
  }
  if (contents === undefined) return summary;
  try {
    const cache = JSON.parse(contents) as {
      Account?: Record<string, { username?: string }>;
      AccessToken?: Record<string, { expires_on?: string }>;
      RefreshToken?: Record<string, unknown>;
    };
    summary.account = Object.values(cache.Account ?? {})[0]?.username ?? null;
    const expiries = Object.values(cache.AccessToken ?? {}).map((t) => Number(t.expires_on)).filter(Number.isFinite);
    if (expiries.length > 0) summary.accessTokenExpiresAt = new Date(Math.max(...expiries) * 1000).toISOString();
    summary.hasRefreshToken = Object.keys(cache.RefreshToken ?? {}).length > 0;
  } catch {
    summary.problem = 'the token cache file cannot be parsed';
  }
  return summary;
}
