// A fake of the Entra ID endpoints that MSAL uses: OpenID configuration, device code, and the token endpoint
// for device_code, refresh_token, password and client_credentials grants, with token lifetimes, revocation
// and error injection. Tokens are opaque random values wrapped in unsigned JWTs: the API side looks them up.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SimUser {
  username: string;
  password: string;
  oid: string;
  name: string;
  /** Delegated permissions the user's tokens carry in `scp` (each token those of its resource: see forResource). */
  permissions: string[];
  /** The password grant fails as when MFA or Conditional Access requires interaction. */
  mfaRequired?: boolean;
}

export interface IdentityOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  accessTokenLifetimeSec: number;
  refreshTokenLifetimeSec: number;
  /** Device codes are approved by the simulated user this long after they are issued; null: never by itself. */
  autoApproveAfterMs: number | null;
  deviceCodeIntervalSec: number;
  applicationRoles: string[];
}

export interface TokenFault {
  status: number;
  error: string;
  /** AADSTS code */
  code: number;
  description?: string;
  suberror?: string;
  /** Only for these grant types (default: any). */
  grantTypes?: string[];
  /** Send this body as is (a proxy's HTML page, broken JSON) instead of an AADSTS error. */
  rawBody?: { body: string; contentType: string };
}

export interface IssuedToken {
  kind: 'user' | 'application';
  username: string | null;
  scp: string;
  roles: string[];
  aud: string;
  expiresAtMs: number;
}

interface DeviceCode {
  userCode: string;
  state: 'pending' | 'approved' | 'declined' | 'redeemed';
  issuedAtMs: number;
  expiresAtMs: number;
  username: string;
  scope: string;
}

interface RefreshGrant {
  username: string;
  scope: string;
  expiresAtMs: number;
  revoked: boolean;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const unsignedJwt = (claims: Record<string, unknown>): string => `${b64url({ typ: 'JWT', alg: 'none' })}.${b64url(claims)}.`;

export class IdentityProvider {
  readonly accessTokens = new Map<string, IssuedToken>();
  readonly refreshTokens = new Map<string, RefreshGrant>();
  readonly deviceCodes = new Map<string, DeviceCode>();
  readonly faults: TokenFault[] = [];
  /** Every token request: its grant type and answer status. */
  readonly tokenRequests: { grantType: string; status: number; atMs: number }[] = [];
  readonly users = new Map<string, SimUser>();

  constructor(
    readonly options: IdentityOptions,
    private readonly baseUrl: () => string,
    private readonly nowMs: () => number,
  ) {}

  addUser(user: Partial<SimUser> & { username: string }): SimUser {
    const full: SimUser = { password: 'correct horse battery staple', oid: randomUUID(), name: user.username.split('@')[0]!, permissions: ['Alert.Read', 'SecurityAlert.Read.All'], ...user };
    this.users.set(full.username, full);
    return full;
  }

  get defaultUser(): SimUser {
    return this.users.values().next().value!;
  }

  /** Every secret this provider ever issued: for tests that prove none reached a log or a plaintext file. */
  issuedSecrets(): string[] {
    return [...this.accessTokens.keys(), ...this.refreshTokens.keys(), this.options.clientSecret, ...[...this.users.values()].map((u) => u.password)];
  }

  revokeRefreshTokens(username?: string): void {
    for (const grant of this.refreshTokens.values()) if (!username || grant.username === username) grant.revoked = true;
  }

  /** Every access token issued so far expires now (the API answers 401 until the client refreshes). */
  expireAccessTokens(): void {
    const now = this.nowMs();
    for (const token of this.accessTokens.values()) token.expiresAtMs = Math.min(token.expiresAtMs, now);
  }

  approveDeviceCodes(decision: 'approved' | 'declined' = 'approved'): number {
    let count = 0;
    for (const code of this.deviceCodes.values()) {
      if (code.state === 'pending') {
        code.state = decision;
        count += 1;
      }
    }
    return count;
  }

  /** The API's check of a bearer token. */
  validate(token: string): IssuedToken | 'unknown' | 'expired' {
    const issued = this.accessTokens.get(token);
    if (!issued) return 'unknown';
    return issued.expiresAtMs <= this.nowMs() ? 'expired' : issued;
  }

  private get authority(): string {
    return `${this.baseUrl()}/${this.options.tenantId}`;
  }

