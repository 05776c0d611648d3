// A fake of Microsoft Graph's GET /v1.0/security/incidents ("List incidents"), serving the incidents of the
// simulator's alerts: each alert's incidentId is an incident here, an incident changes when its alerts do,
// and incidents are merged (status `redirected`, their alerts moved). It has the rough edges of the alerts
// endpoints: an arbitrary order that shifts on updates, ties, a server page cut below $top with an
// @odata.nextLink, $orderby honoured / ignored / refused, 429 with Retry-After, incidents visible minutes after
// their creation, and the same injectable faults; plus the live service's 400 for $top above 50 and an option
// that makes $expand=alerts fail with 500 (as it did for a large tenant, elastic/integrations#18144).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlertsApi } from './alertsApi.js';
import type { SimAlert } from './alertFactory.js';
import { sendJson, type IdentityProvider } from './identityProvider.js';
import { parseInstant } from '../instants.js';
import { INCIDENT_FILTER, ODataFilterError, parseFilter, type InstantRange, type ParsedFilter } from './odataFilter.js';
import { IncidentFactory, type SimIncident } from './incidentFactory.js';
import { graphAlertSummary } from './graphAlert.js';
import { byAt, inRange, orderByComparator, pickSome } from './recordOrder.js';
import { beginAnswer, graphNextLink, ORDER_BY_REFUSED, readSkipToken, sendPage, type ApiFault, type ApiRequestRecord, type OrderByHandling } from './apiAnswers.js';

/** The permissions Graph accepts for listing incidents (delegated scp or application roles). */
export const INCIDENT_READ_PERMISSIONS = ['SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All'];
/** The live service answers a $top above this with 400 (the page itself states no maximum). */
export const INCIDENTS_MAX_TOP = 50;
const CONTEXT = 'https://graph.microsoft.com/v1.0/$metadata#security/incidents';

export interface IncidentsApiOptions {
  /**
   * Requests a minute per app per tenant. Graph's throttling page lists 150 a minute for security `alert`
   * operations and names no separate figure for incidents: the simulator counts incidents apart, at 150.
   */
  callsPerMinute: number;
  /** Set, answers at most this many incidents per response, cutting $top silently (the rest by @odata.nextLink). */
  serverPageSize?: number | undefined;
  /** What the endpoint does with $orderby (see OrderByHandling); by default it ignores it. */
  orderBy?: OrderByHandling | undefined;
  /** Set, every request with $expand=alerts answers 500. */
  expandAlertsFails?: boolean | undefined;
  /** Incidents opened after the start become visible this long after they are created (Sentinel documents up to 10 minutes). */
  visibleAfterMs?: number | undefined;
  /** A share (0-1) of the incidents seeded at the start merged into others (one public tenant: 51 of 474). */
  initialMergedShare?: number | undefined;
}

interface StoredIncident {
  incident: SimIncident;
  /** lastUpdateDateTime as an instant, for the index. */
  at: bigint;
  /** Position in the server's arbitrary order; an update moves the incident elsewhere in it. */
  order: number;
  visibleFromMs: number;
}

export class IncidentsApi {
  readonly incidents = new Map<string, StoredIncident>();
  /** Every version each incident has had, oldest first: what a recorded change must be one of. */
  readonly versions = new Map<string, SimIncident[]>();
  readonly faults: ApiFault[] = [];
  readonly requests: ApiRequestRecord[] = [];
  serverPageSize: number | undefined;
  orderBy: OrderByHandling;
  expandAlertsFails: boolean;
  visibleAfterMs: number;
  /** Called before each incidents query is answered, with its 0-based number: lets tests change incidents mid-scan. */
  beforeQuery: ((index: number) => void) | undefined;
  /** The alerts of each incident by id, and the incident each alert is in now. */
  private readonly members = new Map<string, Set<string>>();
  private readonly incidentOfAlert = new Map<string, string>();
  private readonly callTimes: number[] = [];
  private byLastUpdate: StoredIncident[] | undefined;
  private queries = 0;
  private nextIncidentId = 100_000;

  constructor(
    private readonly identity: IdentityProvider,
    private readonly alerts: AlertsApi,
    private readonly factory: IncidentFactory,
    private readonly random: () => number,
    private readonly nowMs: () => number,
    readonly options: IncidentsApiOptions,
  ) {
    this.serverPageSize = options.serverPageSize;
    this.orderBy = options.orderBy ?? 'ignored';
    this.expandAlertsFails = options.expandAlertsFails ?? false;
    this.visibleAfterMs = options.visibleAfterMs ?? 0;
    alerts.onPut = (alert, visibleFromMs) => this.alertStored(alert, visibleFromMs);
  }

