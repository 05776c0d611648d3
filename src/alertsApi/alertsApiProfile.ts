// What differs between the two APIs that serve alerts (the Defender for Endpoint API and Microsoft Graph
// alerts_v2): where a page is, how a time window is filtered, the permissions and audiences a token needs,
// and what to tell the operator when one is missing. Everything else (retry, quotas, windows, the store)
// is shared.
import { formatODataInstant, type Instant } from '../instants.js';
import type { RecordStreamProfile } from './recordStreamProfile.js';

export type { WindowFilterSettings } from './recordStreamProfile.js';

/** An API that serves alerts: one instance of a record stream (src/alertsApi/recordStreamProfile.ts). */
export interface AlertsApiProfile extends RecordStreamProfile {
  entity: 'alerts';
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
