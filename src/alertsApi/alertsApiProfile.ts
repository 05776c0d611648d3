// What differs between the two APIs that serve alerts (the Defender for Endpoint API and Microsoft Graph
// alerts_v2): where a page is, how a time window is filtered, the permissions and audiences a token needs,
// and what to tell the operator when one is missing. Everything else (retry, quotas, windows, the store)
// is shared.
import type { AlertSource, CALL_QUOTAS, Settings } from '../config/settings.js';
import { formatODataInstant, type Instant } from '../instants.js';
import type { ApiRetirement } from './retirement.js';

export type WindowFilterSettings = Pick<Settings, 'severityFilter' | 'statusFilter' | 'detectionSourceFilter' | 'serviceSourceFilter'>;

export interface AlertsApiProfile {
  source: AlertSource;
  /** The API's name in messages. */
  apiName: string;
  /** The path of the alerts list under apiBaseUrl. */
  path: string;
  /** The name of the field the cursor follows. */
  updateField: string;
  /** The name of the field that holds the alert's creation time. */
  createdField: string;
  /** $filter for alerts updated in [from, to) (to = null: up to the server's now), with the server-side filters. */
  windowFilter(from: Instant, to: Instant | null, settings: WindowFilterSettings): string;
  /** The server-side filters that make the stream: a cursor belongs to the query it was read with. */
  streamName(settings: WindowFilterSettings): string;
  /** Whether evidence is asked for with $expand (Defender) or comes inline (Graph). */
  expandsEvidence: boolean;
  /**
   * Whether @odata.nextLink pages are read (Defender adds them rarely) or only mark the answer as having more
   * (Graph pages by them). Each page is a request with a live $skip; the window logic splits such answers.
   */
  followsNextLink: boolean;
  /** Whether the API documents $count=true (@odata.count in the answer): Graph alerts_v2 does, the Defender API does not. */
  countsAnswers: boolean;
  /** Delegated and application permissions that can read alerts. */
  readPermissions: readonly string[];
  /** Token audiences of this API in every cloud (the configured host is accepted too). */
  audiences: readonly string[];
  /** The read permission a token lacks, and how to grant it. */
  missingPermission(application: boolean): { lacks: string; fix: string };
  /** The scope to sign in with in the commercial cloud, for messages. */
  commercialScope: string;
  /** A 403 although the token carries the permission: what the user lacks. */
  userLacksRole: string;
  /** The API's documented request limit: the client's default (callsPerMinute / callsPerHour lower it). */
  quota: (typeof CALL_QUOTAS)[AlertSource];
  /** When the API stops working, if Microsoft has announced it. */
  retirement?: ApiRetirement;
}

/**
 * "<field> ge <from> and <field> lt <to>" (no upper bound when `to` is null), and then the server-side filter
 * clauses that are set: a window on the field the cursor follows.
 */
export function windowFilterOf(field: string, from: Instant, to: Instant | null, clauses: (string | undefined)[]): string {
  return [`${field} ge ${formatODataInstant(from)}`, to === null ? undefined : `${field} lt ${formatODataInstant(to)}`, ...clauses].filter(Boolean).join(' and ');
}

/** "(a or b)" for a list of accepted values of one field. */
export function anyOf(field: string, values: readonly string[]): string | undefined {
  if (values.length === 0) return undefined;
  const clauses = values.map((value) => `${field} eq '${value.replace(/'/g, "''")}'`);
  return clauses.length === 1 ? clauses[0] : `(${clauses.join(' or ')})`;
}

export function streamNameOf(prefix: string, filters: [string, readonly string[]][]): string {
  const parts = filters.filter(([, values]) => values.length > 0).map(([name, values]) => `${name}=${[...values].sort().join(',')}`);
  return `${prefix}${parts.length ? `?${parts.join('&')}` : ''}`;
}
