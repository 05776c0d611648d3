import type { Settings } from '../config/settings.js';
import { onShutdownSignals } from '../daemon/signals.js';
import { ExitCode, UserFacingError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SyncPassResult } from '../sync/syncPass.js';
import { firstFailure, runStreamPasses } from '../sync/streamPasses.js';
import { warnOfRetirement } from '../alertsApi/retirement.js';
import { createWorker, openStoreAsWriter } from './worker.js';
import { progressBar, wantsBar } from './progressBar.js';
import { pruneAfterPass } from '../store/retention.js';

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
  warnOfRetirement(worker.client.profile.retirement, settings.authFlow === 'clientCredentials', logger);
  // A signal ends the pass at its next window (or aborts its request), like `run`; a second one exits at once.
  const shutdown = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const removeSignalHandlers = onShutdownSignals((signal) => {
    stoppedBy = signal;
    logger.info({ signal }, 'stopping: the pass ends at its next window');
    shutdown.abort(new Error(`stopped by ${signal}`));
    deadline = setTimeout(() => {
      logger.error({ shutdownTimeoutMs: settings.shutdownTimeout }, 'shutdown took longer than shutdownTimeout: exiting now; committed data is safe');
      process.exit(stoppedExitCode(signal));
    }, settings.shutdownTimeout);
    deadline.unref();
  });
  try {
    // On a terminal a live bar instead of the progress lines; elsewhere (a pipe, a file, a journal) the lines.
    const bar = wantsBar();
    // The alerts, then (setting incidents) the incidents: each stream's outcome is its own.
    const outcomes = await runStreamPasses({ settings, store, clients: worker.streams, tokens: worker.session, logger, signal: shutdown.signal, ...(bar ? { observer: progressBar(), logProgress: false } : {}) });
    for (const { entity, result } of outcomes) {
      if (result) print(`Synced ${entity === 'alerts' ? '' : `${entity} `}as ${result.signedInUser}: ${describePass(result)}.`);
    }
    const failed = firstFailure(outcomes);
    if (failed) throw failed.error;
    await pruneAfterPass(store, settings, logger, shutdown.signal);
    return outcomes[0]!.result!;
  } catch (error) {
    if (stoppedBy === undefined) throw error;
    throw new UserFacingError(
      `Stopped by ${stoppedBy}: the pass ended at a window boundary and is recorded as interrupted; the alerts committed so far are kept, and the next sync continues from the cursor.`,
      stoppedExitCode(stoppedBy),
      { cause: error },
    );
  } finally {
    writer.close();
    await worker.close();
    removeSignalHandlers();
    clearTimeout(deadline);
  }
}

function stoppedExitCode(signal: NodeJS.Signals): ExitCode {
  return signal === 'SIGINT' ? ExitCode.stoppedBySigint : ExitCode.stoppedBySigterm;
}
