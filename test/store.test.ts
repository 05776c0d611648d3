// The store on a real SQLite file: idempotent upserts, versions, history, migrations.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AlertStore } from '../src/store/alertStore.js';
import { StoreError } from '../src/errors.js';
import { parseInstant } from '../src/instants.js';
import { tempDir } from './support/harness.js';

const alert = (id: string, lastUpdateTime: string, extra: Record<string, unknown> = {}) => ({ id, lastUpdateTime, status: 'New', severity: 'High', ...extra });

function newStore() {
  const file = path.join(tempDir('store-'), 'alerts.db');
  const store = AlertStore.open(file);
  const runId = store.write(() => store.runs.start('defender', new Date().toISOString(), null, 'tester'));
  const commit = (alerts: unknown[], cursor: string | null = null) =>
    store.commitWindow({ runId, stream: 's', alerts, cursor: cursor === null ? null : parseInstant(cursor)!, progress: { windows: 1, requests: 1, retries: 0, throttled: 0 } });
  return { file, store, commit };
}

describe('store', () => {
  it('writes nothing for an alert seen again unchanged, updates a newer version and never lets an older one overwrite it', () => {
    const { store, commit } = newStore();
    assert.equal(commit([alert('a', '2024-05-01T10:00:00.5Z')]).inserted, 1);
    const unchanged = commit([alert('a', '2024-05-01T10:00:00.5000000Z'.replace('.5000000Z', '.5Z'))]);
    assert.equal(unchanged.unchanged, 1);
    // Same content with keys in another order is not a change either.
    assert.equal(commit([{ severity: 'High', status: 'New', lastUpdateTime: '2024-05-01T10:00:00.5Z', id: 'a' }]).unchanged, 1);
    assert.equal(commit([alert('a', '2024-05-01T10:00:01Z', { status: 'Resolved' })]).updated, 1);
    // "…00:00.9Z" is earlier than "…00:01Z" although it sorts later as text.
    assert.equal(commit([alert('a', '2024-05-01T10:00:00.9Z', { status: 'InProgress' })]).stale, 1);
    const row = store.db.prepare('SELECT status, last_update_time, versions_seen FROM alerts WHERE id = ?').get('a');
    assert.deepEqual(row, { status: 'Resolved', last_update_time: '2024-05-01T10:00:01.0000000Z', versions_seen: 2 });
    const history = store.db.prepare('SELECT change, previous_last_update_time, changed_fields FROM alert_changes ORDER BY id').all() as { change: string; changed_fields: string }[];
    assert.deepEqual(history.map((h) => h.change), ['created', 'updated']);
    assert.deepEqual(JSON.parse(history[1]!.changed_fields).status, { old: 'New', new: 'Resolved' });
    store.close();
  });

  it('keeps answers that are not alerts in rejected_alerts instead of dropping them', () => {
    const { store, commit } = newStore();
    const counts = commit([{ title: 'no id', lastUpdateTime: '2024-05-01T10:00:00Z' }, alert('b', 'not a time'), 'text', alert('c', '2024-05-01T10:00:00Z')]);
    assert.equal(counts.rejected, 3);
    assert.equal(counts.inserted, 1);
    const reasons = (store.db.prepare('SELECT reason FROM rejected_alerts ORDER BY id').all() as { reason: string }[]).map((r) => r.reason);
    assert.deepEqual(reasons, ['no "id"', '"lastUpdateTime" is missing or not a timestamp (not a time)', 'not a JSON object']);
    store.close();
  });

  it('commits rows and cursor together and never moves the cursor back', () => {
    const { store, commit } = newStore();
    commit([alert('a', '2024-05-01T10:00:00Z')], '2024-05-01T11:00:00Z');
    commit([], '2024-05-01T10:30:00Z');
    assert.equal(store.cursors.get('s'), parseInstant('2024-05-01T11:00:00Z'));
    // A failing write rolls back the rows with it.
    assert.throws(() => store.write(() => {
      store.db.prepare("INSERT INTO alerts (id, last_update_time, raw_json, content_hash, first_stored_at, last_stored_at) VALUES ('z', 'x', '{}', 'h', 'n', 'n')").run();
      store.db.prepare("INSERT INTO alerts (id, last_update_time, raw_json, content_hash, first_stored_at, last_stored_at) VALUES ('z', 'x', '{}', 'h', 'n', 'n')").run();
    }), StoreError);
    assert.equal((store.db.prepare("SELECT count(*) AS n FROM alerts WHERE id = 'z'").get() as { n: number }).n, 0);
    store.close();
  });

  it('answers the reporting views', () => {
    const { store, commit } = newStore();
    commit([
      alert('a', '2024-05-02T00:00:00Z', { alertCreationTime: '2024-05-01T10:00:00Z', status: 'Resolved', resolvedTime: '2024-05-01T16:00:00Z' }),
      alert('b', '2024-05-02T00:00:00Z', { alertCreationTime: '2024-05-01T11:00:00Z', severity: 'Low' }),
      alert('c', '2024-05-02T00:00:00Z', { alertCreationTime: '2024-05-02T11:00:00Z' }),
    ]);
    assert.deepEqual(store.db.prepare('SELECT severity, open_alerts FROM open_alerts_by_severity').all(), [{ severity: 'High', open_alerts: 1 }, { severity: 'Low', open_alerts: 1 }]);
    assert.deepEqual(store.db.prepare('SELECT day, alerts FROM alerts_per_day').all(), [{ day: '2024-05-01', alerts: 2 }, { day: '2024-05-02', alerts: 1 }]);
    assert.deepEqual(store.db.prepare('SELECT id, hours_to_resolve FROM alert_time_to_resolve').all(), [{ id: 'a', hours_to_resolve: 6 }]);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    store.close();
  });

  it('refuses a database written by a newer version, and changes nothing in it', () => {
    const { file, store } = newStore();
    store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.sql', 'x')").run();
    store.close();
    assert.throws(() => AlertStore.open(file), (error: Error) => error instanceof StoreError && /schema version 999, newer than this mde-alert-sync knows \(3\)/.test(error.message));
    const db = new Database(file, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n, 4, 'three migrations and the future one, nothing added');
    db.close();
  });
});
