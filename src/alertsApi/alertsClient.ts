// One page of records per call, from the stream the profile describes (the Defender API's /api/alerts, Graph's
// alerts_v2 or Graph's incidents), within the API's quotas, with retries on what is transient and a clear stop on what is not.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import type { Dispatcher } from 'undici';
import { decodeAccessToken, grantedPermissions, missingReadPermission } from '../auth/accessTokenClaims.js';
import type { RecordStreamProfile } from './recordStreamProfile.js';
import type { TokenSource } from '../auth/delegatedSession.js';
import { PermissionDeniedError, SignInRequiredError, SyncFailedError, UserFacingError } from '../errors.js';
import { instantFromMs, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import { readAlertsPage, PageJsonError, type AlertsPageJson } from './alertsPageJson.js';
import { quotaGate, type QuotaGate } from './callQuota.js';
import { looksRetired, retiredAnswerMessage } from './retirement.js';
import { describeNetworkError, HttpTimeoutError, ResponseTooLargeError, send, type HttpResponse } from '../http/httpLayer.js';


export interface AlertsClientOptions {
  profile: RecordStreamProfile;
  apiBaseUrl: string;
  userAgent: string;
  requestTimeoutMs: number;
  maxResponseBytes: number;
  maxRetries: number;
  retryMinDelayMs: number;
  retryMaxDelayMs: number;
  maxRetryAfterMs: number;
  callsPerMinute: number;
  /** Undefined: no hourly limit (Graph). */
  callsPerHour: number | undefined;
  /** Shorter quota intervals, for runs in accelerated time (the soak). */
  quotaIntervals?: { minuteMs: number; hourMs: number };
  /** The quota shared with the API's other streams' clients; else one of this client's own. */
  quota?: QuotaGate;
}

export interface AlertsRequest {
  filter: string;
  top: number;
  skip?: number;
  expandEvidence: boolean;
  /** Ask for the answer sorted on the update field ($orderby, not documented by either API: never assumed). */
  ordered?: boolean;
  /** Ask for @odata.count ($count=true), where the profile documents it. */
  count?: boolean;
}

export interface AlertsPage {
  alerts: unknown[];
  /** The server's clock (HTTP Date) when it answered, or null when it sent none. */
  serverTime: Instant | null;
  /** Responses the answer came in: more than 1 when the server added @odata.nextLink pages. */
  pages: number;
  /** The server said there is more (an @odata.nextLink the profile does not follow). */
  more?: boolean;
  /** That @odata.nextLink, for a caller that must page (listNextPage). */
  nextLink?: string;
  /** The request asked for the answer sorted on the update field. */
  ordered?: boolean;
  /** @odata.count of the first response: how many alerts the server says match (for sizing only). */
  count?: number;
}

/** One response as served: its alerts, Date and any @odata.nextLink (listAlerts joins them into an AlertsPage). */
type ServedPage = Omit<AlertsPage, 'pages' | 'more' | 'ordered'> & { nextLink?: string };

export interface ApiCallStats {
  requests: number;
  retries: number;
  throttled: number;
  byStatus: Record<string, number>;
}

/** The API answered 400 or another 4xx that is not retried: the request itself was refused. */
export class RequestRefusedError extends SyncFailedError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Too many rows for one response: the caller reads a smaller window instead. */
export class WindowTooLargeError extends Error {}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const MAX_NEXT_LINKS = 1000;

export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** "403 Forbidden (Forbidden: Missing application roles…)" from whatever the body holds. */
export function describeErrorBody(response: HttpResponse): string {
  const text = response.body.trim();
  if (text === '') return `HTTP ${response.status} with an empty body`;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; target?: unknown } };
    const error = parsed?.error;
    if (error && typeof error === 'object') {
      const target = typeof error.target === 'string' ? ` [correlation ${error.target}]` : '';
      return `HTTP ${response.status} ${String(error.code ?? '')}: ${String(error.message ?? '').slice(0, 300)}${target}`;
    }
  } catch {
    // not JSON: described below
  }
  const contentType = response.headers['content-type'] ?? 'no content type';
  const looksHtml = /^<!doctype html|^<html|<body/i.test(text);
  const snippet = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
  return `HTTP ${response.status} with a ${looksHtml ? 'HTML page' : `non-JSON body (${contentType})`}${snippet ? `: "${snippet}"` : ''}${looksHtml ? ' (a proxy or gateway in between?)' : ''}`;
}

