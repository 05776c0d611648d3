// A fake of GET /api/alerts with the rough edges of the real one: results in an arbitrary order, a live
// $skip that shifts when alerts change, $top above 10,000 rejected, 429 with Retry-After past the quotas,
// alerts indexed late, and injectable faults. The same tenant is served by Microsoft Graph's
// GET /v1.0/security/alerts_v2 (Graph's shape, $top up to 2,000, @odata.nextLink when more match, its own
// throttling), and the Defender API can be told to answer as retired.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlertFactory, SimAlert } from './alertFactory.js';
import { sendJson, type IdentityProvider } from './identityProvider.js';
import { parseInstant } from '../instants.js';
import { DEFENDER_FILTER, GRAPH_FILTER, ODataFilterError, parseFilter, type InstantRange, type ParsedFilter } from './odataFilter.js';
import { toGraphAlert } from './graphAlert.js';
import { byAt, inRange, orderByComparator, pickSome } from './recordOrder.js';
import { beginAnswer, graphNextLink, ORDER_BY_REFUSED, readSkipToken, sendPage, type ApiFault, type ApiRequestRecord, type OrderByHandling } from './apiAnswers.js';
import { showcaseAlerts } from './showcaseAlerts.js';

export type { ApiFault, ApiRequestRecord, OrderByHandling } from './apiAnswers.js';

/**
 * What Graph puts in @odata.count when asked ($count=true, documented for alerts_v2): the number of alerts
 * the filter matches, or, to test a reader that must not trust it, nothing, a third of it, or three times it
 * and 50 more; `firstPage`: the exact count on the first page of an answer only, none on its @odata.nextLink
 * pages (Microsoft's pages do not say which). The Defender API does not document $count and answers without one.
 */
export type CountHandling = 'exact' | 'absent' | 'low' | 'high' | 'firstPage';


export interface AlertsApiOptions {
  /** The Defender API's quota: "100 calls per minute and 1,500 calls per hour". */
  callsPerMinute: number;
  callsPerHour: number;
  /**
   * Microsoft Graph's own limit for security alerts, per app per tenant: 150 requests a minute, no hourly
   * limit documented (learn.microsoft.com/graph/throttling-limits, "Security detections and incidents").
   */
  graphCallsPerMinute: number;
  graphCallsPerHour?: number | undefined;
  /** Set, Graph answers at most this many alerts per response, cutting $top silently (the rest by @odata.nextLink). */
  graphServerPageSize?: number | undefined;
  /**
   * Set, that cut comes with no @odata.nextLink either: the legacy Graph security API documented a $top limit of
   * 1,000 and paging by link, and a peer reports alerts_v2 answering with no link at all (elastic/integrations#20234).
   */
  graphCutWithoutLink?: boolean | undefined;
  /** Set, the Defender API answers every alerts request like a retired API (see `retiredDefenderApi`). */
  retiredDefenderApi?: RetiredApiAnswer | undefined;
  /** What both APIs do with $orderby (see OrderByHandling); by default they ignore it. */
  orderBy?: OrderByHandling | undefined;
  /** What Graph answers to $count=true (see CountHandling); by default the exact count. */
  graphCount?: CountHandling | undefined;
  audiences: string[];
  graphAudiences: string[];
}

/** How a retired API answers: 410 Gone, or 404 / 400 with a message about the retirement. */
export interface RetiredApiAnswer {
  status: 410 | 404 | 400;
  message?: string;
}

/** What differs between the two APIs that serve the tenant's alerts. */
interface ApiDialect {
  name: 'defender' | 'graph';
  maxTop: number;
  readScopes: string[];
  readRoles: string[];
  audiences: (options: AlertsApiOptions) => string[];
  context: string;
  filter: typeof DEFENDER_FILTER;
  present: (alert: SimAlert, expand: boolean) => Record<string, unknown>;
  forbidden: (kind: 'user' | 'application') => string;
}

