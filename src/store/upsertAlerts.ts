// Writes alerts so that the store converges on each alert's newest version: an alert seen again unchanged
// writes nothing, a newer version replaces the row and appends what changed, an older one is ignored. The
// rules are the record streams' (versionedUpsert.ts); this file says how an alert becomes its rows.
import type { Db } from './database.js';
import { UPDATE_FIELD } from '../alertSource.js';
import { alertColumns, changedFields, parseAlert, type ParsedAlert } from './alertRows.js';
import type { AlertSource } from '../config/settings.js';
import { upsertVersions, type ParsedVersion, type UpsertCounts } from './versionedUpsert.js';

export { emptyCounts, type UpsertCounts } from './versionedUpsert.js';

const ALERT_COLUMNS = [
  'id', 'title', 'description', 'severity', 'status', 'classification', 'determination', 'investigation_state',
  'category', 'detection_source', 'detector_id', 'threat_family_name', 'threat_name', 'assigned_to', 'incident_id',
  'investigation_id', 'alert_creation_time', 'first_event_time', 'last_event_time', 'last_update_time',
  'resolved_time', 'machine_id', 'computer_dns_name', 'rbac_group_name', 'aad_tenant_id', 'related_user_name',
  'related_user_domain', 'raw_json', 'content_hash', 'source',
] as const;

const EVIDENCE_COLUMNS = [
  'ordinal', 'entity_type', 'evidence_creation_time', 'sha1', 'sha256', 'file_name', 'file_path', 'process_id',
  'process_command_line', 'process_creation_time', 'parent_process_id', 'parent_process_file_name', 'ip_address',
  'url', 'registry_key', 'registry_hive', 'registry_value', 'account_name', 'domain_name', 'user_sid',
  'aad_user_id', 'user_principal_name', 'detection_status', 'raw_json',
] as const;

const placeholders = (columns: readonly string[]): string => columns.map((c) => `@${c}`).join(', ');

export type AlertUpserter = (alerts: unknown[], context: { runId: number | null; now: string; source?: AlertSource }) => UpsertCounts;

/** What differs between the stored version from one API and a version from the other, column by column. */
function changedAcrossSources(stored: { last_update_time: string; source: AlertSource }, previous: Record<string, unknown>, parsed: ParsedAlert, source: AlertSource) {
  const before = { ...alertColumns(previous, stored.source).row, last_update_time: stored.last_update_time };
  const { id: _id, raw_json: _raw, content_hash: _hash, source: _source, ...after } = parsed.row;
  return { ...changedFields(before, after), source: { old: stored.source, new: source } };
}

/** Prepares the statements once; the returned function must run inside a transaction. */
export function prepareUpsertAlerts(db: Db): AlertUpserter {
  const select = db.prepare<[string], { last_update_time: string; content_hash: string; raw_json: string; source: AlertSource }>(
    'SELECT last_update_time, content_hash, raw_json, source FROM alerts WHERE id = ?',
  );
  const insert = db.prepare(
    `INSERT INTO alerts (${ALERT_COLUMNS.join(', ')}, first_stored_at, last_stored_at)
     VALUES (${placeholders(ALERT_COLUMNS)}, @now, @now)`,
  );
  const update = db.prepare(
    `UPDATE alerts SET ${ALERT_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = @${c}`).join(', ')},
       versions_seen = versions_seen + 1, last_stored_at = @now
     WHERE id = @id`,
  );
  const deleteEvidence = db.prepare('DELETE FROM alert_evidence WHERE alert_id = ?');
  const deleteComments = db.prepare('DELETE FROM alert_comments WHERE alert_id = ?');
  const deleteTechniques = db.prepare('DELETE FROM alert_mitre_techniques WHERE alert_id = ?');
  const insertEvidence = db.prepare(`INSERT INTO alert_evidence (alert_id, ${EVIDENCE_COLUMNS.join(', ')}) VALUES (@alert_id, ${placeholders(EVIDENCE_COLUMNS)})`);
  const insertComment = db.prepare('INSERT INTO alert_comments (alert_id, ordinal, comment, created_by, created_time) VALUES (@alert_id, @ordinal, @comment, @created_by, @created_time)');
  const insertTechnique = db.prepare('INSERT INTO alert_mitre_techniques (alert_id, technique) VALUES (?, ?)');
  const insertChange = db.prepare(
    `INSERT INTO alert_changes (alert_id, change, previous_last_update_time, last_update_time, changed_fields, sync_run_id, stored_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertRejected = db.prepare('INSERT INTO rejected_alerts (reason, raw_json, sync_run_id, stored_at) VALUES (?, ?, ?, ?)');

  const writeChildren = (parsed: ParsedAlert, replacing: boolean): void => {
    const id = parsed.row.id;
    if (replacing) {
      deleteEvidence.run(id);
      deleteComments.run(id);
      deleteTechniques.run(id);
    }
    for (const evidence of parsed.evidence) insertEvidence.run({ alert_id: id, ...evidence });
    for (const comment of parsed.comments) insertComment.run({ alert_id: id, ...comment });
    for (const technique of parsed.techniques) insertTechnique.run(id, technique);
  };

  type Stored = { last_update_time: string; content_hash: string; raw_json: string; source: AlertSource };
  type Version = ParsedVersion & { alert: ParsedAlert };
  return (alerts, { runId, now, source = 'defender' }) =>
    upsertVersions<Version, Stored>(
      {
        updateField: UPDATE_FIELD[source],
        parse: (alert) => {
          const result = parseAlert(alert, source);
          return result.ok ? { ok: true, value: { id: result.value.row.id, lastUpdateTime: result.value.row.last_update_time, contentHash: result.value.row.content_hash, alert: result.value } } : result;
        },
        stored: ({ id }) => select.get(id),
        insert: ({ alert }, now) => {
          insert.run({ ...alert.row, now });
          writeChildren(alert, false);
        },
        update: ({ alert }, _stored, now) => {
          update.run({ ...alert.row, now });
          writeChildren(alert, true);
        },
        changes: (stored, { alert }) => {
          const previous = JSON.parse(stored.raw_json) as Record<string, unknown>;
          // The same alert from the other API has another shape: what changed is told by the reporting columns.
          return stored.source === source ? changedFields(previous, alert.alert) : changedAcrossSources(stored, previous, alert, source);
        },
        history: ({ id, lastUpdateTime }, change, previous, fields, run, at) => insertChange.run(id, change, previous, lastUpdateTime, fields, run, at),
        reject: (reason, rawJson, run, at) => insertRejected.run(reason, rawJson, run, at),
      },
      alerts,
      runId,
      now,
    );
}
