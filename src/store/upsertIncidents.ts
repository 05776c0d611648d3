// Writes incidents by the record streams' rules (versionedUpsert.ts): the newest version of each incident in
// `incidents`, every change appended to `incident_changes`, what cannot be stored in rejected_alerts (entity
// 'incidents'). A merged incident (Redirected) is a version like any other: its row stays, naming the
// incident it went into.
import type { Db } from './database.js';
import { changedFields } from './alertRows.js';
import { INCIDENT_UPDATE_FIELD, parseIncident, resolvedTime, type IncidentRow, type ParsedIncident } from './incidentRows.js';
import { upsertVersions, type ParsedVersion, type UpsertCounts } from './versionedUpsert.js';

const COLUMNS = [
  'tenant_id', 'id', 'display_name', 'status', 'severity', 'classification', 'determination', 'assigned_to',
  'created_time', 'last_update_time', 'resolved_time', 'alert_count', 'tags', 'redirect_incident_id',
  'incident_web_url', 'raw_json', 'content_hash',
] as const;

type Stored = { last_update_time: string; content_hash: string; raw_json: string; status: string | null; resolved_time: string | null };
type Version = ParsedVersion & { incident: ParsedIncident };

export type IncidentUpserter = (incidents: unknown[], context: { runId: number | null; now: string }) => UpsertCounts;

/** Prepares the statements once; the returned function must run inside a transaction. */
export function prepareUpsertIncidents(db: Db): IncidentUpserter {
  const select = db.prepare<[string, string], Stored>('SELECT last_update_time, content_hash, raw_json, status, resolved_time FROM incidents WHERE tenant_id = ? AND id = ?');
  const insert = db.prepare(`INSERT INTO incidents (${COLUMNS.join(', ')}, first_stored_at, last_stored_at) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')}, @now, @now)`);
  const update = db.prepare(
    `UPDATE incidents SET ${COLUMNS.filter((c) => c !== 'id' && c !== 'tenant_id').map((c) => `${c} = @${c}`).join(', ')},
       versions_seen = versions_seen + 1, last_stored_at = @now
     WHERE tenant_id = @tenant_id AND id = @id`,
  );
  const insertChange = db.prepare(
    `INSERT INTO incident_changes (tenant_id, incident_id, change, previous_last_update_time, last_update_time, changed_fields, sync_run_id, stored_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertRejected = db.prepare("INSERT INTO rejected_alerts (reason, raw_json, sync_run_id, stored_at, entity) VALUES (?, ?, ?, ?, 'incidents')");
  const values = (row: IncidentRow, stored: Stored | undefined, now: string) => ({ ...row, resolved_time: resolvedTime(row, stored), now });

  return (incidents, { runId, now }) =>
    upsertVersions<Version, Stored>(
      {
        updateField: INCIDENT_UPDATE_FIELD,
        parse: (record) => {
          const result = parseIncident(record);
          return result.ok ? { ok: true, value: { id: result.value.row.id, lastUpdateTime: result.value.row.last_update_time, contentHash: result.value.row.content_hash, incident: result.value } } : result;
        },
        stored: ({ incident }) => select.get(incident.row.tenant_id, incident.row.id),
        insert: ({ incident }, at) => insert.run(values(incident.row, undefined, at)),
        update: ({ incident }, stored, at) => update.run(values(incident.row, stored, at)),
        changes: (stored, { incident }) => changedFields(JSON.parse(stored.raw_json) as Record<string, unknown>, incident.incident),
        history: ({ incident }, change, previous, fields, run, at) => insertChange.run(incident.row.tenant_id, incident.row.id, change, previous, incident.row.last_update_time, fields, run, at),
        reject: (reason, rawJson, run, at) => insertRejected.run(reason, rawJson, run, at),
      },
      incidents,
      runId,
      now,
    );
}