const DEFENDER: ApiDialect = {
  name: 'defender',
  maxTop: 10_000,
  readScopes: ['Alert.Read', 'Alert.ReadWrite'],
  readRoles: ['Alert.Read.All', 'Alert.ReadWrite.All'],
  audiences: (options) => options.audiences,
  context: 'https://api.securitycenter.microsoft.com/api/$metadata#Alerts',
  filter: DEFENDER_FILTER,
  present: (alert, expand) => (expand ? alert : { ...alert, evidence: [] }),
  forbidden: (kind) => (kind === 'user'
    ? 'The user does not have the required delegated permissions (Alert.ReadWrite, Alert.Read) to access the resource.'
    : 'The application does not have any of the required application permissions (Alert.ReadWrite.All, Alert.Read.All) to access the resource.'),
};

const GRAPH: ApiDialect = {
  name: 'graph',
  maxTop: 2_000,
  readScopes: ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All'],
  readRoles: ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All'],
  audiences: (options) => options.graphAudiences,
  context: 'https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2',
  filter: GRAPH_FILTER,
  present: (alert) => toGraphAlert(alert),
  forbidden: () => 'Missing role permissions on the request. API requires one of \'SecurityAlert.Read.All, SecurityAlert.ReadWrite.All\'.',
};

interface StoredAlert {
  alert: SimAlert;
  /** lastUpdateTime as an instant, for the index. */
  at: bigint;
  /** Position in the server's arbitrary order; an update moves the alert elsewhere in it. */
  order: number;
  visibleFromMs: number;
}


export class AlertsApi {
  readonly alerts = new Map<string, StoredAlert>();
  readonly faults: ApiFault[] = [];
  readonly requests: ApiRequestRecord[] = [];
  /** Every version each alert has had, oldest first: what a recorded change must be one of. */
  readonly versions = new Map<string, SimAlert[]>();
  /**
   * Graph pages on the server's side too: it may return fewer alerts than $top, with an @odata.nextLink to
   * the rest. Set, Graph answers at most this many per response.
   */
  graphServerPageSize: number | undefined;
  /** Set, Graph's cut of $top comes with no @odata.nextLink (see AlertsApiOptions). */
  graphCutWithoutLink: boolean;
  /** What both APIs do with $orderby (see OrderByHandling). */
  orderBy: OrderByHandling;
  /** What Graph answers to $count=true (see CountHandling). */
  graphCount: CountHandling;
  /** Set, the Defender API's alerts path answers as retired (Microsoft's notice MC1220762: after 1 February 2027). */
  retiredDefenderApi: RetiredApiAnswer | undefined;
  /** Alerts Graph leaves out although the Defender API serves them (Graph's documented gaps), by id. */
  readonly hiddenFromGraph = new Set<string>();
  /** Alerts of other Defender XDR services, by id with their Graph serviceSource: only Graph serves them. */
  readonly graphOnlyServices = new Map<string, string>();
  /**
   * Called before each alerts query is answered, with its 0-based number: lets tests change alerts mid-scan,
   * or hold a pass mid-way (the answer waits for a promise it returns).
   */
  beforeQuery: ((index: number) => void | Promise<void>) | undefined;
  /** Called after each new version of an alert is stored: the tenant's incidents follow their alerts. */
  onPut: ((alert: SimAlert, visibleFromMs: number) => void) | undefined;
  /** Alerts that random churn (`updateAlerts(count)`) leaves alone: the showcase the README's queries find. */
  readonly pinned = new Set<string>();
  /** Accepted calls of each API in the last hour: each service counts its own quota. */
  private readonly callTimes: Record<ApiDialect['name'], number[]> = { defender: [], graph: [] };
  /** The alerts sorted by lastUpdateTime, rebuilt after changes: large tenants (benchmarks) answer fast. */
  private byLastUpdate: StoredAlert[] | undefined;
  private queries = 0;

  constructor(
    private readonly identity: IdentityProvider,
    private readonly factory: AlertFactory,
    private readonly random: () => number,
    private readonly nowMs: () => number,
    readonly options: AlertsApiOptions,
  ) {
    this.graphServerPageSize = options.graphServerPageSize;
    this.graphCutWithoutLink = options.graphCutWithoutLink ?? false;
    this.retiredDefenderApi = options.retiredDefenderApi;
    this.orderBy = options.orderBy ?? 'ignored';
    this.graphCount = options.graphCount ?? 'exact';
  }

  /** The alerts as the service holds them now (what a complete, current copy must equal). */
  truth(): SimAlert[] {
    const now = this.nowMs();
    return [...this.alerts.values()].filter((s) => s.visibleFromMs <= now).map((s) => s.alert);
  }

