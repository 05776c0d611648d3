// `mde-alert-sync run`: the scheduled worker, with health and metrics, until SIGTERM / SIGINT.
import type { Settings } from '../config/settings.js';
import { WorkerMetrics } from '../daemon/metrics.js';
import { startHealthServer, type HealthServer } from '../daemon/healthServer.js';
import { onShutdownSignals } from '../daemon/signals.js';
import { SyncDaemon, type SyncDaemonOptions } from '../daemon/syncDaemon.js';
import type { Logger } from '../logger.js';
import { warnOfRetirement } from '../alertsApi/retirement.js';
import { createWorker, openStoreAsWriter } from './worker.js';
import { checkpointAfterPass } from '../store/walCheckpoint.js';

export interface RunOptions {
  command: 'run' | 'demo';
  onPass?: SyncDaemonOptions['onPass'];
  /** Stop by itself after this many passes (the demo in scripts and tests). */
  stopAfterPasses?: number;
}

export async function runCommand(settings: Settings, logger: Logger, options: RunOptions): Promise<void> {
  let requestStop: (reason: NodeJS.Signals | Error | 'passes') => void = () => {};
  const stopped = new Promise<NodeJS.Signals | Error | 'passes'>((resolve) => (requestStop = resolve));
  const writer = openStoreAsWriter(settings, options.command, logger, (error) => requestStop(error));
  const store = writer.store;
  const worker = createWorker(settings, logger);
  const { profile } = worker.client;
  const metrics = new WorkerMetrics(
    store.cursors,
    worker.streams.map((client) => client.profile.streamName(settings)),
    worker.streams.map((client) => client.stats),
  );
  warnOfRetirement(profile.retirement, settings.authFlow === 'clientCredentials', logger);
  if (profile.retirement) metrics.sourceRetires(profile.source, profile.retirement.atMs);
  metrics.watchWal(store.file);
  const daemon: SyncDaemon = new SyncDaemon({
    settings,
    store,
    clients: worker.streams,
    tokens: worker.session,
    logger,
    metrics,
    observer: metrics,
    onPass: (outcome) => {
      const checkpoint = checkpointAfterPass(store.db, store.wal);
      if (checkpoint) metrics.walCheckpointed(checkpoint);
      options.onPass?.(outcome);
      if (options.stopAfterPasses !== undefined && daemon.passes >= options.stopAfterPasses) requestStop('passes');
    },
  });
  let health: HealthServer | undefined;
  try {
    health = settings.healthPort === undefined ? undefined : await startHealthServer(settings.healthHost, settings.healthPort, () => daemon.health(), () => metrics.text());
  } catch (error) {
    // Nothing ran yet: give the lease back, so that the corrected worker (or a sync) can start at once.
    writer.close();
    await worker.close();
    throw error;
  }
  if (health) logger.info({ url: health.url }, 'health endpoints listening: /livez /readyz /metrics');
  const removeSignalHandlers = onShutdownSignals((signal) => requestStop(signal));
  daemon.start();

  const reason = await stopped;
  logger.info({ reason: reason instanceof Error ? reason.message : reason }, 'stopping: no new passes; the current one ends at its next window');
  // A stop that hangs (a stuck request) must not keep a container from restarting.
  const deadline = setTimeout(() => {
    logger.error({ shutdownTimeoutMs: settings.shutdownTimeout }, 'shutdown took longer than shutdownTimeout: exiting now; committed data is safe');
    process.exit(1);
  }, settings.shutdownTimeout);
  deadline.unref();
  try {
    await daemon.stop();
    await health?.close();
  } finally {
    writer.close();
    await worker.close();
    removeSignalHandlers();
    clearTimeout(deadline);
  }
  logger.info({ passes: daemon.passes }, 'stopped cleanly');
  if (reason instanceof Error) throw reason;
}
