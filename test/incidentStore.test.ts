// The incidents in the store, on a real SQLite file: the record streams' rules (newest version wins, an
// unchanged one writes nothing, history appended), merges, the resolution time Graph does not give, rejects.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AlertStore } from '../src/store/alertStore.js';
import { tempDir } from './support/harness.js';

const TENANT = '8d5c1c5e-0b7a-4c43-9b5f-1f6b2c0de001';
const incident = (id: string, lastUpdateDateTime: string, extra: Record<string, unknown> = {}) => ({
  id,
  tenantId: TENANT,
  status: 'active',
  severity: 'high',
  createdDateTime: '2026-11-01T08:00:00Z',
  lastUpdateDateTime,
  ...extra,
});

function newStore() {
  const store = AlertStore.open(path.join(tempDir('incidents-'), 'alerts.db'));
  const runId = store.write(() => store.runs.start('graph', new Date().toISOString(), null, 'tester', 'graph:incidents', 'incidents'));
  const commit = (incidents: unknown[]) => store.commitWindow({ runId, stream: 'graph:incidents', entity: 'incidents', source: 'graph', alerts: incidents, cursor: null, progress: { windows: 1, requests: 1, retries: 0, throttled: 0 } });
  const row = (id: string) => store.db.prepare('SELECT * FROM incidents WHERE id = ?').get(id) as Record<string, unknown>;
  const history = (id: string) => store.db.prepare('SELECT change, previous_last_update_time, changed_fields FROM incident_changes WHERE incident_id = ? ORDER BY id').all(id) as { change: string; previous_last_update_time: string | null; changed_fields: string }[];
  return { store, commit, row, history };
}

describe('incidents in the store', () => {
  it('keeps the newest version, writes nothing for one seen again, ignores an older one, and records each change', () => {
    const { store, commit, row, history } = newStore();
    try {
      assert.equal(commit([incident('7', '2026-11-01T09:00:00Z')]).inserted, 1);
      assert.equal(commit([incident('7', '2026-11-01T09:00:00Z')]).unchanged, 1);
      assert.equal(commit([incident('7', '2026-11-01T10:00:00Z', { status: 'inProgress', assignedTo: 'secops@contoso.example' })]).updated, 1);
      assert.equal(commit([incident('7', '2026-11-01T09:30:00Z', { status: 'resolved' })]).stale, 1, 'an older version never overwrites a newer one');
      const stored = row('7');
      assert.equal(stored.status, 'InProgress');
      assert.equal(stored.assigned_to, 'secops@contoso.example');
      assert.equal(stored.severity, 'High');
      assert.equal(stored.last_update_time, '2026-11-01T10:00:00.0000000Z');
      assert.equal(stored.tenant_id, TENANT);
      const changes = history('7');
      assert.deepEqual(changes.map((c) => c.change), ['created', 'updated']);
      assert.deepEqual(JSON.parse(changes.at(-1)!.changed_fields).status, { old: 'active', new: 'inProgress' });
    } finally {
      store.close();
    }
  });

  it('keeps a merged incident with the incident it went into, out of the open counts', () => {
    const { store, commit, row } = newStore();
    try {
      commit([incident('1', '2026-11-01T09:00:00Z'), incident('2', '2026-11-01T09:00:00Z', { severity: 'medium' })]);
      commit([incident('2', '2026-11-01T11:00:00Z', { severity: 'medium', status: 'redirected', redirectIncidentId: '1' })]);
      assert.deepEqual({ status: row('2').status, redirect: row('2').redirect_incident_id }, { status: 'Redirected', redirect: '1' });
      const open = store.db.prepare('SELECT severity, open_incidents FROM open_incidents_by_severity').all();
      assert.deepEqual(open, [{ severity: 'High', open_incidents: 1 }]);
      assert.deepEqual(store.db.prepare('SELECT sum(incidents) AS n FROM incidents_per_day').get(), { n: 1 }, 'one attack counted once');
    } finally {
      store.close();
    }
  });

  it('dates the resolution at the first version stored as resolved, keeps it while resolved, clears it when reopened', () => {
    const { store, commit, row } = newStore();
    try {
      commit([incident('9', '2026-11-01T09:00:00Z')]);
      commit([incident('9', '2026-11-01T12:00:00Z', { status: 'resolved', classification: 'truePositive' })]);
      commit([incident('9', '2026-11-01T13:00:00Z', { status: 'resolved', classification: 'truePositive', determination: 'malware' })]);
      assert.equal(row('9').resolved_time, '2026-11-01T12:00:00.0000000Z');
      const [byHour] = store.db.prepare('SELECT resolved_incidents, avg_hours FROM incident_time_to_resolve_by_severity').all() as { resolved_incidents: number; avg_hours: number }[];
      assert.deepEqual(byHour, { resolved_incidents: 1, avg_hours: 4 });
      commit([incident('9', '2026-11-02T09:00:00Z', { status: 'active' })]);
      assert.equal(row('9').resolved_time, null);
    } finally {
      store.close();
    }
  });

  it('keeps answers that are not storable incidents in rejected_alerts, marked as incidents, and stores the rest', () => {
    const { store, commit } = newStore();
    try {
      const counts = commit([null, { id: '', lastUpdateDateTime: '2026-11-01T09:00:00Z' }, { id: '4', lastUpdateDateTime: 'yesterday' }, incident('5', '2026-11-01T09:00:00Z'), { ...incident('x', '2026-11-01T09:00:00Z'), id: 6 }]);
      assert.equal(counts.rejected, 3);
      assert.equal(counts.inserted, 2, 'an incident number sent as a number is the same incident');
      const reasons = store.db.prepare("SELECT reason FROM rejected_alerts WHERE entity = 'incidents' ORDER BY id").all() as { reason: string }[];
      assert.deepEqual(reasons.map((r) => r.reason).sort(), ['"lastUpdateDateTime" is missing or not a timestamp (yesterday)', 'no "id"', 'not a JSON object']);
    } finally {
      store.close();
    }
  });
});
