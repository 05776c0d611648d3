// The reporting assets the product ships (the Grafana dashboard, its alert rules, Datasette's canned queries
// and the README's example queries) run against databases the real product built: the demo's (Microsoft
// Graph), and a Defender API sync. Every query must run and return rows there; a query that errs, or answers
// nothing where the demo has data, fails. Panels and queries added later are found and run the same way.
// Incidents come only from Microsoft Graph: on the Defender API's database the incident queries must still
// run, and may answer nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { SHOWCASE } from '../src/simulator/showcaseAlerts.js';
import { bedsFor, openDb, REPO_ROOT, runProcess, CLI, signedIn, SOURCES, tempDir } from './support/harness.js';

const GRAFANA = path.join(REPO_ROOT, 'reporting', 'grafana');
const DASHBOARD = path.join(GRAFANA, 'dashboards', 'mde-alert-sync.json');
const DATASOURCE = path.join(GRAFANA, 'provisioning', 'datasources', 'sqlite.yaml');
const DASHBOARD_PROVIDER = path.join(GRAFANA, 'provisioning', 'dashboards', 'mde-alert-sync.yaml');
const ALERT_RULES = path.join(GRAFANA, 'provisioning', 'alerting', 'mde-alert-sync.yaml');
const DATASETTE = path.join(REPO_ROOT, 'reporting', 'datasette', 'datasette.yaml');
/** Where the Grafana container finds the database (the readers' docker-compose mounts it there, read-only). */
const GRAFANA_DATABASE_PATH = '/var/lib/mde-alert-sync/alerts.db';

interface ShippedQuery {
  /** Where the query is written, for the failure message. */
  where: string;
  sql: string;
  params?: Record<string, string | number>;
  /** Columns Grafana's SQLite data source turns into times: they must hold epoch seconds or RFC 3339 text. */
  timeColumns?: string[];
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const readYaml = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;

/** The README's example queries, exactly as written: the ```sql block after "Example queries", and pandas' line. */
function readmeQueries(readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')): ShippedQuery[] {
  const block = /Example queries[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has an sql block of example queries');
  const statements = block
    .split(/;\s*\n/)
    .map((text) => text.split('\n').filter((line) => !line.trim().startsWith('--')).join('\n').trim())
    .filter(Boolean);
  const pandas = [...readme.matchAll(/pd\.read_sql\("([^"]+)"/g)].map((m) => m[1]!);
  return [...statements, ...pandas].map((sql) => ({ where: `README: ${sql.split('\n')[0]}`, sql }));
}

interface Panel { title?: string; type?: string; panels?: Panel[]; targets?: { refId?: string; rawQueryText?: string; queryText?: string; timeColumns?: string[] }[] }

/** Every panel of the dashboard, those inside collapsed rows too. */
function panels(list: Panel[]): Panel[] {
  return list.flatMap((panel) => [panel, ...panels(panel.panels ?? [])]);
}

function dashboardQueries(): ShippedQuery[] {
  const dashboard = readJson(DASHBOARD) as { panels: Panel[] };
  return panels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      // Grafana sends queryText, interpolated from rawQueryText by the browser; alerting sends queryText as it is.
      assert.equal(target.queryText, target.rawQueryText, `panel "${panel.title}": queryText and rawQueryText differ`);
      return { where: `dashboard panel "${panel.title}" ${target.refId}`, sql: target.rawQueryText!, timeColumns: target.timeColumns ?? [] };
    }));
}

function alertRuleQueries(): ShippedQuery[] {
  const file = readYaml(ALERT_RULES) as { groups: { rules: { title: string; data: { datasourceUid: string; model: { queryText?: string; rawQueryText?: string } }[] }[] }[] };
  return file.groups.flatMap((group) => group.rules.flatMap((rule) =>
    rule.data.filter((step) => step.datasourceUid !== '__expr__').map((step) => ({ where: `alert rule "${rule.title}"`, sql: step.model.queryText! }))));
}

