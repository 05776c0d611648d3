// From one alert as received to the rows of the reporting tables. Tolerant of what the API really sends:
// documented "String" fields that are arrays or objects, unknown fields, wrong types (kept in raw_json).
import { createHash } from 'node:crypto';
import { UPDATE_FIELD } from '../alertSource.js';
import { canonicalTimestamp } from '../instants.js';
import { ReceivedAlert } from '../receivedAlert.js';
import type { AlertSource } from '../config/settings.js';
import { graphAlertColumns } from './graphAlertRows.js';
import { evidenceRow, integer, isObject, MAX_JSON_NESTING, nestingOf, text } from './jsonFields.js';

type Json = Record<string, unknown>;

export interface AlertRow {
  id: string;
  title: string | null;
  description: string | null;
  severity: string | null;
  status: string | null;
  classification: string | null;
  determination: string | null;
  investigation_state: string | null;
  category: string | null;
  detection_source: string | null;
  detector_id: string | null;
  threat_family_name: string | null;
  threat_name: string | null;
  assigned_to: string | null;
  incident_id: number | null;
  investigation_id: number | null;
  alert_creation_time: string | null;
  first_event_time: string | null;
  last_event_time: string | null;
  last_update_time: string;
  resolved_time: string | null;
  machine_id: string | null;
  computer_dns_name: string | null;
  rbac_group_name: string | null;
  aad_tenant_id: string | null;
  related_user_name: string | null;
  related_user_domain: string | null;
  raw_json: string;
  content_hash: string;
  /** The API the version came from: defender or graph. */
  source: AlertSource;
}

/** The reporting columns each source reads from its own shape. */
export type AlertColumns = Omit<AlertRow, 'id' | 'last_update_time' | 'raw_json' | 'content_hash' | 'source'>;

export interface EvidenceRow {
  ordinal: number;
  entity_type: string | null;
  evidence_creation_time: string | null;
  sha1: string | null;
  sha256: string | null;
  file_name: string | null;
  file_path: string | null;
  process_id: number | null;
  process_command_line: string | null;
  process_creation_time: string | null;
  parent_process_id: number | null;
  parent_process_file_name: string | null;
  ip_address: string | null;
  url: string | null;
  registry_key: string | null;
  registry_hive: string | null;
  registry_value: string | null;
  account_name: string | null;
  domain_name: string | null;
  user_sid: string | null;
  aad_user_id: string | null;
  user_principal_name: string | null;
  detection_status: string | null;
  raw_json: string;
}

export interface CommentRow {
  ordinal: number;
  comment: string | null;
  created_by: string | null;
  created_time: string | null;
}

export interface ParsedAlert {
  row: AlertRow;
  evidence: EvidenceRow[];
  comments: CommentRow[];
  techniques: string[];
  /** The alert as received, parsed. */
  alert: Json;
}

export type AlertParseResult = { ok: true; value: ParsedAlert } | { ok: false; reason: string; rawJson: string };

function evidenceRows(value: unknown): EvidenceRow[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((e, ordinal) => evidenceRow(ordinal, e, {
    entity_type: text(e.entityType),
    evidence_creation_time: canonicalTimestamp(e.evidenceCreationTime),
    sha1: text(e.sha1),
    sha256: text(e.sha256),
    file_name: text(e.fileName),
    file_path: text(e.filePath),
    process_id: integer(e.processId),
    process_command_line: text(e.processCommandLine),
    process_creation_time: canonicalTimestamp(e.processCreationTime),
    parent_process_id: integer(e.parentProcessId),
    parent_process_file_name: text(e.parentProcessFileName),
    ip_address: text(e.ipAddress),
    url: text(e.url),
    registry_key: text(e.registryKey),
    registry_hive: text(e.registryHive),
    registry_value: text(e.registryValue),
    account_name: text(e.accountName),
    domain_name: text(e.domainName),
    user_sid: text(e.userSid),
    aad_user_id: text(e.aadUserId),
    user_principal_name: text(e.userPrincipalName),
    detection_status: text(e.detectionStatus),
  }));
}

function commentRows(value: unknown): CommentRow[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((c, ordinal) => ({
    ordinal,
    comment: text(c.comment),
    created_by: text(c.createdBy),
    created_time: canonicalTimestamp(c.createdTime),
  }));
}

