// Reads the claims of an access token (without verifying it: the API does that) to tell the operator
// which permissions the token carries.

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

export const READ_PERMISSIONS = ['Alert.Read', 'Alert.ReadWrite', 'Alert.Read.All', 'Alert.ReadWrite.All'];

export interface TokenCheck {
  ok: boolean;
  claims: AccessTokenClaims | undefined;
  permissions: string[];
  problems: string[];
}

/** Audiences of the Defender for Endpoint API in every cloud; the configured API host is accepted too. */
const DEFENDER_AUDIENCES = [
  'https://api.securitycenter.microsoft.com',
  'https://api.security.microsoft.com',
  'https://api-gcc.securitycenter.microsoft.us',
  'https://api-gov.securitycenter.microsoft.us',
];

/** Whether a token can read alerts from the Defender API at `apiBaseUrl`; what is missing when not. */
export function checkAccessToken(token: string, apiBaseUrl: string): TokenCheck {
  const claims = decodeAccessToken(token);
  const permissions = grantedPermissions(claims);
  const problems: string[] = [];
  if (!claims) return { ok: true, claims, permissions, problems }; // not a JWT: the API will judge it
  if (!permissions.some((p) => READ_PERMISSIONS.includes(p))) {
    const application = Array.isArray(claims.roles) && !claims.scp;
    problems.push(
      `the token lacks the ${application ? 'application role Alert.Read.All' : 'permission Alert.Read'} (it carries: ${permissions.join(', ') || 'none'}): in the app registration add WindowsDefenderATP → ${application ? 'application Alert.Read.All' : 'delegated Alert.Read'}, grant admin consent, then sign in again`,
    );
  }
  const audiences = [...DEFENDER_AUDIENCES, new URL(apiBaseUrl).origin];
  if (claims.aud && !audiences.includes(claims.aud.replace(/\/+$/, ''))) {
    problems.push(`the token's audience is ${claims.aud}, not the Defender API: check the scope and cloud settings (scope should be https://api.securitycenter.microsoft.com/.default in the commercial cloud)`);
  }
  return { ok: problems.length === 0, claims, permissions, problems };
}