function datasetteDatabase(): { tables: Record<string, { hidden?: boolean }>; queries: Record<string, { sql: string; title?: string }> } {
  const config = readYaml(DATASETTE) as { databases: Record<string, { tables: Record<string, { hidden?: boolean }>; queries: Record<string, { sql: string }> }> };
  assert.deepEqual(Object.keys(config.databases), ['alerts'], 'Datasette names a database after its file: alerts.db');
  return config.databases.alerts!;
}

/** Values for the named parameters of the canned queries, as a user would type them: what the demo holds. */
const CANNED_PARAMETERS: Record<string, string | number> = { alert_id: SHOWCASE.alertId, sha256: SHOWCASE.sha256, after_change_id: 0, incident_id: SHOWCASE.incidentId };

/** A query reading Graph's incidents (a table or view named after them), which a Defender API sync never fills. */
const isIncidentQuery = (sql: string) => /\b(FROM|JOIN)\s+\w*incident/i.test(sql);

function datasetteQueries(): ShippedQuery[] {
  return Object.entries(datasetteDatabase().queries).map(([name, query]) => {
    const params = Object.fromEntries([...query.sql.matchAll(/:([a-z_][a-z0-9_]*)/g)].map((m) => [m[1]!, CANNED_PARAMETERS[m[1]!]!]));
    return { where: `datasette query ${name}`, sql: query.sql, params };
  });
}

/**
 * What Grafana puts in a query before it runs: $__from and $__to as epoch milliseconds (the browser for
 * panels, the plugin itself for alert rules). The SQLite data source supports no other variable by itself.
 */
function grafanaSql(sql: string, fromMs: number, toMs: number): string {
  return sql.replaceAll('$__from', String(fromMs)).replaceAll('$__to', String(toMs));
}

/** What frser-sqlite-datasource reads as a time: a number of epoch seconds (not ms), or RFC 3339 text. */
function assertGrafanaTime(value: unknown, where: string): void {
  if (typeof value === 'number') {
    assert.ok(Number.isInteger(value) && value > 946_684_800 && value < 4_102_444_800, `${where}: ${value} is not a time in epoch seconds`);
  } else {
    assert.match(String(value), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, `${where}: not a time in epoch seconds or RFC 3339`);
  }
}

function assertAnswers(dbPath: string, queries: ShippedQuery[], hasIncidents: boolean): void {
  assert.ok(queries.length > 0);
  const db = openDb(dbPath);
  try {
    // A dashboard's default range is the last 30 days, the demo's history 28.
    const toMs = Date.now();
    const fromMs = toMs - 30 * 86_400_000;
    for (const query of queries) {
      let rows: Record<string, unknown>[];
      try {
        rows = db.prepare(grafanaSql(query.sql, fromMs, toMs)).all(query.params ?? {}) as Record<string, unknown>[];
      } catch (error) {
        assert.fail(`${query.where} fails: ${(error as Error).message}\n${query.sql}`);
      }
      if (!hasIncidents && isIncidentQuery(query.sql)) continue;
      assert.ok(rows.length > 0, `${query.where} returns no rows from a database that has data for it:\n${query.sql}`);
      for (const column of query.timeColumns ?? []) for (const row of rows) assertGrafanaTime(row[column], `${query.where}, column ${column}`);
      // A single figure (a stat panel, a count) must be one: NULL means the query found nothing to compute.
      if (Object.keys(rows[0]!).length === 1) assert.notEqual(Object.values(rows[0]!)[0], null, `${query.where} answers NULL`);
    }
  } finally {
    db.close();
  }
}

/** The databases the queries must work on: the demo's, and a Defender API sync with changes since. */
const databases: { name: string; hasIncidents: boolean; build: () => Promise<string> }[] = [
  {
    name: 'the demo database (Microsoft Graph)',
    hasIncidents: true,
    build: async () => {
      const dir = tempDir('reporting-demo-');
      const result = await runProcess(process.execPath, [CLI, 'demo', '--dir', dir, '--interval', '1', '--passes', '2', '--alerts', '60'], { PATH: process.env.PATH ?? '' }, dir).done;
      assert.equal(result.code, 0, result.stderr);
      return path.join(dir, 'alerts.db');
    },
  },
  {
    name: 'a database synced from the Defender API',
    hasIncidents: false,
    build: async () => {
      const bed = await bedsFor('defender')({ initialAlerts: 60, initialAlertDays: 28, showcaseAlerts: true });
      await signedIn(bed);
      assert.equal((await bed.cli(['sync'])).code, 0);
      bed.sim.api.updateAlerts(10);
      assert.equal((await bed.cli(['sync'])).code, 0);
      return bed.dbPath;
    },
  },
];