  /** The incidents as the service holds them now (what a complete, current copy must equal). */
  truth(): SimIncident[] {
    const now = this.nowMs();
    return [...this.incidents.values()].filter((s) => s.visibleFromMs <= now).map((s) => s.incident);
  }

  /** The ids of the alerts in an incident now. */
  alertIdsOf(id: string): string[] {
    return [...(this.members.get(id) ?? [])];
  }

  private put(incident: SimIncident, visibleFromMs: number): void {
    this.incidents.set(incident.id, { incident, at: parseInstant(incident.lastUpdateDateTime) ?? 0n, order: this.random(), visibleFromMs });
    this.byLastUpdate = undefined;
    const versions = this.versions.get(incident.id);
    if (versions) versions.push(incident);
    else this.versions.set(incident.id, [incident]);
  }

  /** An alert was stored: its incident opens, or changes, and an alert that moved leaves its old one. */
  private alertStored(alert: SimAlert, alertVisibleFromMs: number): void {
    const id = incidentKey(alert.incidentId);
    const before = this.incidentOfAlert.get(alert.id);
    if (before !== undefined && before !== id) this.members.get(before)?.delete(alert.id);
    if (id === undefined) {
      this.incidentOfAlert.delete(alert.id);
      return;
    }
    this.incidentOfAlert.set(alert.id, id);
    const members = this.members.get(id) ?? new Set<string>();
    members.add(alert.id);
    this.members.set(id, members);
    const view = graphAlertSummary(alert);
    const stored = this.incidents.get(id);
    if (!stored) {
      // Seeded history is visible at once; an incident opened later shows up after the service's delay.
      this.put(this.factory.open(id, view), alertVisibleFromMs === 0 ? 0 : this.nowMs() + this.visibleAfterMs);
      return;
    }
    const target = stored.incident.redirectIncidentId;
    if (stored.incident.status === 'redirected' && typeof target === 'string' && this.incidents.has(target)) {
      // An alert correlated with a merged incident goes where that incident went.
      this.alerts.moveAlerts([alert.id], Number(target));
      return;
    }
    // The incident is derived from all its alerts, visible or not (the service knows them all).
    const views = this.alertIdsOf(id).map((alertId) => this.alerts.alerts.get(alertId)?.alert).filter((a): a is SimAlert => a !== undefined).map(graphAlertSummary);
    this.put(this.factory.withAlert(stored.incident, views, view), stored.visibleFromMs);
  }

  /** Makes late incidents visible now. */
  index(ids: string[]): void {
    for (const id of ids) {
      const stored = this.incidents.get(id);
      if (stored) stored.visibleFromMs = 0;
    }
  }

  /**
   * New incidents, each opened by `alertsEach` new alerts (default 1) created at `atMs` (default now), under
   * ids no incident has had. `lastUpdateTime` gives every alert and incident that time (ties);
   * `indexedAfterMs` / `unindexed` make the incidents visible only later (or once `index()` is called) while
   * their alerts are visible at once.
   */
  createIncidents(count: number, options: { alertsEach?: number; atMs?: number; lastUpdateTime?: string; indexedAfterMs?: number; unindexed?: boolean } = {}): SimIncident[] {
    const created: SimIncident[] = [];
    const alertOptions = { ...(options.atMs !== undefined ? { atMs: options.atMs } : {}), ...(options.lastUpdateTime ? { lastUpdateTime: options.lastUpdateTime } : {}) };
    for (let i = 0; i < count; i += 1) {
      const id = this.freshIncidentId();
      this.alerts.createAlerts(options.alertsEach ?? 1, { ...alertOptions, incidentId: Number(id) });
      const stored = this.incidents.get(id)!;
      if (options.lastUpdateTime) this.replaceLatest(stored, { ...stored.incident, lastUpdateDateTime: options.lastUpdateTime });
      if (options.unindexed) stored.visibleFromMs = Number.POSITIVE_INFINITY;
      else if (options.indexedAfterMs !== undefined) stored.visibleFromMs = this.nowMs() + options.indexedAfterMs;
      created.push(this.incidents.get(id)!.incident);
    }
    return created;
  }

  /** An incident id not taken (above the ids the alert factory draws, so that large tenants can hold any number). */
  private freshIncidentId(): string {
    while (this.incidents.has(String(this.nextIncidentId))) this.nextIncidentId += 1;
    return String(this.nextIncidentId++);
  }

  /** The stored version replaced (not a new one): for a version no client could have seen. */
  private replaceLatest(stored: StoredIncident, incident: SimIncident): void {
    const versions = this.versions.get(incident.id)!;
    versions[versions.length - 1] = incident;
    this.incidents.set(incident.id, { ...stored, incident, at: parseInstant(incident.lastUpdateDateTime) ?? 0n });
    this.byLastUpdate = undefined;
  }

