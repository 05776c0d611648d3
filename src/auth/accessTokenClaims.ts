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
