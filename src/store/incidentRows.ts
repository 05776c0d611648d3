// From one Microsoft Graph incident as received to its row in `incidents`. Enums take the spelling the alert
// columns use (high → High, inProgress → InProgress, unknown severity → UnSpecified), so that reports read
// both tables alike; the incident itself is kept byte for byte in raw_json.
import { canonicalTimestamp } from '../instants.js';
import { ReceivedAlert } from '../receivedAlert.js';
import { contentHash } from './alertRows.js';
import { pascal, severity } from './graphAlertRows.js';
import { isObject, MAX_JSON_NESTING, nestingOf, text } from './jsonFields.js';
import type { ParseResult } from './versionedUpsert.js';

export const INCIDENT_UPDATE_FIELD = 'lastUpdateDateTime';

export interface IncidentRow {
  tenant_id: string;
  id: string;
  display_name: string | null;
  status: string | null;
  severity: string | null;
  classification: string | null;
  determination: string | null;
  assigned_to: string | null;
  created_time: string | null;
  last_update_time: string;
  alert_count: number | null;
  tags: string | null;
  redirect_incident_id: string | null;
  incident_web_url: string | null;
  raw_json: string;
  content_hash: string;
}

export interface ParsedIncident {
  row: IncidentRow;
  /** The incident as received, parsed. */
  incident: Record<string, unknown>;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(text).filter((tag): tag is string => tag !== null && tag !== '') : []);

function tags(incident: Record<string, unknown>): string | null {
  const all = [...strings(incident.customTags), ...strings(incident.systemTags)];
  return all.length === 0 ? null : JSON.stringify(all);
}

/** An incident as received (its text kept exactly as raw_json) or already parsed (then written as JSON). */
export function parseIncident(received: unknown): ParseResult<ParsedIncident> {
  const asReceived = received instanceof ReceivedAlert;
  if ((asReceived ? received.nesting : nestingOf(received)) > MAX_JSON_NESTING) {
    return { ok: false, reason: `nested more than ${MAX_JSON_NESTING} levels deep: SQLite's JSON functions could not read it`, rawJson: asReceived ? received.text() : 'null' };
  }
  const rawJson = asReceived ? received.text() : (JSON.stringify(received) ?? 'null');
  const incident: unknown = asReceived ? JSON.parse(rawJson) : received;
  if (!isObject(incident)) return { ok: false, reason: 'not a JSON object', rawJson };
  // Graph documents the id as a string; an incident number sent as a number is the same incident.
  const id = typeof incident.id === 'number' && Number.isSafeInteger(incident.id) ? String(incident.id) : incident.id;
  if (typeof id !== 'string' || id.trim() === '') return { ok: false, reason: 'no "id"', rawJson };
  const lastUpdateTime = canonicalTimestamp(incident[INCIDENT_UPDATE_FIELD]);
  if (lastUpdateTime === null) return { ok: false, reason: `"${INCIDENT_UPDATE_FIELD}" is missing or not a timestamp (${text(incident[INCIDENT_UPDATE_FIELD])})`, rawJson };
  const redirect = text(incident.redirectIncidentId);
  return {
    ok: true,
    value: {
      incident,
      row: {
        tenant_id: text(incident.tenantId) ?? '',
        id,
        display_name: text(incident.displayName),
        status: pascal(incident.status),
        severity: severity(incident.severity),
        classification: pascal(incident.classification),
        determination: pascal(incident.determination),
        assigned_to: text(incident.assignedTo),
        created_time: canonicalTimestamp(incident.createdDateTime),
        last_update_time: lastUpdateTime,
        alert_count: Array.isArray(incident.alerts) ? incident.alerts.length : null,
        tags: tags(incident),
        redirect_incident_id: redirect === '' ? null : redirect,
        incident_web_url: text(incident.incidentWebUrl),
        raw_json: rawJson,
        content_hash: contentHash(rawJson),
      },
    },
  };
}

/**
 * When the incident was resolved: Graph does not say, so it is the update time of the first version stored as
 * Resolved, kept while it stays resolved, and cleared when it is reopened.
 */
export function resolvedTime(row: Pick<IncidentRow, 'status' | 'last_update_time'>, stored?: { status: string | null; resolved_time: string | null }): string | null {
  if (row.status !== 'Resolved') return null;
  return stored?.status === 'Resolved' && stored.resolved_time !== null ? stored.resolved_time : row.last_update_time;
}