  private put(alert: SimAlert, visibleFromMs: number): void {
    this.alerts.set(alert.id, { alert, at: parseInstant(alert.lastUpdateTime) ?? 0n, order: this.random(), visibleFromMs });
    this.byLastUpdate = undefined;
    const versions = this.versions.get(alert.id);
    if (versions) versions.push(alert);
    else this.versions.set(alert.id, [alert]);
    this.onPut?.(alert, visibleFromMs);
  }

  /** History: `count` alerts created over the past `days` days, a share of them already worked on. */
  seed(count: number, days: number): SimAlert[] {
    const now = this.nowMs();
    const created: SimAlert[] = [];
    for (let i = 0; i < count; i += 1) {
      const createdMs = now - Math.floor(this.random() * days * 86_400_000) - 60 * 60_000;
      let alert = this.factory.create(createdMs);
      for (let change = 0; change < 3 && this.random() < 0.5; change += 1) {
        const atMs = Math.min(now - 60 * 60_000, createdMs + Math.floor(this.random() * 3 * 86_400_000));
        if (atMs > createdMs) alert = this.factory.change(alert, atMs);
      }
      this.put(alert, 0);
      created.push(alert);
    }
    return created;
  }

  /** The known alerts of the README's examples (showcaseAlerts.ts), kept as they are by random churn. */
  seedShowcase(): SimAlert[] {
    const alerts = showcaseAlerts(this.factory, this.nowMs());
    for (const alert of alerts) {
      this.put(alert, 0);
      this.pinned.add(alert.id);
    }
    return alerts;
  }

  /**
   * New alerts now. `indexedAfterMs` makes them visible only later, and `unindexed` only once `index()` is
   * called, while their timestamps stay in the past: late indexing as Microsoft's pipeline does it.
   */
  createAlerts(count: number, options: { atMs?: number; indexedAfterMs?: number; unindexed?: boolean; lastUpdateTime?: string; incidentId?: number } = {}): SimAlert[] {
    const atMs = options.atMs ?? this.nowMs();
    const created: SimAlert[] = [];
    for (let i = 0; i < count; i += 1) {
      const alert = this.factory.create(atMs);
      if (options.lastUpdateTime) alert.lastUpdateTime = options.lastUpdateTime;
      if (options.incidentId !== undefined) alert.incidentId = options.incidentId;
      this.put(alert, options.unindexed ? Number.POSITIVE_INFINITY : this.nowMs() + (options.indexedAfterMs ?? 0));
      created.push(alert);
    }
    return created;
  }

  /** New alerts only Graph serves, as of `serviceSource` (e.g. microsoftDefenderForOffice365, another XDR service). */
  createGraphOnlyAlerts(count: number, serviceSource: string): SimAlert[] {
    const created = this.createAlerts(count);
    for (const alert of created) this.graphOnlyServices.set(alert.id, serviceSource);
    return created;
  }

  /** Whether an API serves this alert at all (before any filter). */
  private serves(dialect: ApiDialect, id: string): boolean {
    return dialect === DEFENDER ? !this.graphOnlyServices.has(id) : !this.hiddenFromGraph.has(id);
  }

  /** An alert as an API shows it; another service's alert carries that service in Graph. */
  private present(dialect: ApiDialect, alert: SimAlert, expand: boolean): Record<string, unknown> {
    const shown = dialect.present(alert, expand);
    const service = dialect === GRAPH ? this.graphOnlyServices.get(alert.id) : undefined;
    return service ? { ...shown, serviceSource: service } : shown;
  }

  /** Makes late alerts visible now. */
  index(ids: string[]): void {
    for (const id of ids) {
      const stored = this.alerts.get(id);
      if (stored) stored.visibleFromMs = 0;
    }
  }

  /** Analysts work on alerts: each changed one gets a new lastUpdateTime and moves in the server's order. */
  updateAlerts(selection: number | string[]): SimAlert[] {
    const visible = this.truth();
    const ids = typeof selection === 'number' ? pickSome(visible.map((a) => a.id).filter((id) => !this.pinned.has(id)), selection, this.random) : selection;
    const changed: SimAlert[] = [];
    for (const id of ids) {
      const stored = this.alerts.get(id);
      if (!stored) continue;
      const next = this.factory.change(stored.alert, this.nowMs());
      this.put(next, stored.visibleFromMs);
      changed.push(next);
    }
    return changed;
  }

