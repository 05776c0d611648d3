// `mde-alert-sync token` (alias whoami): what the current access token says, without showing the token.
import { checkAccessToken } from '../auth/accessTokenClaims.js';
import type { Settings } from '../config/settings.js';
import { PermissionDeniedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createWorker } from './worker.js';

export async function tokenCommand(settings: Settings, logger: Logger, print: (line: string) => void): Promise<void> {
  const worker = createWorker(settings, logger);
  try {
    const access = await worker.session.accessToken();
    const check = checkAccessToken(access.token, settings.apiBaseUrl, worker.client.profile);
    const claims = check.claims;
    const expires = claims?.exp ? new Date(claims.exp * 1000) : access.expiresOn;
    print(`Account:     ${access.username}`);
    print(`Tenant:      ${claims?.tid ?? access.tenantId}`);
    print(`Audience:    ${claims?.aud ?? 'unknown (the token is not a JWT)'}`);
    print(`Expires:     ${expires ? `${expires.toISOString()} (in ${Math.round((expires.getTime() - Date.now()) / 60_000)} min; refreshed silently)` : 'unknown'}`);
    print(`Permissions: ${check.permissions.join(' ') || 'none'} (${claims?.roles ? 'application roles' : 'delegated scp'})`);
    // Every stream a pass syncs (the alerts; with incidents on, the incidents too) is checked, each named.
    const problems: string[] = [];
    for (const { profile } of worker.streams) {
      const stream = profile === worker.client.profile ? check : checkAccessToken(access.token, settings.apiBaseUrl, profile);
      if (stream.ok) print(`This token can read ${profile.entity} from ${profile.apiName}.`);
      else problems.push(`This token cannot read ${profile.entity}: ${stream.problems.join('; ')}.`);
    }
    if (problems.length > 0) throw new PermissionDeniedError(problems.join(' '));
  } finally {
    await worker.close();
  }
}
