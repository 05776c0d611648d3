// `mde-alert-sync demo`: the whole product with no Azure tenant. Starts the simulator, signs in through the
// real device code flow (the simulated user approves it), syncs its alerts, lets analysts change some, syncs
// again, and shows where the database is and what is in it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, type Settings } from '../config/settings.js';
import { createLogger } from '../logger.js';
import { describePass } from '../commands/sync.js';
import { createWorker } from '../commands/worker.js';
import { AlertStore } from '../store/alertStore.js';
import { runSyncPass } from '../sync/syncPass.js';
import { startSimulator } from '../simulator/simulator.js';

export interface DemoOptions {
  directory: string;
  alerts: number;
  logLevel: string;
}

export async function demoCommand(options: DemoOptions, print: (line: string) => void): Promise<Settings> {
  const directory = path.resolve(options.directory);
  mkdirSync(directory, { recursive: true });
  const simulator = await startSimulator({ initialAlerts: options.alerts, initialAlertDays: 28, seed: Date.now() % 100_000 });
  print(`Simulator (Entra ID + Defender for Endpoint API) listening at ${simulator.url}`);
  // The demo ignores MDE_ALERT_SYNC_* variables and config files: it must not touch a real tenant's setup.
  const settings = loadSettings({
    env: {},
    defaults: {
      tenantId: simulator.tenantId,
      clientId: simulator.clientId,
      authorityUrl: simulator.authorityUrl,
      apiBaseUrl: simulator.apiBaseUrl,
      caFile: simulator.writeCaFile(path.join(directory, 'simulator-ca.pem')),
      databasePath: path.join(directory, 'alerts.db'),
      tokenCachePath: path.join(directory, 'token-cache.json'),
      lookback: '30d',
      pageSize: 100,
      logLevel: options.logLevel,
    },
  });
  const logger = createLogger({ level: settings.logLevel });
  const worker = createWorker(settings, logger);
  const store = AlertStore.open(settings.databasePath);
  try {
    print('\nSigning in with the device code flow:');
    const account = await worker.session.login((message) => print(`  ${message}`));
    print(`  (the simulated user approved the code) signed in as ${account.username}\n`);

    const pass = () => runSyncPass({ settings, store, client: worker.client, tokens: worker.session, logger });
    print(`First sync (reads back 30 days): ${describePass(await pass())}`);
    const created = simulator.api.createAlerts(12).length;
    const changed = simulator.api.updateAlerts(25).length;
    print(`Meanwhile analysts triaged ${changed} alerts and ${created} new alerts arrived.`);
    print(`Second sync (incremental): ${describePass(await pass())}`);

    const db = store.db;
    const bySeverity = db.prepare('SELECT severity, open_alerts FROM open_alerts_by_severity').all() as { severity: string; open_alerts: number }[];
    const total = (db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n;
    const changes = (db.prepare("SELECT count(*) AS n FROM alert_changes WHERE change = 'updated'").get() as { n: number }).n;
    print(`\nThe database holds ${total} alerts and ${changes} recorded changes.`);
    print(`Open alerts by severity: ${bySeverity.map((row) => `${row.severity} ${row.open_alerts}`).join(', ')}`);
    print(`\nDatabase file: ${settings.databasePath}`);
    print(`Try:  sqlite3 "${settings.databasePath}" "SELECT * FROM open_alerts_by_severity"`);
    print(`      sqlite3 "${settings.databasePath}" "SELECT alert_id, change, changed_fields FROM alert_changes ORDER BY id DESC LIMIT 5"`);
    return settings;
  } finally {
    store.close();
    await worker.close();
    await simulator.close();
  }
}
