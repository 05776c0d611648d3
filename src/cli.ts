#!/usr/bin/env node
// The command line: parses arguments, loads settings, runs one command, and turns every failure into a
// one-paragraph message and an exit code. It only wires; the work lives in the modules it calls.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadSettings, LOG_LEVELS, type LoadOptions, type Settings } from './config/settings.js';
import { ExitCode, UserFacingError, errorMessage } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { loginCommand, logoutCommand } from './commands/login.js';
import { migrateCommand } from './commands/migrate.js';
import { backupCommand } from './commands/backup.js';
import { simulatorCommand } from './commands/simulate.js';
import { collectStatus, formatStatus } from './commands/status.js';
import { compareSourcesCommand } from './commands/compareSources.js';
import { parseSince } from './commands/sourceComparison.js';
import { runCommand } from './commands/run.js';
import { resyncCommand } from './commands/resync.js';
import { syncCommand } from './commands/sync.js';
import { tokenCommand } from './commands/token.js';
import { demoCommand } from './demo/demo.js';
import { storedSource } from './store/storedSource.js';
import { locateTokenCache } from './auth/tokenCacheLocation.js';
import { VERSION } from './version.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

function settingsFor(command: Command, needs: Pick<LoadOptions, 'needsIdentity'>, logTo: 'stdout' | 'stderr' = 'stderr'): { settings: Settings; logger: Logger } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  // With no source set, an existing database keeps the source it syncs; a new one gets Graph.
  const settings = loadSettings({ configPath: globals.config, ...needs, sourceInDatabase: storedSource });
  const logger = createLogger({ level: globals.logLevel ?? settings.logLevel, destination: logTo });
  const { sourceChoice } = settings;
  if (needs.needsIdentity && !sourceChoice.explicit) logger.info({ source: sourceChoice.source }, `source not set: using ${sourceChoice.source}, as ${sourceChoice.reason}`);
  // A cache left beside the database by an older version: moved by the commands that sign in, read by the others.
  return { settings: locateTokenCache(settings, { move: needs.needsIdentity === true, logger }), logger };
}