  /** Handles the identity routes; returns false for any other path. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, readBody: () => Promise<string>): Promise<boolean> {
    const match = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/devicecode|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/.exec(url.pathname);
    if (!match) return false;
    const [, tenant, route] = match;
    if (tenant !== this.options.tenantId && tenant !== 'organizations' && tenant !== 'common') {
      this.error(response, 400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
      return true;
    }
    if (route === 'v2.0/.well-known/openid-configuration') {
      sendJson(response, 200, {
        token_endpoint: `${this.authority}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${this.authority}/oauth2/v2.0/devicecode`,
        authorization_endpoint: `${this.authority}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${this.authority}/oauth2/v2.0/logout`,
        issuer: `${this.authority}/v2.0`,
        jwks_uri: `${this.authority}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      });
      return true;
    }
    if (route === 'discovery/v2.0/keys') {
      sendJson(response, 200, { keys: [] });
      return true;
    }
    if (request.method !== 'POST') {
      this.error(response, 405, 'invalid_request', 900561, 'The endpoint only accepts POST requests.');
      return true;
    }
    const form = new URLSearchParams(await readBody());
    if (form.get('client_id') !== this.options.clientId) {
      this.error(response, 400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory '${this.options.tenantId}'.`);
      return true;
    }
    if (route === 'oauth2/v2.0/devicecode') this.deviceCode(response, form);
    else this.token(response, form);
    return true;
  }

  private deviceCode(response: ServerResponse, form: URLSearchParams): void {
    const deviceCode = randomBytes(24).toString('base64url');
    const userCode = randomBytes(5).toString('hex').toUpperCase().slice(0, 9);
    const now = this.nowMs();
    this.deviceCodes.set(deviceCode, { userCode, state: 'pending', issuedAtMs: now, expiresAtMs: now + 900_000, username: this.defaultUser.username, scope: form.get('scope') ?? '' });
    const verificationUri = `${this.baseUrl()}/devicelogin`;
    sendJson(response, 200, {
      user_code: userCode,
      device_code: deviceCode,
      verification_uri: verificationUri,
      expires_in: 900,
      interval: this.options.deviceCodeIntervalSec,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  }

  private token(response: ServerResponse, form: URLSearchParams): void {
    const grantType = form.get('grant_type') ?? '';
    const answer = (status: number) => this.tokenRequests.push({ grantType, status, atMs: this.nowMs() });
    const faultIndex = this.faults.findIndex((f) => !f.grantTypes || f.grantTypes.includes(grantType));
    if (faultIndex >= 0) {
      const [fault] = this.faults.splice(faultIndex, 1);
      answer(fault!.status);
      if (fault!.rawBody) {
        response.writeHead(fault!.status, { 'content-type': fault!.rawBody.contentType, 'content-length': Buffer.byteLength(fault!.rawBody.body) });
        response.end(fault!.rawBody.body);
        return;
      }
      this.error(response, fault!.status, fault!.error, fault!.code, fault!.description ?? 'Injected failure.', fault!.suberror);
      return;
    }
    const now = this.nowMs();
    const scope = form.get('scope') ?? '';
    switch (grantType) {
      case DEVICE_CODE_GRANT:
      case 'device_code': {
        const code = this.deviceCodes.get(form.get('device_code') ?? '');
        if (!code || code.state === 'redeemed') {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 70000, 'The provided value for the input parameter \'device_code\' is not valid.');
        }
        if (code.expiresAtMs <= now) {
          answer(400);
          return this.error(response, 400, 'expired_token', 70020, 'The provided value for the input parameter \'device_code\' is expired.');
        }
        if (code.state === 'pending' && this.options.autoApproveAfterMs !== null && now - code.issuedAtMs >= this.options.autoApproveAfterMs) code.state = 'approved';
        if (code.state === 'declined') {
          answer(400);
          return this.error(response, 400, 'authorization_declined', 70000, 'The end user declined the authorization request.');
        }
        if (code.state === 'pending') {
          answer(400);
          return this.error(response, 400, 'authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.');
        }
        code.state = 'redeemed';
        answer(200);
        return sendJson(response, 200, this.userTokens(this.users.get(code.username)!, code.scope || scope));
      }
      case 'refresh_token': {
        const grant = this.refreshTokens.get(form.get('refresh_token') ?? '');
        if (!grant) {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
        }
        if (grant.revoked) {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.');
        }
        if (grant.expiresAtMs <= now) {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 700082, 'The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.', 'bad_token');
        }
        answer(200);
        return sendJson(response, 200, this.userTokens(this.users.get(grant.username)!, scope || grant.scope));
      }
      case 'password': {
        const user = this.users.get(form.get('username') ?? '');
        if (!user || user.password !== form.get('password')) {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 50126, 'Error validating credentials due to invalid username or password.');
        }
        if (user.mfaRequired) {
          answer(400);
          return this.error(response, 400, 'invalid_grant', 50076, 'Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.', 'basic_action');
        }
        answer(200);
        return sendJson(response, 200, this.userTokens(user, scope));
      }
      case 'client_credentials': {
        if (form.get('client_secret') !== this.options.clientSecret && !form.get('client_assertion')) {
          answer(401);
          return this.error(response, 401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
        }
        answer(200);
        const resource = resourceOf(scope);
        const accessToken = this.issueAccessToken({ kind: 'application', username: null, scp: '', roles: forResource(resource, this.options.applicationRoles), aud: resource, expiresAtMs: now + this.options.accessTokenLifetimeSec * 1000 });
        return sendJson(response, 200, { token_type: 'Bearer', expires_in: this.options.accessTokenLifetimeSec, ext_expires_in: this.options.accessTokenLifetimeSec, access_token: accessToken });
      }
      default:
        answer(400);
        return this.error(response, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    }
  }

  /** An access token for the API without a sign-in: for tools that call the API directly (the benchmark's floor). */
  accessTokenFor(user: SimUser = this.defaultUser): string {
    return this.issueAccessToken({ kind: 'user', username: user.username, scp: user.permissions.join(' '), roles: [], aud: 'https://api.securitycenter.microsoft.com', expiresAtMs: this.nowMs() + this.options.accessTokenLifetimeSec * 1000 });
  }

