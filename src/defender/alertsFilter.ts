// OData $filter text for one time window of alerts, with the configured server-side filters.
import { formatODataInstant, type Instant } from '../instants.js';

export interface ServerSideFilters {
  severity: readonly string[];
  status: readonly string[];
  detectionSource: readonly string[];
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

function anyOf(field: string, values: readonly string[]): string | undefined {
  if (values.length === 0) return undefined;
  const clauses = values.map((value) => `${field} eq ${quote(value)}`);
  return clauses.length === 1 ? clauses[0] : `(${clauses.join(' or ')})`;
}

/** Alerts with lastUpdateTime in [from, to); an open window (to = null) reaches up to the server's now. */
export function alertsWindowFilter(from: Instant, to: Instant | null, filters: ServerSideFilters): string {
  return [
    `lastUpdateTime ge ${formatODataInstant(from)}`,
    to === null ? undefined : `lastUpdateTime lt ${formatODataInstant(to)}`,
    anyOf('severity', filters.severity),
    anyOf('status', filters.status),
    anyOf('detectionSource', filters.detectionSource),
  ]
    .filter(Boolean)
    .join(' and ');
}