  /** Defender XDR moves alerts into another incident (a merge), at `atMs` (default now): each moved alert is a new version. */
  moveAlerts(ids: string[], incidentId: number, atMs = this.nowMs()): SimAlert[] {
    const moved: SimAlert[] = [];
    for (const id of ids) {
      const stored = this.alerts.get(id);
      if (!stored) continue;
      const next: SimAlert = { ...stored.alert, incidentId, lastUpdateTime: this.factory.updateStamp(atMs, stored.alert.lastUpdateTime) };
      this.put(next, stored.visibleFromMs);
      moved.push(next);
    }
    return moved;
  }

  /** An alert as Graph serves it now, or undefined when Graph leaves it out or it is not yet visible. */
  graphView(id: string): Record<string, unknown> | undefined {
    const stored = this.alerts.get(id);
    if (!stored || stored.visibleFromMs > this.nowMs() || !this.serves(GRAPH, id)) return undefined;
    return this.present(GRAPH, stored.alert, true);
  }

  /** The alerts whose lastUpdateTime lies in the range (binary search in the index); the filter still applies. */
  private candidates(range: InstantRange): StoredAlert[] {
    if (!range.low && !range.high) return [...this.alerts.values()];
    this.byLastUpdate ??= [...this.alerts.values()].sort(byAt);
    return inRange(this.byLastUpdate, range);
  }

  /** How long a call must wait under its API's quota (one app, one tenant here), or undefined: accepted. */
  private quotaWait(dialect: ApiDialect, now: number): number | undefined {
    const graph = dialect.name === 'graph';
    const perMinute = graph ? this.options.graphCallsPerMinute : this.options.callsPerMinute;
    const perHour = graph ? this.options.graphCallsPerHour : this.options.callsPerHour;
    const times = this.callTimes[dialect.name];
    while (times.length > 0 && times[0]! <= now - 3_600_000) times.shift();
    const inLastMinute = times.filter((t) => t > now - 60_000);
    if (inLastMinute.length >= perMinute) return inLastMinute[0]! + 60_000 - now;
    if (perHour !== undefined && times.length >= perHour) return times[0]! + 3_600_000 - now;
    times.push(now);
    return undefined;
  }

  /** The 429 each API sends: the Defender API's own body, Graph's standard error (TooManyRequests). */
  private throttledAnswer(dialect: ApiDialect): { code: string; message: string } {
    if (dialect.name === 'graph') return { code: 'TooManyRequests', message: 'Too many requests. Please try again later.' };
    return { code: '429', message: `API calls quota exceeded! maximum allowed ${this.options.callsPerHour} per 01:00:00` };
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    const dialect = /^\/api(\/v1\.0)?\/alerts\/?$/i.test(url.pathname) ? DEFENDER : /^\/v1\.0\/security\/alerts_v2\/?$/.test(url.pathname) ? GRAPH : undefined;
    if (!dialect) return false;
    const now = this.nowMs();
    const begun = await beginAnswer(url, now, 'evidence', this.requests, this.faults, response);
    if (!begun) return true;
    const { record, fault } = begun;
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      record.status = status;
      // A fault that alters an answer (a Date header, a body) waits for the next answer there is.
      if (fault) this.faults.unshift(fault);
      sendJson(response, status, { error: { code, message, target: crypto.randomUUID() } }, headers);
      return true;
    };
    const retired = dialect === DEFENDER ? this.retiredDefenderApi : undefined;
    if (retired) {
      const code = retired.status === 410 ? 'Gone' : retired.status === 404 ? 'NotFound' : 'BadRequest';
      return error(retired.status, code, retired.message ?? 'This API has been retired. Use the Microsoft Graph security API (security/alerts_v2) instead.');
    }

