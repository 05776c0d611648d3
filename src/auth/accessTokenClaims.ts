// Reads the claims of an access token (without verifying it: the API does that) to tell the operator
// which permissions the token carries.
import type { RecordStreamProfile } from '../alertsApi/recordStreamProfile.js';

export interface AccessTokenClaims {
  aud?: string;
  tid?: string;
  upn?: string;
  preferred_username?: string;
  scp?: string;
  roles?: string[];
  exp?: number;
}

export function decodeAccessToken(token: string): AccessTokenClaims | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' ? (claims as AccessTokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** The permissions a token grants: `scp` for a user token, `roles` for an application token. */
export function grantedPermissions(claims: AccessTokenClaims | undefined): string[] {
  if (!claims) return [];
  return [...(claims.scp ? claims.scp.split(' ').filter(Boolean) : []), ...(Array.isArray(claims.roles) ? claims.roles : [])];
}

export interface TokenCheck {
  ok: boolean;
  claims: AccessTokenClaims | undefined;
  permissions: string[];
  problems: string[];
}

/**
 * "lacks the permission Alert.Read (it carries: User.Read): in the app registration add …", or undefined when
 * the token carries one of the profile's read permissions.
 */
export function missingReadPermission(claims: AccessTokenClaims | undefined, profile: RecordStreamProfile): string | undefined {
  const permissions = grantedPermissions(claims);
  if (permissions.some((p) => profile.readPermissions.includes(p))) return undefined;
  const { lacks, fix } = profile.missingPermission(Array.isArray(claims?.roles) && !claims?.scp);
  return `lacks the ${lacks} (it carries: ${permissions.join(', ') || 'none'}): ${fix}`;
}

/** Whether a token can read the records (alerts, incidents) of the API the profile describes at `apiBaseUrl`; what is missing when not. */
export function checkAccessToken(token: string, apiBaseUrl: string, profile: RecordStreamProfile): TokenCheck {
  const claims = decodeAccessToken(token);
  const permissions = grantedPermissions(claims);
  const problems: string[] = [];
  if (!claims) return { ok: true, claims, permissions, problems }; // not a JWT: the API will judge it
  const missing = missingReadPermission(claims, profile);
  if (missing) problems.push(`the token ${missing}`);
  const audiences = [...profile.audiences, new URL(apiBaseUrl).origin];
  if (claims.aud && !audiences.includes(claims.aud.replace(/\/+$/, ''))) {
    problems.push(`the token's audience is ${claims.aud}, not ${profile.apiName}: check the scope and cloud settings (scope should be ${profile.commercialScope} in the commercial cloud)`);
  }
  return { ok: problems.length === 0, claims, permissions, problems };
}
