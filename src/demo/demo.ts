// `mde-alert-sync demo`: the whole product with no Azure tenant. Starts the simulator, signs in through the
// real device code flow (the simulated user approves it), then runs the worker while simulated analysts keep
// changing alerts, and on Ctrl-C (or after --passes) shows where the database is and what is in it: the
// alerts, and Graph's incidents (some merged into others, as Defender XDR does).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadSettings, TOKEN_CACHE_KEY_ENV, type Settings } from '../config/settings.js';
import { createLogger } from '../logger.js';
import { describePass } from '../commands/sync.js';
import { createWorker } from '../commands/worker.js';
import { runCommand } from '../commands/run.js';
import { openDatabase } from '../store/database.js';
import { storeStatus } from '../store/statusReport.js';
import { startSimulator } from '../simulator/simulator.js';
import { prepareDemoDirectory } from './demoDirectory.js';

const DEMO_MERGED_SHARE = 0.1;

export interface DemoOptions {
  directory: string;
  alerts: number;
  logLevel: string;
  /** Stop by itself after this many passes; otherwise run until Ctrl-C. */
  passes?: number;
  intervalSeconds: number;
}

export async function demoCommand(options: DemoOptions, print: (line: string) => void): Promise<Settings> {
  // The demo talks only to its own simulator on loopback: a corporate proxy must not be in the way.
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) delete process.env[name];
  // A throwaway key: the demo's token cache is encrypted like a real one, and lives as long as the demo.
  const tokenCacheKey = randomBytes(32).toString('base64');
  // Before anything starts: a directory the demo did not make is refused with nothing touched.
  const files = prepareDemoDirectory(path.resolve(options.directory), tokenCacheKey);
  // A tenth of the seeded incidents merged into others (a public tenant: 51 of 474), so that merges show.
  const simulator = await startSimulator({
    initialAlerts: options.alerts, initialAlertDays: 28, seed: Date.now() % 100_000, grantIncidentPermission: true, showcaseAlerts: true,
    incidents: { initialMergedShare: DEMO_MERGED_SHARE },
  });
  print(`Simulator (Entra ID + Microsoft Graph security alerts_v2 and incidents) listening at ${simulator.url}`);
  // The demo ignores MDE_ALERT_SYNC_* variables and config files: it must not touch a real tenant's setup.
  const settings = loadSettings({
    env: { [TOKEN_CACHE_KEY_ENV]: tokenCacheKey },
    defaults: {
      tenantId: simulator.tenantId,
      clientId: simulator.clientId,
      authorityUrl: simulator.authorityUrl,
      apiBaseUrl: simulator.apiBaseUrl,
      caFile: simulator.writeCaFile(files.caFile),
      source: 'graph',
      databasePath: files.databasePath,
      tokenCachePath: files.tokenCachePath,
      lookback: '30d',
      schedule: `*/${options.intervalSeconds} * * * * *`,
      logLevel: options.logLevel,
    },
  });
  const logger = createLogger({ level: settings.logLevel });
  // Analysts keep working while the worker runs: new alerts arrive, others are triaged. A few alerts every few
  // seconds is far busier than a real tenant, and what changed within the settle lag and overlap (each pass
  // reads those 15 minutes again) still fits one page of the default 2,000.
  const churn = setInterval(() => {
    simulator.api.createAlerts(Math.floor(Math.random() * 3));
    simulator.api.updateAlerts(1 + Math.floor(Math.random() * 3));
  }, Math.max(1000, options.intervalSeconds * 800));
  try {
    const worker = createWorker(settings, logger);
    try {
      print('\nSigning in with the device code flow:');
      const account = await worker.session.login((message) => print(`  ${message}`));
      print(`  (the simulated user approved the code) signed in as ${account.username}\n`);
    } finally {
      await worker.close();
    }
    print(`Worker running: a pass now, then every ${options.intervalSeconds} s while alerts keep changing.${options.passes ? '' : ' Press Ctrl-C to stop.'}`);
    let pass = 0;
    await runCommand(settings, logger, {
      command: 'demo',
      ...(options.passes ? { stopAfterPasses: options.passes } : {}),
      onPass: ({ result, error }) => {
        pass += 1;
        // A cursor found (an earlier demo in this directory) makes even the first pass incremental.
        const label = result?.cursorBefore === null ? 'first sync, reads back 30 days' : 'incremental';
        print(result ? `Pass ${pass} (${label}): ${describePass(result)}` : `Pass ${pass} failed: ${(error as Error).message}`);
      },
    });
  } finally {
    clearInterval(churn);
    await simulator.close();
  }
  // The same counts as `status` on this database: one query for both.
  const db = openDatabase(settings.databasePath, { readonly: true });
  try {
    const store = storeStatus(db);
    print(`\nThe database holds ${store.alerts} alerts and ${store.changes} recorded changes (the first version of each alert and every later change).`);
    print(`Open alerts by severity: ${store.openBySeverity.map((row) => `${row.severity} ${row.open_alerts}`).join(', ')}`);
    const { incidents } = store;
    print(`The database holds ${incidents.stored} incidents (${incidents.merged} merged into others) and ${incidents.changes} recorded incident changes.`);
    print(`Open incidents by severity: ${incidents.openBySeverity.map((row) => `${row.severity} ${row.open_incidents}`).join(', ')}`);
  } finally {
    db.close();
  }
  print(`\nDatabase file: ${settings.databasePath}`);
  print(`Try:  sqlite3 "${settings.databasePath}" "SELECT * FROM open_alerts_by_severity"`);
  print(`      sqlite3 "${settings.databasePath}" "SELECT alert_id, change, changed_fields FROM alert_changes ORDER BY id DESC LIMIT 5"`);
  print(`      sqlite3 "${settings.databasePath}" "SELECT id, redirect_incident_id FROM incidents WHERE status = 'Redirected'"`);
  return settings;
}