async function run(action: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await action();
    process.exitCode = ExitCode.ok;
  } catch (error) {
    if (error instanceof UserFacingError) {
      process.stderr.write(`mde-alert-sync: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`mde-alert-sync: unexpected error: ${errorMessage(error)}\nPlease report it with the log above; nothing committed to the database was lost.\n`);
      process.exitCode = ExitCode.syncFailed;
    }
  }
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return number;
}

const program = new Command('mde-alert-sync')
  .description('Keeps every Microsoft Defender for Endpoint alert, and every change to it, in a local SQLite file.')
  .version(VERSION)
  .option('-c, --config <file>', 'configuration file (YAML); default: $MDE_ALERT_SYNC_CONFIG')
  .addOption(new Option('--log-level <level>', 'log level (overrides logLevel)').choices(LOG_LEVELS))
  .showHelpAfterError()
  .exitOverride();

// Commands that sign in need tenantId and clientId, and get the settings and a logger.
const signedInCommands: [string, string, (settings: Settings, logger: Logger, out: typeof print) => Promise<unknown>][] = [
  ['login', 'sign in once with the device code flow; the session is then refreshed silently', loginCommand],
  ['logout', 'forget the signed-in account and delete the token cache', logoutCommand],
  ['sync', 'run one sync pass; exits 0 only when it succeeded', syncCommand],
  ['token', 'show the account, tenant, audience, expiry and permissions of the access token (alias: whoami)', tokenCommand],
];
for (const [name, description, handler] of signedInCommands) {
  const registered = program.command(name).description(description);
  if (name === 'token') registered.alias('whoami');
  registered.action(async (_options, command: Command) =>
      run(() => {
        const { settings, logger } = settingsFor(command, { needsIdentity: true });
        return handler(settings, logger, print);
      }),
    );
}

program
  .command('compare-sources')
  .description('read a span from both the Defender API and Microsoft Graph and list the alerts one returns and the other not (writes nothing); exit 10 when they disagree')
  .option('--since <span|time>', 'how far back: a span such as 7d or 36h, or an ISO-8601 time (default: 7d)', (value: string) => parseSince(value))
  .option('--json', 'print the report as JSON')
  .action(async (options: { since?: bigint; json?: boolean }, command: Command) =>
    run(() => {
      const { settings, logger } = settingsFor(command, { needsIdentity: true });
      return compareSourcesCommand(settings, logger, print, { since: options.since ?? parseSince('7d'), json: options.json === true });
    }),
  );

program
  .command('run')
  .description('the long-running worker: a pass now, then on the cron schedule; health and metrics over HTTP; stops on SIGTERM/SIGINT')
  .action(async (_options, command: Command) =>
    run(() => {
      // The worker's logs are its output: JSON lines on stdout, as container platforms expect.
      const { settings, logger } = settingsFor(command, { needsIdentity: true }, 'stdout');
      return runCommand(settings, logger, { command: 'run' });
    }),
  );

program
  .command('status')
  .description('show the last runs, the cursor, alert counts and the signed-in account (no network calls)')
  .option('--json', 'print the report as JSON')
  .action(async (options: { json?: boolean }, command: Command) =>
    run(() => {
      const { settings } = settingsFor(command, { needsIdentity: false });
      const report = collectStatus(settings);
      print(options.json ? JSON.stringify(report, null, 2) : formatStatus(report));
    }),
  );

program
  .command('resync')
  .description('move the cursor back so that the next pass reads a span again (history is kept); needs the writer lease')
  .requiredOption('--since <time>', 'where to read again from: an ISO-8601 time with a zone, a UTC date, or a duration back from now (7d)')
  .action(async (options: { since: string }, command: Command) =>
    run(() => {
      const { settings, logger } = settingsFor(command, { needsIdentity: false });
      return resyncCommand(settings, logger, options.since, print);
    }),
  );

program
  .command('migrate')
  .description('create the database or bring its schema up to date (sync does this too)')
  .action(async (_options, command: Command) =>
    run(() => {
      const { settings } = settingsFor(command, { needsIdentity: false });
      migrateCommand(settings, print);
    }),
  );

program
  .command('backup')
  .description('write a consistent copy of the database (also while the worker runs): one standalone file, rollback journal, integrity-checked')
  .argument('<destination>', 'the file to write (its folder must exist)')
  .option('--force', 'replace the destination if it exists')
  .action(async (destination: string, options: { force?: boolean }, command: Command) =>
    run(() => {
      const { settings } = settingsFor(command, { needsIdentity: false });
      return backupCommand(settings, destination, { force: options.force === true }, print);
    }),
  );

program
  .command('demo')
  .description('run the product against the built-in simulator: sign in, then the worker while alerts change (Ctrl-C stops)')
  .option('--dir <directory>', 'where the demo database and token cache go: a new or empty directory, or one an earlier demo made (others are refused)', 'mde-alert-sync-demo')
  .option('--alerts <count>', 'alerts in the simulated tenant', positiveInteger, 300)
  .option('--interval <seconds>', 'seconds between passes', positiveInteger, 5)
  .option('--passes <count>', 'stop by itself after this many passes', positiveInteger)
  .action(async (options: { dir: string; alerts: number; interval: number; passes?: number }, command: Command) =>
    run(() =>
      demoCommand(
        {
          directory: options.dir,
          alerts: options.alerts,
          intervalSeconds: options.interval,
          ...(options.passes ? { passes: options.passes } : {}),
          logLevel: command.optsWithGlobals<GlobalOptions>().logLevel ?? 'warn',
        },
        print,
      ),
    ),
  );

program
  .command('simulator')
  .description('run the simulator alone (Entra ID + alerts API over HTTPS) until stopped')
  .option('--port <port>', 'port to listen on', positiveInteger, 8443)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--alerts <count>', 'alerts in the simulated tenant', positiveInteger, 300)
  .option('--ca-file <file>', 'where to write the simulator CA certificate', 'simulator-ca.pem')
  .option('--churn-seconds <seconds>', 'create and change alerts every N seconds (0: never)', (value) => Number.parseInt(value, 10) || 0, 10)
  .action(async (options: { port: number; host: string; alerts: number; caFile: string; churnSeconds: number }) =>
    run(async () => {
      const stop = await simulatorCommand(options, print);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await stop();
    }),
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end with code 0; usage errors (already printed by commander) with 2.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.badConfiguration;
  } else {
    throw error;
  }
}