    const token = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const issued = token ? this.identity.validate(token) : 'unknown';
    if (issued === 'unknown' || issued === 'expired') return error(401, 'Unauthorized', issued === 'expired' ? 'The access token has expired.' : 'Authorization token is invalid or missing.');
    if (!dialect.audiences(this.options).includes(issued.aud)) return error(401, 'Unauthorized', `The token's audience ${issued.aud} is not valid for this API.`);
    record.username = issued.username;
    const granted = issued.kind === 'user' ? issued.scp.split(' ') : issued.roles;
    if (!granted.some((p) => (issued.kind === 'user' ? dialect.readScopes : dialect.readRoles).includes(p))) return error(403, 'Forbidden', dialect.forbidden(issued.kind));
    const wait = this.quotaWait(dialect, now);
    if (wait !== undefined) {
      const { code, message } = this.throttledAnswer(dialect);
      return error(429, code, message, { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) });
    }

    if (record.top !== null && (!Number.isInteger(record.top) || record.top < 0)) return error(400, 'InvalidInput', `Invalid $top value '${url.searchParams.get('$top')}'.`);
    if (record.top !== null && record.top > dialect.maxTop) return error(400, 'BadRequest', `Maximum page size is ${dialect.maxTop}`);
    if (record.skipToken) {
      const token = dialect === GRAPH ? readSkipToken(url.searchParams.get('$skiptoken')!) : undefined;
      if (token === undefined) return error(400, 'BadRequest', 'Invalid $skiptoken value.');
      record.skip = token;
    }
    if (!Number.isInteger(record.skip) || record.skip < 0) return error(400, 'InvalidInput', 'Invalid $skip value.');
    const sortKey = record.orderBy !== null && this.orderBy !== 'ignored' ? orderByKey(record.orderBy, dialect) : undefined;
    if (record.orderBy !== null && this.orderBy === 'refused') {
      return error(400, 'BadRequest', ORDER_BY_REFUSED);
    }
    if (typeof sortKey === 'string') return error(400, 'BadRequest', sortKey);
    let filter: ParsedFilter | undefined;
    try {
      filter = record.filter ? parseFilter(record.filter, dialect.filter) : undefined;
    } catch (e) {
      if (e instanceof ODataFilterError) return error(400, 'ODataError', e.message);
      throw e;
    }

    await this.beforeQuery?.(this.queries++);
    const visibleNow = this.nowMs();
    const presented = (s: StoredAlert) => (dialect === DEFENDER ? s.alert : this.present(dialect, s.alert, true));
    const matching = this.candidates(filter?.lastUpdateTime ?? {}).filter((s) => s.visibleFromMs <= visibleNow && this.serves(dialect, s.alert.id) && (!filter || filter.matches(presented(s))));
    matching.sort((a, b) => a.order - b.order);
    if (sortKey) matching.sort(sortKey);
    const top = dialect === GRAPH && this.graphServerPageSize !== undefined ? Math.min(record.top ?? Infinity, this.graphServerPageSize) : record.top;
    const page = matching.slice(record.skip, top === null ? undefined : record.skip + top).map((s) => this.present(dialect, s.alert, record.expand));
    // Graph pages by @odata.nextLink: the rest of the answer is another request, named by an opaque token.
    const nextLink = dialect === GRAPH && !this.graphCutWithoutLink && top !== null && matching.length > record.skip + top ? graphNextLink(url, record.skip + top) : undefined;
    const count = dialect === GRAPH && record.count ? countAnswer(this.graphCount, matching.length, record.skip) : undefined;
    sendPage(request, response, url, now, record, { context: dialect.context, page, nextLink, count }, fault);
    return true;
  }
}

/** @odata.count as the CountHandling says, for `exact` alerts matching the filter (before $skip and $top). */
function countAnswer(handling: CountHandling, exact: number, skip: number): number | undefined {
  if (handling === 'absent' || (handling === 'firstPage' && skip > 0)) return undefined;
  return handling === 'low' ? Math.floor(exact / 3) : handling === 'high' ? exact * 3 + 50 : exact;
}

/** The comparator an honoured "$orderby=<field> [asc|desc]" asks for, or the 400 message for one it cannot serve. */
function orderByKey(orderBy: string, dialect: ApiDialect): ((a: StoredAlert, b: StoredAlert) => number) | string {
  const created = dialect === GRAPH ? 'createdDateTime' : 'alertCreationTime';
  return orderByComparator<StoredAlert>(orderBy, {
    [dialect.filter.updateField]: (s) => s.at,
    [created]: (s) => parseInstant(s.alert.alertCreationTime) ?? 0n,
  });
}
