// The store on a real SQLite file: idempotent upserts, versions, history, migrations.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AlertStore } from '../src/store/alertStore.js';
import { loadMigrations, migrate } from '../src/store/migrate.js';
import { AlertFactory, seededRandom } from '../src/simulator/alertFactory.js';
import { openDatabase } from '../src/store/database.js';
import { prepareUpsertAlerts } from '../src/store/upsertAlerts.js';
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

  it('an alert that cannot be made into rows goes to rejected_alerts and the others of its window are stored', () => {
    const { store, commit } = newStore();
    const unwritable = { toJSON: () => { throw new RangeError('Maximum call stack size exceeded'); } };
    const counts = commit([alert('before', '2024-05-01T10:00:00Z'), alert('bad', '2024-05-01T10:00:01Z', { evidence: [unwritable] }), alert('after', '2024-05-01T10:00:02Z')]);
    assert.deepEqual({ inserted: counts.inserted, rejected: counts.rejected }, { inserted: 2, rejected: 1 });
    assert.deepEqual(store.db.prepare('SELECT reason FROM rejected_alerts').all(), [{ reason: 'cannot be stored: Maximum call stack size exceeded' }]);
    assert.deepEqual(store.db.prepare('SELECT id FROM alerts ORDER BY id').all(), [{ id: 'after' }, { id: 'before' }]);
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

  it('keeps the aggregate views equal to their definitions over every alert while alerts are created, changed and deleted', () => {
    const { store, commit } = newStore();
    const random = seededRandom(7);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const versions = new Map<string, Record<string, unknown>>();
    const randomFields = () => {
      const created = Date.UTC(2024, 4, 1) + Math.floor(random() * 20 * 86_400_000);
      return {
        severity: pick(['High', 'Medium', 'Low', 'Informational', 'UnSpecified', null]),
        status: pick(['New', 'InProgress', 'Resolved', 'Resolved', null]),
        alertCreationTime: random() < 0.1 ? null : new Date(created).toISOString(),
        resolvedTime: random() < 0.2 ? null : new Date(created + Math.floor(random() * 5 * 86_400_000)).toISOString(),
      };
    };
    let clock = Date.UTC(2024, 5, 1);
    for (let round = 0; round < 12; round += 1) {
      const batch: unknown[] = [];
      for (let i = 0; i < 40; i += 1) batch.push(alert(`new-${round}-${i}`, new Date((clock += 1000)).toISOString(), randomFields()));
      // Changes of every field the views read: reopened, resolved, severity, creation time.
      for (const [id, previous] of [...versions].filter(() => random() < 0.3)) {
        const changed = { ...previous, ...Object.fromEntries(Object.entries(randomFields()).filter(() => random() < 0.5)) };
        batch.push({ ...changed, id, lastUpdateTime: new Date((clock += 1000)).toISOString() });
      }
      commit(batch);
      for (const item of batch as Record<string, unknown>[]) versions.set(String(item.id), item);
      // Rows removed by hand (a retention job, say) leave the summaries too.
      if (round % 4 === 3) store.db.prepare("DELETE FROM alerts WHERE id IN (SELECT id FROM alerts ORDER BY id LIMIT 5)").run();
      assertViewsMatchDefinitions(store.db);
    }
    assert.ok((store.db.prepare('SELECT count(*) AS n FROM alert_changes WHERE change = ?').get('updated') as { n: number }).n > 100);
    store.close();
  });

  it('upgrades an existing database: every row kept, alerts and evidence rebuilt as rowid tables, the view summaries built from what is stored', () => {
    const file = path.join(tempDir('store-'), 'alerts.db');
    const db = openDatabase(file);
    migrate(db, loadMigrations().filter((m) => m.version <= 3)); // a database from before the rebuild
    const factory = new AlertFactory(seededRandom(3), 'tenant');
    const started = Date.UTC(2024, 4, 1);
    const alerts = Array.from({ length: 300 }, (_, i) => factory.create(started + i * 3_600_000));
    const changed = alerts.slice(0, 60).map((item, i) => factory.change(item, started + 400 * 3_600_000 + i * 1000));
    // The rows are written by today's upsert into a current database, then copied into the version-3 one.
    const current = openDatabase(path.join(path.dirname(file), 'current.db'));
    migrate(current);
    const upsert = prepareUpsertAlerts(current);
    current.transaction(() => upsert(alerts, { runId: null, now: 'n1' }))();
    current.transaction(() => upsert(changed, { runId: null, now: 'n2' }))();
    current.close();
    const tables = ['alerts', 'alert_evidence', 'alert_comments', 'alert_mitre_techniques', 'alert_changes'];
    db.prepare('ATTACH DATABASE ? AS current').run(path.join(path.dirname(file), 'current.db'));
    for (const table of tables) {
      const columns = (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name).join(', ');
      db.exec(`INSERT INTO main.${table} (${columns}) SELECT ${columns} FROM current.${table}`);
    }
    db.exec('DETACH DATABASE current');
    // Migration 005 adds alerts.source; every row already stored came from the Defender API.
    const snapshot = () => Object.fromEntries(tables.map((table) => [table, (db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all() as Record<string, unknown>[]).map(({ source, ...row }) => {
      if (source !== undefined) assert.equal(source, 'defender');
      return row;
    })]));
    const before = snapshot();
    assert.ok((before.alert_evidence as unknown[]).length > 300 && (before.alert_comments as unknown[]).length > 0, 'the data has evidence and comments');

    assert.deepEqual(migrate(db), ['004_rowid_tables_view_summaries.sql', '005_alert_source.sql']);
    assert.deepEqual(snapshot(), before);
    const definitions = db.prepare("SELECT name, sql FROM sqlite_master WHERE name IN ('alerts', 'alert_evidence')").all() as { name: string; sql: string }[];
    assert.equal(definitions.length, 2);
    for (const { name, sql } of definitions) assert.doesNotMatch(sql, /WITHOUT ROWID/, name);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are on again after migrating');
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    assertViewsMatchDefinitions(db);
    // The children still belong to their alert.
    const id = alerts[0]!.id;
    db.prepare('DELETE FROM alerts WHERE id = ?').run(id);
    assert.equal((db.prepare('SELECT count(*) AS n FROM alert_evidence WHERE alert_id = ?').get(id) as { n: number }).n, 0);
    assertViewsMatchDefinitions(db);
    db.close();
  });

  it('refuses a database written by a newer version, and changes nothing in it', () => {
    const { file, store } = newStore();
    store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.sql', 'x')").run();
    store.close();
    assert.throws(() => AlertStore.open(file), (error: Error) => error instanceof StoreError && /schema version 999, newer than this mde-alert-sync knows \(5\)/.test(error.message));
    const db = new Database(file, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n, 6, 'five migrations and the future one, nothing added');
    db.close();
  });
});

