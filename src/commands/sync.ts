import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import { runSyncPass, type SyncPassResult } from '../sync/syncPass.js';
import { createWorker, openStoreAsWriter } from './worker.js';

export function describePass(result: SyncPassResult): string {
  const { counts, progress } = result;
  return (
    `${counts.inserted} new, ${counts.updated} updated, ${counts.unchanged} unchanged` +
    (counts.stale ? `, ${counts.stale} older than stored` : '') +
    (counts.rejected ? `, ${counts.rejected} rejected (kept in rejected_alerts)` : '') +
    ` in ${progress.requests} request(s) over ${progress.windows} window(s)` +
    (progress.retries ? `, ${progress.retries} retried` : '') +
    `; cursor ${result.cursorAfter ?? 'not set'}; ${(result.durationMs / 1000).toFixed(1)} s`
  );
}

export async function syncCommand(settings: Settings, logger: Logger, print: (line: string) => void): Promise<SyncPassResult> {
  const writer = openStoreAsWriter(settings, 'sync', logger, (error) => logger.error({ reason: error.message }, 'lost the writer lease'));
  const store = writer.store;
  const worker = createWorker(settings, logger);
  try {
    const result = await runSyncPass({ settings, store, client: worker.client, tokens: worker.session, logger });
    print(`Synced as ${result.signedInUser}: ${describePass(result)}.`);
    return result;
  } finally {
    writer.close();
    await worker.close();
  }
}