  /** Analysts work on incidents: each changed one gets a new lastUpdateDateTime and moves in the server's order. */
  updateIncidents(selection: number | string[]): SimIncident[] {
    const ids = typeof selection === 'number' ? pickSome(this.open().map((i) => i.id), selection, this.random) : selection;
    const changed: SimIncident[] = [];
    for (const id of ids) {
      const stored = this.incidents.get(id);
      if (!stored) continue;
      const next = this.factory.change(stored.incident, this.nowMs());
      this.put(next, stored.visibleFromMs);
      changed.push(next);
    }
    return changed;
  }

  /** The visible incidents not merged away that random churn may pick: not the showcase's (a pinned alert's). */
  private open(): SimIncident[] {
    return this.truth().filter((i) => i.status !== 'redirected' && !this.holdsPinned(i.id));
  }

  private holdsPinned(id: string): boolean {
    if (this.alerts.pinned.size === 0) return false;
    for (const alertId of this.members.get(id) ?? []) if (this.alerts.pinned.has(alertId)) return true;
    return false;
  }

  /**
   * Defender XDR merges `sourceId` into `targetId`: the source becomes `redirected` naming the target, and its
   * alerts move to the target (new alert versions; the target changes with them), at `atMs` (default now).
   */
  mergeIncident(sourceId: string, targetId: string, atMs = this.nowMs()): void {
    const source = this.incidents.get(sourceId);
    if (!source || !this.incidents.has(targetId) || sourceId === targetId || source.incident.status === 'redirected') throw new Error(`cannot merge incident ${sourceId} into ${targetId}`);
    this.put(this.factory.redirect(source.incident, targetId, atMs), source.visibleFromMs);
    this.alerts.moveAlerts(this.alertIdsOf(sourceId), Number(targetId), atMs);
  }

  /** `count` merges of random pairs of open incidents (at `atMs`, default now); returns [source, target] of each. */
  mergeIncidents(count: number, atMs?: number): [string, string][] {
    const merged: [string, string][] = [];
    for (let i = 0; i < count; i += 1) {
      const pair = pickSome(this.open().map((incident) => incident.id), 2, this.random);
      if (pair.length < 2) break;
      this.mergeIncident(pair[0]!, pair[1]!, atMs);
      merged.push([pair[0]!, pair[1]!]);
    }
    return merged;
  }

  /** The incidents whose lastUpdateDateTime lies in the range (binary search in the index); the filter still applies. */
  private candidates(range: InstantRange): StoredIncident[] {
    if (!range.low && !range.high) return [...this.incidents.values()];
    this.byLastUpdate ??= [...this.incidents.values()].sort(byAt);
    return inRange(this.byLastUpdate, range);
  }

  /** How long a call must wait under the per-minute limit, or undefined: accepted. */
  private quotaWait(now: number): number | undefined {
    const times = this.callTimes;
    while (times.length > 0 && times[0]! <= now - 60_000) times.shift();
    if (times.length >= this.options.callsPerMinute) return times[0]! + 60_000 - now;
    times.push(now);
    return undefined;
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    if (!/^\/v1\.0\/security\/incidents\/?$/.test(url.pathname)) return false;
    const now = this.nowMs();
    const begun = await beginAnswer(url, now, 'alerts', this.requests, this.faults, response);
    if (!begun) return true;
    const { record, fault } = begun;
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      record.status = status;
      if (fault) this.faults.unshift(fault);
      sendJson(response, status, { error: { code, message, innerError: { date: new Date(now).toISOString().slice(0, 19), 'request-id': crypto.randomUUID(), 'client-request-id': crypto.randomUUID() } } }, headers);
      return true;
    };
    const refused = this.refusal(request, record, now);
    if (refused) return error(...refused);
    const query = this.readQuery(url, record);
    if (query.error) return error(400, ...query.error);
    if (record.expand && this.expandAlertsFails) return error(500, 'InternalServerError', 'An error occurred while processing the request.');