export class AlertsClient {
  readonly stats: ApiCallStats = { requests: 0, retries: 0, throttled: 0, byStatus: {} };
  readonly profile: RecordStreamProfile;
  /** The server answered 400 to a request with $orderby. */
  private orderByRefused = false;
  private readonly limitedSend: (url: string, token: string, signal?: AbortSignal) => Promise<HttpResponse>;

  constructor(
    private readonly options: AlertsClientOptions,
    private readonly tokens: TokenSource,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
  ) {
    this.profile = options.profile;
    const gate = options.quota ?? quotaGate({ perMinute: options.callsPerMinute, perHour: options.callsPerHour, ...options.quotaIntervals });
    this.limitedSend = (url: string, token: string, signal?: AbortSignal) => gate(() => this.sendOnce(url, token, signal));
  }

  private async sendOnce(url: string, token: string, signal?: AbortSignal): Promise<HttpResponse> {
    signal?.throwIfAborted();
    this.stats.requests += 1;
    try {
      const response = await send(this.dispatcher, url, {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'user-agent': this.options.userAgent },
        timeoutMs: this.options.requestTimeoutMs,
        maxBytes: this.options.maxResponseBytes,
        signal,
      });
      this.stats.byStatus[response.status] = (this.stats.byStatus[response.status] ?? 0) + 1;
      return response;
    } catch (error) {
      if (signal?.aborted) throw new AbortError(signal.reason as Error);
      if (error instanceof ResponseTooLargeError) throw new AbortError(new WindowTooLargeError(error.message));
      if (error instanceof HttpTimeoutError) throw new RetryableError(`the API gave ${error.message}`);
      throw new RetryableError(`network error: ${describeNetworkError(error)}`);
    }
  }

  private pageUrl(request: AlertsRequest): string {
    const params = new URLSearchParams({ $filter: request.filter, $top: String(request.top) });
    if (request.skip) params.set('$skip', String(request.skip));
    if (request.ordered) params.set('$orderby', `${this.options.profile.updateField} asc`);
    if (request.expandEvidence && this.options.profile.expandsEvidence) params.set('$expand', 'evidence');
    if (request.count && this.options.profile.countsAnswers) params.set('$count', 'true');
    return `${this.options.apiBaseUrl}${this.options.profile.path}?${params.toString().replace(/\+/g, '%20')}`;
  }

  /**
   * Reads one query: one request, plus any @odata.nextLink pages the server adds (never relied upon). A server
   * that refuses $orderby is asked again without it, and never again with it by this client.
   */
  async listAlerts(request: AlertsRequest, signal?: AbortSignal): Promise<AlertsPage> {
    const ordered = request.ordered === true && !this.orderByRefused;
    try {
      return { ...(await this.listQuery({ ...request, ordered }, signal)), ordered };
    } catch (error) {
      if (!ordered || !(error instanceof RequestRefusedError) || error.status !== 400) throw error;
      // Only a refusal that names the ordering is taken for one: any other 400 stays the failure it is.
      if (!/order\s*by/i.test(error.message)) throw new RequestRefusedError(`${error.message} The request asked for $orderby; if the API keeps refusing it, set useOrderBy: false.`, error.status);
      this.orderByRefused = true;
      this.logger.warn({ reason: error.message }, 'the API refused $orderby: reading without it from now on (windows are split instead)');
      return { ...(await this.listQuery({ ...request, ordered: false }, signal)), ordered: false };
    }
  }

  private async listQuery(request: AlertsRequest, signal?: AbortSignal): Promise<AlertsPage> {
    if (!this.options.profile.followsNextLink) return this.onePage(this.pageUrl(request), signal);
    let alerts: unknown[] = [];
    const seen = new Set<string>();
    let url: string | undefined = this.pageUrl(request);
    let serverTime: Instant | null = null;
    let count: number | undefined;
    let pages = 0;
    while (url) {
      checkNotSeen(url, seen);
      const page = await this.fetchWithRetries(url, signal);
      pages += 1;
      serverTime ??= page.serverTime;
      if (pages === 1) count = page.count;
      // The first page's list is taken as it is: no copy of a large page.
      alerts = pages === 1 ? page.alerts : alerts.concat(page.alerts);
      url = page.nextLink && this.checkedNextLink(page.nextLink);
    }
    return { alerts, serverTime, pages, ...(count !== undefined ? { count } : {}) };
  }

  /**
   * The page an @odata.nextLink of listAlerts' answer points to (profiles that do not follow links: Graph).
   * `seen` holds the links of this answer so far, to stop a paging loop.
   */
  async listNextPage(nextLink: string, seen: Set<string>, signal?: AbortSignal): Promise<AlertsPage> {
    const url = this.checkedNextLink(nextLink);
    checkNotSeen(url, seen);
    return this.onePage(url, signal);
  }

  private async onePage(url: string, signal?: AbortSignal): Promise<AlertsPage> {
    const page = await this.fetchWithRetries(url, signal);
    return { alerts: page.alerts, serverTime: page.serverTime, pages: 1, more: page.nextLink !== undefined, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}), ...(page.count !== undefined ? { count: page.count } : {}) };
  }

  private checkedNextLink(link: string): string {
    // The access token goes only to the configured API host, over https.
    const base = new URL(this.options.apiBaseUrl);
    let next: URL;
    try {
      next = new URL(link, base);
    } catch {
      throw new SyncFailedError(`The API returned an @odata.nextLink that is not a URL: ${link.slice(0, 200)}`);
    }
    if (next.protocol !== 'https:' || next.host !== base.host) {
      throw new SyncFailedError(`The API returned an @odata.nextLink to another host (${next.protocol}//${next.host}); not followed, so the access token is not sent there.`);
    }
    return next.toString();
  }

  private async fetchWithRetries(url: string, signal?: AbortSignal): Promise<ServedPage> {
    let refreshedAfter401 = false;
    return pRetry(
      async () => {
        let token = await this.token(false);
        let response = await this.limitedSend(url, token, signal);
        if (response.status === 401 && !refreshedAfter401) {
          // An access token can be revoked or expire early: one forced refresh, one retry.
          refreshedAfter401 = true;
          this.logger.warn('the API answered 401; refreshing the access token once');
          token = await this.token(true);
          response = await this.limitedSend(url, token, signal);
        }
        return this.interpret(response, token);
      },
      {
        retries: this.options.maxRetries,
        factor: 2,
        minTimeout: this.options.retryMinDelayMs,
        maxTimeout: this.options.retryMaxDelayMs,
        randomize: true,
        ...(signal ? { signal } : {}),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const retryAfterMs = error instanceof RetryableError ? error.retryAfterMs : undefined;
          this.logger.warn({ attempt: attemptNumber, retriesLeft, retryAfterMs, reason: error.message }, `${this.options.profile.entity} request failed`);
          if (retriesLeft <= 0) return;
          this.stats.retries += 1;
          if (retryAfterMs !== undefined) await sleep(retryAfterMs, undefined, signal ? { signal } : {});
        },
      },
    ).catch((error: unknown) => {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof UserFacingError || error instanceof WindowTooLargeError) throw error;
      throw new SyncFailedError(`Reading ${this.options.profile.entity} failed after ${this.options.maxRetries + 1} attempts: ${(error as Error).message}. The cursor was kept; the next pass continues from it.`, { cause: error });
    });
  }

  private async token(forceRefresh: boolean): Promise<string> {
    try {
      return (await this.tokens.accessToken({ forceRefresh })).token;
    } catch (error) {
      // Sign-in problems are never retried: the refresh token would be sent again and rejected again.
      if (error instanceof SignInRequiredError) throw new AbortError(error);
      throw new RetryableError((error as Error).message);
    }
  }

  private interpret(response: HttpResponse, token: string): ServedPage {
    const { status } = response;
    if (status === 200) return this.parsePage(response);
    if (status === 429) {
      this.stats.throttled += 1;
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now()) ?? this.options.retryMinDelayMs;
      if (retryAfterMs > this.options.maxRetryAfterMs) {
        throw new AbortError(
          new SyncFailedError(`The API quota is exhausted and the server asks to wait ${Math.round(retryAfterMs / 1000)} s, longer than maxRetryAfter (${Math.round(this.options.maxRetryAfterMs / 1000)} s). The cursor was kept; the next pass continues from it.`),
        );
      }
      throw new RetryableError(`throttled (${describeErrorBody(response)})`, retryAfterMs);
    }
    if (status >= 500 || status === 408) throw new RetryableError(describeErrorBody(response));
    if (status === 401) {
      const claims = decodeAccessToken(token);
      throw new AbortError(
        new SyncFailedError(`The API rejected the access token even after a refresh (${describeErrorBody(response)}). Token audience: ${claims?.aud ?? 'unknown'}, tenant: ${claims?.tid ?? 'unknown'}. Check tenantId, cloud and scope; if they are right, run "mde-alert-sync login" again.`),
      );
    }
    if (status === 403) throw new AbortError(new PermissionDeniedError(this.describeForbidden(response, token)));
    const { retirement } = this.options.profile;
    // A refusal of $orderby (which may call it deprecated) is not the API's retirement: the caller reads without it.
    if (retirement && looksRetired(status, response.body) && !/order\s*by/i.test(response.body)) {
      // Not retried and not a generic refusal: the API is gone, and the message says how to switch.
      const claims = decodeAccessToken(token);
      const application = Array.isArray(claims?.roles) && !claims?.scp;
      throw new AbortError(new SyncFailedError(retiredAnswerMessage(retirement, describeErrorBody(response), application)));
    }
    throw new AbortError(new RequestRefusedError(`The API refused the request (${describeErrorBody(response)}); not retried. Check apiBaseUrl and the filter settings.`, status));
  }

  private describeForbidden(response: HttpResponse, token: string): string {
    const { profile } = this.options;
    const claims = decodeAccessToken(token);
    const granted = grantedPermissions(claims);
    const reason = describeErrorBody(response);
    const apiName = profile.apiName[0]!.toUpperCase() + profile.apiName.slice(1);
    const missing = missingReadPermission(claims, profile);
    if (missing) return `${apiName} refused access (${reason}). The access token ${missing}.`;
    return `${apiName} refused access (${reason}). The token carries ${granted.filter((p) => profile.readPermissions.includes(p)).join(', ')}, so ${profile.userLacksRole}`;
  }

  private parsePage(response: HttpResponse): ServedPage {
    const contentType = response.headers['content-type'] ?? '';
    let page: AlertsPageJson;
    try {
      page = readAlertsPage(response.bytes, { update: this.options.profile.updateField, created: this.options.profile.createdField });
    } catch (error) {
      if (!(error instanceof PageJsonError)) throw error;
      if (!isJson(response.body)) {
        // Truncated bodies and proxy pages are usually passing faults: retried.
        throw new RetryableError(`the API answered 200 with a body that is not complete JSON (${describeErrorBody(response)}, content type ${contentType || 'missing'})`);
      }
      page = { members: {}, alerts: undefined }; // JSON, but not an object with a list of alerts
    }
    if (!page.alerts) {
      throw new RetryableError(`the API answered 200 without a "value" list of alerts (content type ${contentType || 'missing'})`);
    }
    const nextLink = page.members['@odata.nextLink'];
    // Only a whole number is a count; anything else is no count (it only ever sizes windows).
    const count = page.members['@odata.count'];
    const date = response.headers.date ? Date.parse(response.headers.date) : Number.NaN;
    return {
      alerts: page.alerts,
      serverTime: Number.isNaN(date) ? null : instantFromMs(date),
      ...(typeof nextLink === 'string' && nextLink !== '' ? { nextLink } : {}),
      ...(Number.isSafeInteger(count) && (count as number) >= 0 ? { count: count as number } : {}),
    };
  }
}

function checkNotSeen(url: string, seen: Set<string>): void {
  if (seen.size >= MAX_NEXT_LINKS || seen.has(url)) {
    throw new SyncFailedError('The API returned an @odata.nextLink it had already given (a paging loop); stopped this pass to avoid reading forever.');
  }
  seen.add(url);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
