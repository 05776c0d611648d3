// Every time the worker writes into the database has the documented form: ISO-8601 UTC with 7 fraction
// digits, so that text order is time order across columns and tables (the API's own times come that way too).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bedsFor, openDb, signedIn, SOURCES } from './support/harness.js';

const DOCUMENTED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/;

/** Every non-empty value of every `…_at` column of every table: the times the worker records itself. */
function writtenTimes(dbPath: string): { column: string; value: string }[] {
  const db = openDb(dbPath);
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    return tables.flatMap(({ name }) =>
      (db.pragma(`table_info(${JSON.stringify(name)})`) as { name: string }[])
        .filter((column) => column.name.endsWith('_at'))
        .flatMap((column) =>
          (db.prepare(`SELECT ${column.name} AS value FROM ${JSON.stringify(name)} WHERE ${column.name} IS NOT NULL`).all() as { value: string }[]).map(({ value }) => ({
            column: `${name}.${column.name}`,
            value,
          })),
        ),
    );
  } finally {
    db.close();
  }
}

for (const source of SOURCES) {
  describe(`timestamps the worker writes (${source})`, () => {
    it('have 7 fraction digits in every table: runs, history, alerts, rejected answers, cursors, resets, the lease and the migrations', async () => {
      const b = await bedsFor(source)({ initialAlerts: 20 });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      b.sim.api.updateAlerts(5);
      b.sim.api.faults.push({ kind: 'extraItems', items: [{ title: 'no id here' }] });
      assert.equal((await b.cli(['sync'])).code, 0);
      assert.equal((await b.cli(['resync', '--since', '1d'])).code, 0);
      const times = writtenTimes(b.dbPath);
      const columns = new Set(times.map((time) => time.column));
      for (const expected of ['sync_runs.started_at', 'sync_runs.finished_at', 'alert_changes.stored_at', 'alerts.first_stored_at', 'alerts.last_stored_at', 'rejected_alerts.stored_at', 'sync_cursor.updated_at', 'cursor_resets.reset_at', 'schema_migrations.applied_at']) {
        assert.ok(columns.has(expected), `no ${expected} written`);
      }
      const wrong = times.filter((time) => !DOCUMENTED.test(time.value));
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} times not in the documented form`);
    });
  });
}
