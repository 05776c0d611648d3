// The worker of the soak run, in its own process: the real daemon, store, API client and session, with
// ticks back to back instead of on the cron schedule (accelerated time). Every `sampleEvery` passes it
// prints one JSON line: pass count, heap after GC, RSS, open file descriptors, database and WAL bytes.
// Usage: node --expose-gc --import tsx test/soak/soakWorker.ts <passes> <sampleEvery>   (settings from env)
import { readdirSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openStoreAsWriter, createWorker } from '../../src/commands/worker.js';
import { loadSettings } from '../../src/config/settings.js';
import { SyncDaemon } from '../../src/daemon/syncDaemon.js';
import { WorkerMetrics } from '../../src/daemon/metrics.js';
import { createLogger } from '../../src/logger.js';


export interface SoakSample {
  passes: number;
  failures: number;
  heapUsedBytes: number;
  rssBytes: number;
  openFiles: number;
  /** page_count × page_size: what the data occupies, whether still in the WAL or checkpointed. */
  databaseBytes: number;
  walBytes: number;
}

const [passes, sampleEvery] = process.argv.slice(2).map(Number) as [number, number];
const settings = loadSettings({ needsIdentity: true });
const logger = createLogger({ level: 'warn', destination: 'stderr' });
const writer = openStoreAsWriter(settings, 'soak', logger, (error) => logger.error({ reason: error.message }, 'lost the writer lease'));
// Accelerated time: the real quotas (100 calls a minute, 1,500 an hour) over intervals 1,000 times shorter.
const worker = createWorker(settings, logger, { quotaIntervals: { minuteMs: 60, hourMs: 3_600 } });
const reader = new Database(settings.databasePath, { readonly: true, fileMustExist: true });
const databaseBytes = () => Number(reader.pragma('page_count', { simple: true })) * Number(reader.pragma('page_size', { simple: true }));
const size = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};
let failures = 0;
const daemon: SyncDaemon = new SyncDaemon({
  settings,
  store: writer.store,
  clients: worker.streams,
  tokens: worker.session,
  logger,
  metrics: new WorkerMetrics(writer.store.cursors, worker.streams.map((client) => client.profile.streamName(settings)), worker.streams.map((client) => client.stats)),
  onPass: ({ error }) => {
    if (error) failures += 1;
    if (daemon.passes % sampleEvery === 0 || daemon.passes === passes) {
      globalThis.gc?.();
      const sample: SoakSample = {
        passes: daemon.passes,
        failures,
        heapUsedBytes: process.memoryUsage().heapUsed,
        rssBytes: process.memoryUsage.rss(),
        openFiles: readdirSync('/proc/self/fd').length,
        databaseBytes: databaseBytes(),
        walBytes: size(`${settings.databasePath}-wal`),
      };
      process.stdout.write(`${JSON.stringify(sample)}\n`);
    }
    // The next tick once this pass has fully ended (the daemon clears its running pass after onPass).
    if (daemon.passes < passes) setImmediate(() => daemon.tick('schedule'));
    else setImmediate(() => void finish());
  },
});

async function finish(): Promise<void> {
  await daemon.stop();
  reader.close();
  writer.close();
  await worker.close();
}

daemon.tick('start');