function techniques(value: unknown): string[] {
  // Documented as "String", seen as an array of strings.
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return [...new Set(items.map((item) => text(item)?.trim()).filter((item): item is string => Boolean(item)))];
}

export function contentHash(rawJson: string): string {
  return createHash('sha256').update(rawJson).digest('hex');
}

function defenderAlertColumns(alert: Json): { row: AlertColumns; evidence: EvidenceRow[]; comments: CommentRow[] } {
  const relatedUser = isObject(alert.relatedUser) ? alert.relatedUser : {};
  return {
    row: {
      title: text(alert.title),
      description: text(alert.description),
      severity: text(alert.severity),
      status: text(alert.status),
      classification: text(alert.classification),
      determination: text(alert.determination),
      investigation_state: text(alert.investigationState),
      category: text(alert.category),
      detection_source: text(alert.detectionSource),
      detector_id: text(alert.detectorId),
      threat_family_name: text(alert.threatFamilyName),
      threat_name: text(alert.threatName),
      assigned_to: text(alert.assignedTo),
      incident_id: integer(alert.incidentId),
      investigation_id: integer(alert.investigationId),
      alert_creation_time: canonicalTimestamp(alert.alertCreationTime),
      first_event_time: canonicalTimestamp(alert.firstEventTime),
      last_event_time: canonicalTimestamp(alert.lastEventTime),
      resolved_time: canonicalTimestamp(alert.resolvedTime),
      machine_id: text(alert.machineId),
      computer_dns_name: text(alert.computerDnsName),
      rbac_group_name: text(alert.rbacGroupName),
      aad_tenant_id: text(alert.aadTenantId),
      related_user_name: text(relatedUser.userName),
      related_user_domain: text(relatedUser.domainName),
    },
    evidence: evidenceRows(alert.evidence),
    comments: commentRows(alert.comments),
  };
}

/** The reporting columns of an alert of either source, as text of the stored raw_json allows. */
export function alertColumns(alert: Json, source: AlertSource): { row: AlertColumns; evidence: EvidenceRow[]; comments: CommentRow[] } {
  return source === 'graph' ? graphAlertColumns(alert) : defenderAlertColumns(alert);
}

/** An alert as received (its text kept exactly as raw_json) or already parsed (then written as JSON). */
export function parseAlert(received: unknown, source: AlertSource = 'defender'): AlertParseResult {
  const asReceived = received instanceof ReceivedAlert;
  if ((asReceived ? received.nesting : nestingOf(received)) > MAX_JSON_NESTING) {
    return { ok: false, reason: `nested more than ${MAX_JSON_NESTING} levels deep: SQLite's JSON functions could not read it`, rawJson: asReceived ? received.text() : 'null' };
  }
  const rawJson = asReceived ? received.text() : (JSON.stringify(received) ?? 'null');
  const alert: unknown = asReceived ? JSON.parse(rawJson) : received;
  if (!isObject(alert)) return { ok: false, reason: 'not a JSON object', rawJson };
  if (typeof alert.id !== 'string' || alert.id.trim() === '') return { ok: false, reason: 'no "id"', rawJson };
  const updateField = UPDATE_FIELD[source];
  const lastUpdateTime = canonicalTimestamp(alert[updateField]);
  if (lastUpdateTime === null) return { ok: false, reason: `"${updateField}" is missing or not a timestamp (${text(alert[updateField])})`, rawJson };
  const { row, evidence, comments } = alertColumns(alert, source);
  return {
    ok: true,
    value: {
      alert,
      row: { id: alert.id, ...row, last_update_time: lastUpdateTime, raw_json: rawJson, content_hash: contentHash(rawJson), source },
      evidence,
      comments,
      techniques: techniques(alert.mitreTechniques),
    },
  };
}

/** Top-level fields whose value differs, as {field: {old, new}}; key order does not count as a change. */
export function changedFields(previous: Json, next: Json): Record<string, { old: unknown; new: unknown }> {
  const changes: Record<string, { old: unknown; new: unknown }> = {};
  for (const field of new Set([...Object.keys(previous), ...Object.keys(next)])) {
    if (!sameJson(previous[field], next[field])) changes[field] = { old: previous[field] ?? null, new: next[field] ?? null };
  }
  return changes;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => sameJson(item, other[index]));
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return keysA.length === keysB.length && keysA.every((key) => sameJson((a as Json)[key], (b as Json)[key]));
}
