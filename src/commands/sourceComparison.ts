// The pure half of `compare-sources`: the span it reads, each source's settings derived from one
// configuration, and how alerts seen by one API and not the other are explained. No I/O here.
import { InvalidArgumentError } from 'commander';
import { CLOUD_ENDPOINTS, sourceEndpoint } from '../config/clouds.js';
import { parsePointInTime } from '../config/pointInTime.js';
import { CALL_QUOTAS, MAX_PAGE_SIZES, type AlertSource, type Settings } from '../config/settings.js';
import { instantFromMs, type Instant } from '../instants.js';

/** "7d", "36h" (back from now), a UTC date or an ISO-8601 time with a zone, in the past. */
export function parseSince(text: string, nowMs: number = Date.now()): Instant {
  const at = parsePointInTime(text, nowMs);
  if (at === undefined) throw new InvalidArgumentError('must be a span such as 7d, 36h or 90m (more than 0), or an ISO-8601 time with a zone such as 2026-11-24T00:00:00Z.');
  if (at >= instantFromMs(nowMs)) throw new InvalidArgumentError('must lie in the past.');
  return at;
}

/** Microsoft's own API hosts; any other apiBaseUrl is a stand-in (the simulator, a private endpoint) serving both APIs. */
const MICROSOFT_HOST = /(^|\.)(microsoft\.com|microsoft\.us)$/i;

/**
 * The settings that read `source`, from a configuration written for either. The other API's host and scope
 * follow `cloud` (a token's audience is one API: each needs its own), unless apiBaseUrl is not a Microsoft
 * host; its page size and call quota stay within that API's limits.
 */
export function settingsForSource(settings: Settings, source: AlertSource): Settings {
  if (source === settings.source) return settings;
  const endpoint = sourceEndpoint(CLOUD_ENDPOINTS[settings.cloud], source);
  const standIn = !MICROSOFT_HOST.test(new URL(settings.apiBaseUrl).hostname);
  const quota = CALL_QUOTAS[source];
  const atMost = (value: number | undefined, limit: number | undefined) => (value === undefined || limit === undefined ? value : Math.min(value, limit));
  return {
    ...settings,
    source,
    apiBaseUrl: standIn ? settings.apiBaseUrl : endpoint.apiBaseUrl,
    scope: endpoint.scope,
    pageSize: settings.pageSize === MAX_PAGE_SIZES[settings.source] ? MAX_PAGE_SIZES[source] : Math.min(settings.pageSize, MAX_PAGE_SIZES[source]),
    callsPerMinute: atMost(settings.callsPerMinute, quota.perMinute),
    callsPerHour: atMost(settings.callsPerHour, quota.perHour),
  };
}

/** What one read tells about an alert: its update time, and the service it belongs to in Graph's terms. */
export interface SeenAlert {
  lastUpdate: Instant;
  /** Graph's serviceSource (for a Defender API alert: the service its detectionSource names). */
  service: string;
}

export type SeenAlerts = Map<string, SeenAlert>;

const ENDPOINT = 'microsoftDefenderForEndpoint';

/** Defender API alerts raised by Microsoft 365 Defender's correlation (detectionSource MTP) are that service's in Graph. */
export function serviceOfDefenderAlert(detectionSource: unknown): string {
  return detectionSource === 'MTP' ? 'microsoft365Defender' : ENDPOINT;
}

export const REASONS = {
  otherServiceOutsideFilter: { disagreement: false, text: 'other services, outside serviceSourceFilter (Graph is not asked for them)' },
  otherServiceGraphOnly: { disagreement: false, text: "other Defender XDR services (the Defender API serves Defender for Endpoint's alerts)" },
  changedWhileComparing: { disagreement: false, text: 'changed while comparing (updated or indexed while the reads ran, or found by the re-check)' },
  graphDoesNotReturn: { disagreement: true, text: 'Graph does not return them (the Defender API does)' },
  defenderDoesNotReturn: { disagreement: true, text: 'the Defender API does not return them (Graph does)' },
} as const;
export type Reason = keyof typeof REASONS;

export interface DifferenceGroup {
  reason: Reason;
  /** The API that returned these alerts; the other did not. */
  seenBy: AlertSource;
  disagreement: boolean;
  description: string;
  ids: string[];
}

/** A one-sided alert explained by coverage alone, or undefined (then re-checked, else a disagreement). */
export function coverageReason(seenBy: AlertSource, alert: SeenAlert, serviceSourceFilter: readonly string[]): Reason | undefined {
  if (seenBy === 'graph') return alert.service !== ENDPOINT ? 'otherServiceGraphOnly' : undefined;
  // An empty filter is "all": Graph is asked for every service.
  return serviceSourceFilter.length > 0 && !serviceSourceFilter.includes(alert.service) ? 'otherServiceOutsideFilter' : undefined;
}

export interface OneSided {
  seenBy: AlertSource;
  id: string;
  alert: SeenAlert;
}

/** The ids only one read holds, each with what that read saw. */
export function oneSided(defender: SeenAlerts, graph: SeenAlerts): { both: number; oneSided: OneSided[] } {
  const result: OneSided[] = [];
  let both = 0;
  for (const [id, alert] of defender) {
    if (graph.has(id)) both += 1;
    else result.push({ seenBy: 'defender', id, alert });
  }
  for (const [id, alert] of graph) if (!defender.has(id)) result.push({ seenBy: 'graph', id, alert });
  return { both, oneSided: result };
}

/** Groups classified alerts by reason, in REASONS' order, ids sorted. */
export function groupByReason(classified: { seenBy: AlertSource; id: string; reason: Reason }[]): DifferenceGroup[] {
  const groups = new Map<string, DifferenceGroup>();
  for (const { seenBy, id, reason } of classified) {
    const key = `${reason}/${seenBy}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { reason, seenBy, disagreement: REASONS[reason].disagreement, description: REASONS[reason].text, ids: [] }));
    group.ids.push(id);
  }
  const order = Object.keys(REASONS);
  return [...groups.values()]
    .map((group) => ({ ...group, ids: group.ids.sort() }))
    .sort((a, b) => order.indexOf(a.reason) - order.indexOf(b.reason) || a.seenBy.localeCompare(b.seenBy));
}
