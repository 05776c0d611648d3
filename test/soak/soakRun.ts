// The soak run: thousands of passes back to back by the real worker in its own process (see soakWorker.ts),
// first while alerts change, then with nothing changing. It reports heap, RSS, open files and database size
// as they go, to show no growth beyond what the data needs. A short run is in `npm test`; a long one:
// `npm run test:soak -- --passes 20000` (`--source graph` for Microsoft Graph).
import { parseArgs } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertStoreEqualsTruth, createTestBed, REPO_ROOT, runProcess, sourceSettings, type AlertSource } from '../support/harness.js';
import type { SoakSample } from './soakWorker.js';

export interface SoakFigures {
  passes: number;
  failures: number;
  samples: SoakSample[];
  /** Heap after GC: first sample after warm-up (a quarter of the passes) and at the end. */
  heapWarmBytes: number;
  heapEndBytes: number;
  /** Heap after GC when the quiet half began: from there on, nothing the worker holds should grow. */
  heapQuietStartBytes: number;
  rssWarmBytes: number;
  rssEndBytes: number;
  openFilesMin: number;
  openFilesMax: number;
  /** Database growth per pass while nothing changed: the run record alone. */
  quietBytesPerPass: number;
  quietPasses: number;
  walMaxBytes: number;
  alerts: number;
  source: AlertSource;
}

export async function runSoak(passes: number, source: AlertSource = 'defender'): Promise<SoakFigures> {
  const bed = await createTestBed(
    { initialAlerts: 300, api: { callsPerMinute: 1_000_000, callsPerHour: 1_000_000_000, graphCallsPerMinute: 1_000_000 } },
    // Short lags so that a pass re-reads seconds, not the default quarter hour, of recent changes.
    { ...sourceSettings(source), MDE_ALERT_SYNC_SETTLE_LAG: '2s', MDE_ALERT_SYNC_OVERLAP: '2s', MDE_ALERT_SYNC_LOG_LEVEL: 'warn' },
  );
  try {
    const login = await bed.cli(['login']);
    if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
    const sampleEvery = Math.max(1, Math.floor(passes / 40));
    const worker = runProcess(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(REPO_ROOT, 'test/soak/soakWorker.ts'), String(passes), String(sampleEvery)], bed.env);
    const samples: SoakSample[] = [];
    let quietFrom: SoakSample | undefined;
    const churn = setInterval(() => {
      bed.sim.api.createAlerts(1);
      bed.sim.api.updateAlerts(2);
    }, 50);
    let seen = 0;
    worker.child.stdout!.on('data', () => {
      const lines = worker.output().stdout.split('\n').filter(Boolean);
      for (const line of lines.slice(seen)) samples.push(JSON.parse(line) as SoakSample);
      seen = lines.length;
      const last = samples.at(-1);
      // The second half is quiet: nothing changes, so the database may grow only by the run records.
      if (!quietFrom && last && last.passes >= passes / 2) {
        clearInterval(churn);
        quietFrom = last;
      }
    });
    const ended = await worker.done;
    clearInterval(churn);
    if (ended.code !== 0) throw new Error(`the soak worker exited ${ended.code}: ${ended.stderr.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const final = await bed.cli(['sync']);
    if (final.code !== 0) throw new Error(`the final sync failed: ${final.stderr}`);
    assertStoreEqualsTruth(bed);

    const warm = samples.find((sample) => sample.passes >= passes / 4)!;
    const end = samples.at(-1)!;
    const afterWarm = samples.filter((sample) => sample.passes >= warm.passes);
    return {
      passes: end.passes,
      failures: end.failures,
      samples,
      heapWarmBytes: warm.heapUsedBytes,
      heapEndBytes: end.heapUsedBytes,
      heapQuietStartBytes: quietFrom!.heapUsedBytes,
      rssWarmBytes: warm.rssBytes,
      rssEndBytes: end.rssBytes,
      openFilesMin: Math.min(...afterWarm.map((sample) => sample.openFiles)),
      openFilesMax: Math.max(...afterWarm.map((sample) => sample.openFiles)),
      quietBytesPerPass: (end.databaseBytes - quietFrom!.databaseBytes) / (end.passes - quietFrom!.passes),
      quietPasses: end.passes - quietFrom!.passes,
      walMaxBytes: Math.max(...samples.map((sample) => sample.walBytes)),
      alerts: bed.sim.api.truth().filter((alert) => bed.serves(alert)).length,
      source,
    };
  } finally {
    await bed.close();
  }
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

export function formatSoak(figures: SoakFigures): string {
  return [
    `soak (source ${figures.source}): ${figures.passes} passes (${figures.failures} failed), ${figures.alerts} alerts at the end`,
    `heap after GC     ${mb(figures.heapWarmBytes)} after warm-up, ${mb(figures.heapQuietStartBytes)} when changes stopped, ${mb(figures.heapEndBytes)} at the end`,
    `RSS               ${mb(figures.rssWarmBytes)} after warm-up, ${mb(figures.rssEndBytes)} at the end`,
    `open files        ${figures.openFilesMin} to ${figures.openFilesMax} after warm-up`,
    `database growth   ${figures.quietBytesPerPass.toFixed(0)} bytes per pass over ${figures.quietPasses} passes with nothing changed (the run record)`,
    `largest WAL       ${mb(figures.walMaxBytes)}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { passes: { type: 'string', default: '20000' }, source: { type: 'string', default: 'defender' } } });
  if (values.source !== 'defender' && values.source !== 'graph') throw new Error('--source: defender or graph');
  process.stdout.write(`${formatSoak(await runSoak(Number(values.passes), values.source))}\n`);
}
