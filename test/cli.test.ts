// The command line as an operator meets it: help, status, migrate, demo, and data that is not an alert.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, count, createTestBed, openDb, runProcess, signedIn, tempDir, waitFor } from './support/harness.js';
import { loadMigrations } from '../src/store/migrate.js';

/** The schema version this code brings a database to: its last migration. */
const LATEST = loadMigrations().at(-1)!.version;

const env = { PATH: process.env.PATH ?? '' };

describe('command line', () => {
  it('has --help on every command and exits 2 on usage errors', async () => {
    for (const command of ['login', 'logout', 'sync', 'token', 'run', 'status', 'resync', 'migrate', 'demo', 'simulator']) {
      const result = await runProcess(process.execPath, [CLI, command, '--help'], env).done;
      assert.equal(result.code, 0, command);
      assert.match(result.stdout, new RegExp(`Usage: mde-alert-sync ${command}`));
    }
    const unknown = await runProcess(process.execPath, [CLI, 'frobnicate'], env).done;
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  it('demo signs in through the device code flow, runs the worker while alerts change, and stops on Ctrl-C with a summary', async () => {
    const dir = tempDir('demo-');
    const demo = runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1'], env, dir);
    await waitFor('three passes', () => /Pass 3 \(incremental\)/.test(demo.output().stdout));
    demo.child.kill('SIGINT');
    const result = await demo.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /enter the code \w+ to authenticate/);
    assert.match(result.stdout, /Press Ctrl-C to stop/);
    assert.match(result.stdout, /Pass 1 \(first sync, reads back 30 days\): \d{3} new/);
    assert.match(result.stdout, /Pass 2 \(incremental\): \d+ new, \d+ updated/);
    const dbPath = path.join(dir, 'alerts.db');
    assert.match(result.stdout, new RegExp(`Database file: ${dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.ok(count(dbPath, 'SELECT count(*) FROM alerts') >= 300);
    assert.ok(count(dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'updated'") > 0, 'changes made while the worker ran were recorded');
  });

  it('demo --passes stops by itself', async () => {
    const dir = tempDir('demo-');
    const result = await runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1', '--passes', '2', '--alerts', '50'], env, dir).done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Pass 2 \(incremental\)/);
    assert.doesNotMatch(result.stdout, /Pass 3/);
  });

  it('migrate creates the schema, status reports runs, cursor, counts and the session without secrets', async () => {
    const bed = await createTestBed({ initialAlerts: 40 });
    const migrated = await bed.cli(['migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /Applied 001_initial\.sql, 002_worker_lease\.sql, 003_reporting_indexes\.sql/);
    assert.match((await bed.cli(['migrate'])).stdout, new RegExp(`is up to date \\(schema version ${LATEST}\\)`));
    await signedIn(bed);
    assert.equal((await bed.cli(['sync'])).code, 0);
    const status = await bed.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /40 alerts/);
    assert.match(status.stdout, /cursor defender:alerts: \d{4}-\d\d-\d\dT/);
    assert.match(status.stdout, /#1 .* success .*40 new/);
    assert.match(status.stdout, /account analyst@contoso\.example; refresh token held/);
    assert.match(status.stdout, /access token expires \d{4}-/);
    const json = JSON.parse((await bed.cli(['status', '--json'])).stdout) as { store: { alerts: number }; token: { account: string } };
    assert.equal(json.store.alerts, 40);
    assert.equal(json.token.account, 'analyst@contoso.example');
  });

  it('keeps items that are not alerts in rejected_alerts and stores the rest', async () => {
    const bed = await createTestBed({ initialAlerts: 10 });
    await signedIn(bed);
    bed.sim.api.faults.push({ kind: 'extraItems', items: [{ title: 'no id here', lastUpdateTime: '2026-01-01T00:00:00Z' }, 42, { id: 'x1', lastUpdateTime: 'soon' }] });
    const result = await bed.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /10 new, 0 updated, 0 unchanged, 3 rejected \(kept in rejected_alerts\)/);
    const db = openDb(bed.dbPath);
    assert.equal((db.prepare('SELECT count(*) AS n FROM rejected_alerts').get() as { n: number }).n, 3);
    db.close();
  });

  it('refuses a database newer than the code with exit 5 and leaves it unchanged', async () => {
    const bed = await createTestBed({ initialAlerts: 5 });
    assert.equal((await bed.cli(['migrate'])).code, 0);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(bed.dbPath);
    db.prepare("INSERT INTO schema_migrations VALUES (999, '999_future.sql', 'later')").run();
    db.close();
    await signedIn(bed);
    const result = await bed.cli(['sync']);
    assert.equal(result.code, 5);
    assert.match(result.stderr, new RegExp(`schema version 999, newer than this mde-alert-sync knows \\(${LATEST}\\)\\. Upgrade mde-alert-sync; the database was not changed`));
    assert.equal(bed.sim.api.requests.length, 0);
  });
});