for (const { name, hasIncidents, build } of databases) {
  describe(`reporting assets against ${name}`, () => {
    let dbPath = '';
    before(async () => {
      dbPath = await build();
    });

    it('the README example queries work as written', () => assertAnswers(dbPath, readmeQueries(), hasIncidents));
    it('every panel of the Grafana dashboard answers', () => assertAnswers(dbPath, dashboardQueries(), hasIncidents));
    it('every Grafana alert rule query answers, and the new high-severity rule finds the showcase alert', () => {
      assertAnswers(dbPath, alertRuleQueries(), hasIncidents);
      const db = openDb(dbPath);
      try {
        const ids = (db.prepare('SELECT id FROM new_high_severity_alerts').all() as { id: string }[]).map((row) => row.id);
        assert.ok(ids.includes(SHOWCASE.alertId), 'a high-severity alert nobody has started on is in new_high_severity_alerts');
      } finally {
        db.close();
      }
    });
    it('every Datasette canned query answers', () => assertAnswers(dbPath, datasetteQueries(), hasIncidents));

    it('Datasette hides the internal tables, each of which exists, and nothing a report reads', () => {
      const { tables } = datasetteDatabase();
      const hidden = Object.entries(tables).filter(([, table]) => table.hidden).map(([table]) => table).sort();
      assert.deepEqual(hidden, ['alert_daily_counts', 'alert_summary_change', 'open_alert_counts', 'resolved_alert_totals', 'schema_migrations', 'worker_lease']);
      const db = openDb(dbPath);
      try {
        const existing = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").all() as { name: string }[]).map((row) => row.name));
        for (const table of Object.keys(tables)) assert.ok(existing.has(table), `datasette.yaml names ${table}, which the database does not have`);
      } finally {
        db.close();
      }
    });
  });
}

interface AlertRule { title: string; noDataState: string; data: { refId: string; datasourceUid: string; model: { queryText?: string; type?: string; conditions?: { evaluator: { type: string; params: number[] } }[] } }[] }

/** The value of a rule's query and whether its threshold fires on it, as Grafana evaluates the shipped rule. */
function evaluateRule(dbPath: string, title: string): { value: number | undefined; fires: boolean } {
  const file = readYaml(ALERT_RULES) as { groups: { rules: AlertRule[] }[] };
  const rule = file.groups.flatMap((group) => group.rules).find((r) => r.title === title)!;
  const query = rule.data.find((step) => step.datasourceUid !== '__expr__')!;
  const threshold = rule.data.find((step) => step.model.type === 'threshold')!.model.conditions![0]!.evaluator;
  assert.equal(threshold.type, 'gt');
  const db = openDb(dbPath);
  try {
    const row = db.prepare(grafanaSql(query.model.queryText!, Date.now() - 600_000, Date.now())).get() as Record<string, number> | undefined;
    const value = row ? Object.values(row)[0] : undefined;
    return { value, fires: value === undefined ? rule.noDataState === 'Alerting' : value > threshold.params[0]! };
  } finally {
    db.close();
  }
}

for (const source of SOURCES) {
  describe(`the sample alert rules (source ${source})`, () => {
    it('the stall rule fires with no cursor or one moved back two days and is quiet after a sync; the high-severity rule fires on an old alert stored just now', async () => {
      const bed = await bedsFor(source)({ initialAlerts: 20, showcaseAlerts: true });
      assert.equal((await bed.cli(['migrate'])).code, 0);
      assert.equal(evaluateRule(bed.dbPath, 'mde-alert-sync is not keeping up').fires, true, 'a database that never synced is not healthy');
      await signedIn(bed);
      assert.equal((await bed.cli(['sync'])).code, 0);
      assert.equal(evaluateRule(bed.dbPath, 'mde-alert-sync is not keeping up').fires, false);
      assert.equal(evaluateRule(bed.dbPath, 'New high-severity Defender alerts').fires, true, 'the showcase alert was stored just now');
      assert.equal((await bed.cli(['resync', '--since', '2d'])).code, 0);
      const stalled = evaluateRule(bed.dbPath, 'mde-alert-sync is not keeping up');
      assert.ok(stalled.fires && stalled.value! >= 2 * 86_400 - 60, `a cursor two days back is ${stalled.value} s old`);
    });
  });
}

