// The demo's summary and `status` count the same things on the same database.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, runProcess, tempDir } from './support/harness.js';

describe('demo and status', () => {
  it('report the same number of alerts, incidents (merged ones too), recorded changes and open alerts and incidents by severity for the demo database', async () => {
    const dir = path.join(tempDir('demo-counts-'), 'demo');
    const env = { PATH: process.env.PATH ?? '' };
    const demo = await runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1', '--passes', '3', '--alerts', '40'], env, dir.replace(/\/demo$/, '')).done;
    assert.equal(demo.code, 0, demo.stderr);
    const [, alerts, changes] = /The database holds (\d+) alerts and (\d+) recorded changes/.exec(demo.stdout) ?? [];
    const bySeverity = /Open alerts by severity: (.*)/.exec(demo.stdout)?.[1];
    const status = await runProcess(process.execPath, [CLI, 'status', '--json'], { ...env, MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'alerts.db') }).done;
    assert.equal(status.code, 0, status.stderr);
    const { store } = JSON.parse(status.stdout) as { store: { alerts: number; changes: number; openBySeverity: { severity: string; open_alerts: number }[]; incidents: { stored: number; merged: number; changes: number; openBySeverity: { severity: string; open_incidents: number }[] } } };
    assert.equal(Number(alerts), store.alerts);
    assert.equal(Number(changes), store.changes);
    assert.equal(bySeverity, store.openBySeverity.map((row) => `${row.severity} ${row.open_alerts}`).join(', '));
    // Graph's incidents, merged ones among them: the demo shows them, as `status` counts them.
    const [, incidents, merged, incidentChanges] = /The database holds (\d+) incidents \((\d+) merged into others\) and (\d+) recorded incident changes/.exec(demo.stdout) ?? [];
    const incidentsBySeverity = /Open incidents by severity: (.*)/.exec(demo.stdout)?.[1];
    assert.ok(Number(incidents) > 0 && Number(merged) > 0, `the demo shows incidents, merged ones too:\n${demo.stdout}`);
    assert.equal(Number(incidents), store.incidents.stored);
    assert.equal(Number(merged), store.incidents.merged);
    assert.equal(Number(incidentChanges), store.incidents.changes);
    assert.equal(incidentsBySeverity, store.incidents.openBySeverity.map((row) => `${row.severity} ${row.open_incidents}`).join(', '));
  });
});