    this.beforeQuery?.(this.queries++);
    const visibleNow = this.nowMs();
    const matching = this.candidates(query.filter?.lastUpdateTime ?? {}).filter((s) => s.visibleFromMs <= visibleNow && (!query.filter || query.filter.matches(s.incident)));
    matching.sort((a, b) => a.order - b.order);
    if (query.sortKey) matching.sort(query.sortKey);
    const top = Math.min(record.top ?? INCIDENTS_MAX_TOP, this.serverPageSize ?? Infinity);
    const page = matching.slice(record.skip, record.skip + top).map((s) => (record.expand ? { ...s.incident, alerts: this.expandedAlerts(s.incident.id) } : s.incident));
    const nextLink = matching.length > record.skip + top ? graphNextLink(url, record.skip + top) : undefined;
    const context = record.expand ? `${CONTEXT}(alerts())` : CONTEXT;
    sendPage(request, response, url, now, record, { context, page, count: query.count ? matching.length : undefined, nextLink }, fault);
    return true;
  }

  /** Why a request is refused before its query is read (401, 403, 429), as Graph answers, or undefined. */
  private refusal(request: IncomingMessage, record: ApiRequestRecord, now: number): [number, string, string, Record<string, string>?] | undefined {
    const token = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const issued = token ? this.identity.validate(token) : 'unknown';
    if (issued === 'unknown' || issued === 'expired') return [401, 'InvalidAuthenticationToken', issued === 'expired' ? 'Lifetime validation failed, the token is expired.' : 'Access token is empty or invalid.'];
    if (!this.alerts.options.graphAudiences.includes(issued.aud)) return [401, 'InvalidAuthenticationToken', `Invalid audience ${issued.aud}.`];
    record.username = issued.username;
    const granted = issued.kind === 'user' ? issued.scp.split(' ') : issued.roles;
    if (!granted.some((p) => INCIDENT_READ_PERMISSIONS.includes(p))) return [403, 'Forbidden', `Missing role permissions on the request. API requires one of '${INCIDENT_READ_PERMISSIONS.join(', ')}'.`];
    const wait = this.quotaWait(now);
    if (wait !== undefined) return [429, 'TooManyRequests', 'Too many requests. Please try again later.', { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) }];
    return undefined;
  }

  /** The query options, or the 400 (code, message) that refuses them. */
  private readQuery(url: URL, record: ApiRequestRecord): { filter?: ParsedFilter | undefined; sortKey?: ((a: StoredIncident, b: StoredIncident) => number) | undefined; count?: boolean; error?: [string, string] } {
    const topText = url.searchParams.get('$top');
    if (record.top !== null && (!Number.isInteger(record.top) || record.top < 0)) return { error: ['BadRequest', `Invalid $top value '${topText}'.`] };
    if (record.top !== null && record.top > INCIDENTS_MAX_TOP) return { error: ['BadRequest', `The limit of '${INCIDENTS_MAX_TOP}' for Top query has been exceeded. The value from the incoming request is '${topText}'.`] };
    if (record.skipToken) {
      const skip = readSkipToken(url.searchParams.get('$skiptoken')!);
      if (skip === undefined) return { error: ['BadRequest', 'Invalid $skiptoken value.'] };
      record.skip = skip;
    }
    if (!Number.isInteger(record.skip) || record.skip < 0) return { error: ['BadRequest', 'Invalid $skip value.'] };
    const countText = url.searchParams.get('$count');
    if (countText !== null && countText !== 'true' && countText !== 'false') return { error: ['BadRequest', `Invalid value '${countText}' for $count query option found. Valid values are 'true' and 'false'.`] };
    const expand = (url.searchParams.get('$expand') ?? '').split(',').filter(Boolean).find((p) => p !== 'alerts');
    if (expand !== undefined) return { error: ['BadRequest', `Could not find a property named '${expand}' on type 'microsoft.graph.security.incident'.`] };
    if (record.orderBy !== null && this.orderBy === 'refused') return { error: ['BadRequest', ORDER_BY_REFUSED] };
    const sortKey = record.orderBy !== null && this.orderBy === 'honoured'
      ? orderByComparator<StoredIncident>(record.orderBy, { lastUpdateDateTime: (s) => s.at, createdDateTime: (s) => parseInstant(s.incident.createdDateTime) ?? 0n })
      : undefined;
    if (typeof sortKey === 'string') return { error: ['BadRequest', sortKey] };
    try {
      return { filter: record.filter ? parseFilter(record.filter, INCIDENT_FILTER) : undefined, sortKey, count: countText === 'true' };
    } catch (e) {
      if (e instanceof ODataFilterError) return { error: ['BadRequest', e.message] };
      throw e;
    }
  }

  /** The incident's alerts as Graph shows them, for $expand=alerts. */
  private expandedAlerts(id: string): Record<string, unknown>[] {
    return this.alertIdsOf(id).map((alertId) => this.alerts.graphView(alertId)).filter((v): v is Record<string, unknown> => v !== undefined);
  }
}

/** An alert's incidentId as the incident's id (Graph's string), or undefined when it has none usable. */
function incidentKey(incidentId: unknown): string | undefined {
  if (typeof incidentId === 'number' && Number.isSafeInteger(incidentId)) return String(incidentId);
  if (typeof incidentId === 'string' && /^\d+$/.test(incidentId)) return incidentId;
  return undefined;
}
