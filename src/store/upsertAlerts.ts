// Writes alerts so that the store converges on each alert's newest version: an alert seen again unchanged
// writes nothing, a newer version replaces the row and appends what changed, an older one is ignored.
import type { Db } from './database.js';
import { canonicalTimestamp } from '../instants.js';
import { UPDATE_FIELD } from '../alertSource.js';
import { alertColumns, changedFields, parseAlert, type AlertParseResult, type ParsedAlert } from './alertRows.js';
import { errorMessage } from '../errors.js';
import type { AlertSource } from '../config/settings.js';
import { ReceivedAlert } from '../receivedAlert.js';

export interface UpsertCounts {
  received: number;
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  rejected: number;
}

export const emptyCounts = (): UpsertCounts => ({ received: 0, inserted: 0, updated: 0, unchanged: 0, stale: 0, rejected: 0 });

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

/** The alert's text for rejected_alerts, whatever it holds. */
function rawTextOf(alert: unknown): string {
  if (alert instanceof ReceivedAlert) return alert.text();
  try {
    return JSON.stringify(alert) ?? 'null';
  } catch {
    return 'null';
  }
}

/**
 * Runs the part of writing one alert that only reads the alert itself (no SQL): whatever it throws is about
 * that alert, so the alert is rejected instead of failing its window and every pass after it.
 */
function aboutTheAlert<T>(alert: unknown, work: () => T): T | { ok: false; reason: string; rawJson: string } {
  try {
    return work();
  } catch (error) {
    return { ok: false, reason: `cannot be stored: ${errorMessage(error)}`, rawJson: rawTextOf(alert) };
  }
}

const isRejection = (value: unknown): value is { ok: false; reason: string; rawJson: string } => (value as { ok?: unknown } | null)?.ok === false;

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

  return (alerts, { runId, now, source = 'defender' }) => {
    const counts = emptyCounts();
    // Ascending time order, so that history rows follow the alerts' own order of change. Each alert becomes
    // rows just before it is written, so that one alert's rows are alive at a time, not a whole page's.
    // What cannot be stored sorts first, in the order received.
    const ordered = alerts.map((alert) => {
      // A ReceivedAlert names its update field lastUpdateTime whatever the source.
      const fields = alert as Record<string, unknown> | null;
      const updated = alert instanceof ReceivedAlert ? alert.lastUpdateTime : fields?.[UPDATE_FIELD[source]];
      return { alert, at: (typeof fields?.id === 'string' && canonicalTimestamp(updated)) || '' };
    });
    ordered.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    for (const { alert } of ordered) {
      counts.received += 1;
      const result: AlertParseResult = aboutTheAlert(alert, () => parseAlert(alert, source));
      if (!result.ok) {
        insertRejected.run(result.reason, result.rawJson, runId, now);
        counts.rejected += 1;
        continue;
      }
      const parsed = result.value;
      const { row } = parsed;
      const stored = select.get(row.id);
      if (!stored) {
        insert.run({ ...row, now });
        writeChildren(parsed, false);
        insertChange.run(row.id, 'created', null, row.last_update_time, '{}', runId, now);
        counts.inserted += 1;
        continue;
      }
      if (row.last_update_time < stored.last_update_time) {
        counts.stale += 1;
        continue;
      }
      if (stored.content_hash === row.content_hash) {
        counts.unchanged += 1;
        continue;
      }
      const changes = aboutTheAlert(alert, () => {
        const previous = JSON.parse(stored.raw_json) as Record<string, unknown>;
        // The same alert from the other API has another shape: what changed is told by the reporting columns.
        const fields = stored.source === source ? changedFields(previous, parsed.alert) : changedAcrossSources(stored, previous, parsed, source);
        return Object.keys(fields).length === 0 ? undefined : JSON.stringify(fields);
      });
      if (isRejection(changes)) {
        insertRejected.run(changes.reason, changes.rawJson, runId, now);
        counts.rejected += 1;
        continue;
      }
      if (changes === undefined) {
        counts.unchanged += 1; // same content, other key order or spacing
        continue;
      }
      update.run({ ...row, now });
      writeChildren(parsed, true);
      insertChange.run(row.id, 'updated', stored.last_update_time, row.last_update_time, changes, runId, now);
      counts.updated += 1;
    }
    return counts;
  };
}