/** The aggregate views as migration 001 defined them, over every alert: what the summaries must always equal. */
const VIEW_DEFINITIONS: Record<string, string> = {
  open_alerts_by_severity: `SELECT severity, count(*) AS open_alerts, sum(status = 'New') AS new_alerts, sum(status = 'InProgress') AS in_progress_alerts,
    min(alert_creation_time) AS oldest_open_alert FROM alerts WHERE status IS NOT 'Resolved' GROUP BY severity
    ORDER BY CASE severity WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 3 WHEN 'Informational' THEN 4 ELSE 5 END`,
  alerts_per_day: `SELECT substr(alert_creation_time, 1, 10) AS day, count(*) AS alerts, sum(severity = 'High') AS high, sum(severity = 'Medium') AS medium,
    sum(severity = 'Low') AS low, sum(severity NOT IN ('High', 'Medium', 'Low')) AS other FROM alerts WHERE alert_creation_time IS NOT NULL GROUP BY day ORDER BY day`,
  time_to_resolve_by_severity: `SELECT severity, count(*) AS resolved_alerts, round(avg(hours_to_resolve), 2) AS avg_hours, round(min(hours_to_resolve), 2) AS min_hours,
    round(max(hours_to_resolve), 2) AS max_hours FROM alert_time_to_resolve GROUP BY severity`,
};

function assertViewsMatchDefinitions(db: Database.Database): void {
  for (const [view, definition] of Object.entries(VIEW_DEFINITIONS)) {
    const expected = db.prepare(definition).all() as Record<string, unknown>[];
    const actual = db.prepare(`SELECT * FROM ${view}`).all() as Record<string, unknown>[];
    assert.ok(expected.length > 0, `${view}: the data exercises it`);
    // A mean kept as a running sum may differ from avg() in the last bit, so avg_hours is compared within 0.01.
    const withoutMean = (rows: Record<string, unknown>[]) => rows.map(({ avg_hours: _mean, ...row }) => row);
    assert.deepEqual(withoutMean(actual), withoutMean(expected), view);
    actual.forEach((row, i) => assert.ok(Math.abs(Number(row.avg_hours ?? 0) - Number(expected[i]!.avg_hours ?? 0)) <= 0.0100001, `${view}: avg_hours`));
  }
}