describe('Datasette canned queries', () => {
  it('include every README example query, with the alert id, the incident id, the file hash and the change id as parameters', () => {
    const normalize = (sql: string) => sql.replace(/\s+/g, ' ').trim();
    const canned = new Set(Object.values(datasetteDatabase().queries).map((query) =>
      normalize(query.sql.replace(':alert_id', `'${SHOWCASE.alertId}'`).replace(':incident_id', `'${SHOWCASE.incidentId}'`).replace(':sha256', `'${SHOWCASE.sha256}'`).replace(':after_change_id', '0'))));
    const missing = readmeQueries().map((query) => normalize(query.sql)).filter((sql) => !canned.has(sql));
    assert.deepEqual(missing, [], 'README example queries without a canned query in datasette.yaml');
  });
});

describe('Grafana dashboard', () => {
  it('has incident panels: open by severity, per day, time to resolve by severity, open by assignee, merged', () => {
    const reads = (pattern: RegExp) => dashboardQueries().filter((query) => pattern.test(query.sql)).map((query) => query.where);
    for (const [what, pattern] of [
      ['open incidents by severity', /\bFROM\s+open_incidents_by_severity\b/],
      ['incidents per day', /\bFROM\s+incidents_per_day_series\b/],
      ['time to resolve per severity', /\bFROM\s+incident_time_to_resolve_by_severity\b/],
      ['open incidents per assignee', /\bFROM\s+open_incidents_by_assignee\b/],
      ['merged incidents', /\bFROM\s+incidents\b[\s\S]*status\s*=\s*'Redirected'/],
    ] as const) assert.ok(reads(pattern).length > 0, `no dashboard panel shows ${what}`);
  });
});

describe('Grafana provisioning', () => {
  it('provisions the SQLite data source on the read-only database the dashboard and alert rules use', () => {
    const { datasources } = readYaml(DATASOURCE) as { datasources: { type: string; uid: string; jsonData: { path: string; pathOptions?: string } }[] };
    assert.equal(datasources.length, 1);
    const [source] = datasources;
    assert.equal(source!.type, 'frser-sqlite-datasource');
    assert.equal(source!.jsonData.path, GRAFANA_DATABASE_PATH);
    assert.match(source!.jsonData.pathOptions ?? '', /(^|&)mode=ro(&|$)/, 'the data source opens the database read-only');
    const dashboard = readFileSync(DASHBOARD, 'utf8');
    const used = new Set([...dashboard.matchAll(/"uid":\s*"([^"]+)"/g)].map((m) => m[1]).filter((uid) => uid !== undefined && /sqlite/.test(uid)));
    assert.deepEqual([...used], [source!.uid], 'every panel uses the provisioned data source');
    const rules = readYaml(ALERT_RULES) as { groups: { rules: { data: { datasourceUid: string }[] }[] }[] };
    const ruleSources = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => r.data.map((d) => d.datasourceUid))).filter((uid) => uid !== '__expr__'));
    assert.deepEqual([...ruleSources], [source!.uid]);
  });

  it('the dashboard provider loads the dashboard folder, and the time series panels name their epoch time columns', () => {
    const { providers } = readYaml(DASHBOARD_PROVIDER) as { providers: { type: string; options: { path: string } }[] };
    assert.equal(providers.length, 1);
    assert.equal(providers[0]!.type, 'file');
    assert.ok(providers[0]!.options.path.startsWith('/'));
    const dashboard = readJson(DASHBOARD) as { panels: Panel[] };
    const series = panels(dashboard.panels).filter((panel) => panel.type === 'timeseries');
    assert.ok(series.length > 0);
    for (const panel of series) for (const target of panel.targets ?? []) assert.ok((target.timeColumns ?? []).length > 0, `time series panel "${panel.title}" names no time column`);
  });
});