  private issueAccessToken(token: IssuedToken): string {
    const value = unsignedJwt({
      aud: token.aud,
      iss: `https://sts.windows.net/${this.options.tenantId}/`,
      tid: this.options.tenantId,
      appid: this.options.clientId,
      exp: Math.floor(token.expiresAtMs / 1000),
      iat: Math.floor(this.nowMs() / 1000),
      ...(token.kind === 'user' ? { scp: token.scp, upn: token.username, oid: this.users.get(token.username!)?.oid } : { roles: token.roles }),
      uti: randomBytes(16).toString('base64url'),
    });
    this.accessTokens.set(value, token);
    return value;
  }

  private userTokens(user: SimUser, requestedScope: string): Record<string, unknown> {
    const now = this.nowMs();
    const resourceScopes = requestedScope.split(' ').filter((s) => s && !OIDC_SCOPES.has(s));
    const resource = resourceOf(resourceScopes.join(' '));
    const refreshToken = `rt.${randomBytes(32).toString('base64url')}`;
    this.refreshTokens.set(refreshToken, { username: user.username, scope: requestedScope, expiresAtMs: now + this.options.refreshTokenLifetimeSec * 1000, revoked: false });
    const accessToken = this.issueAccessToken({ kind: 'user', username: user.username, scp: forResource(resource, user.permissions).join(' '), roles: [], aud: resource, expiresAtMs: now + this.options.accessTokenLifetimeSec * 1000 });
    return {
      token_type: 'Bearer',
      scope: resourceScopes.join(' '),
      expires_in: this.options.accessTokenLifetimeSec,
      ext_expires_in: this.options.accessTokenLifetimeSec,
      access_token: accessToken,
      refresh_token: refreshToken,
      id_token: unsignedJwt({
        aud: this.options.clientId,
        iss: `${this.authority}/v2.0`,
        iat: Math.floor(now / 1000),
        nbf: Math.floor(now / 1000),
        exp: Math.floor(now / 1000) + 3600,
        name: user.name,
        oid: user.oid,
        preferred_username: user.username,
        sub: user.oid,
        tid: this.options.tenantId,
        ver: '2.0',
      }),
      client_info: Buffer.from(JSON.stringify({ uid: user.oid, utid: this.options.tenantId })).toString('base64url'),
    };
  }

  private error(response: ServerResponse, status: number, error: string, code: number, description: string, suberror?: string): void {
    const traceId = randomUUID();
    sendJson(response, status, {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${randomUUID()} Timestamp: ${new Date(this.nowMs()).toISOString()}`,
      error_codes: [code],
      timestamp: new Date(this.nowMs()).toISOString(),
      trace_id: traceId,
      correlation_id: randomUUID(),
      ...(suberror ? { suberror } : {}),
    });
  }
}

/** Microsoft Graph's own permissions; the rest (Alert.Read, Machine.Read, …) are WindowsDefenderATP's. */
const GRAPH_PERMISSION = /^(SecurityAlert|SecurityIncident|SecurityEvents|User|Directory|Mail)\./;

/** A token carries the permissions of its resource only: Graph's for Graph, the others for the Defender API. */
function forResource(resource: string, permissions: string[]): string[] {
  const graph = /graph\.microsoft\.(com|us)$/.test(new URL(resource, 'https://invalid').host);
  return permissions.filter((permission) => GRAPH_PERMISSION.test(permission) === graph);
}

/** "https://api.securitycenter.microsoft.com/.default" → "https://api.securitycenter.microsoft.com". */
function resourceOf(scope: string): string {
  const first = scope.split(' ').find(Boolean) ?? '';
  return first.replace(/\/[^/]*$/, '') || 'https://api.securitycenter.microsoft.com';
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  response.end(text);
}
