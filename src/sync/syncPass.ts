// One sync pass: from the stored cursor (minus an overlap) up to the server's now, window by window, each
// window's rows committed together with the cursor that covers them.
import type { Settings } from '../config/settings.js';
import type { TokenSource } from '../auth/delegatedSession.js';
import { WindowTooLargeError, type AlertsClient, type AlertsPage } from '../alertsApi/alertsClient.js';
import { checkAccessToken } from '../auth/accessTokenClaims.js';
import { errorMessage, PermissionDeniedError } from '../errors.js';
import { formatInstant, instantFromMs, minInstant, TICKS_PER_MS, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import type { AlertStore } from '../store/alertStore.js';
import type { RunProgress } from '../store/syncRuns.js';
import { emptyCounts, type UpsertCounts } from '../store/upsertAlerts.js';
import { readAlertWindows, type WindowAnswer } from './alertsWindow.js';

export interface SyncPassResult {
  runId: number;
  counts: UpsertCounts;
  progress: RunProgress;
  cursorBefore: string | null;
  cursorAfter: string | null;
  signedInUser: string;
  tokenExpiresOn: Date | null;
  durationMs: number;
}

export interface SyncPassDependencies {
  settings: Settings;
  store: AlertStore;
  client: AlertsClient;
  tokens: TokenSource;
  logger: Logger;
  /** Aborting it ends the pass between windows (or its in-flight request); the run is recorded 'interrupted'. */
  signal?: AbortSignal;
}

const ms = (value: number): Instant => BigInt(value) * TICKS_PER_MS;
const formatOrNull = (instant: Instant | undefined): string | null => (instant === undefined ? null : formatInstant(instant));

export async function runSyncPass({ settings, store, client, tokens, logger, signal }: SyncPassDependencies): Promise<SyncPassResult> {
  const startedMs = Date.now();
  const { profile } = client;
  const stream = profile.streamName(settings);
  const cursorBefore = store.cursors.get(stream);
  const runId = store.write(() => {
    const interrupted = store.runs.markInterrupted();
    if (interrupted > 0) logger.warn({ interrupted }, 'earlier passes ended without finishing (process stopped); their committed windows are kept');
    return store.runs.start(profile.source, new Date(startedMs).toISOString(), formatOrNull(cursorBefore), null);
  });
  const from = cursorBefore !== undefined ? cursorBefore - ms(settings.overlap) : instantFromMs(Date.now() - settings.lookback);
  const totals = emptyCounts();
  let cursorAfter = cursorBefore;
  let windows = 0;
  const statsBefore = { ...client.stats };
  const passProgress = (): RunProgress => ({
    windows,
    requests: client.stats.requests - statsBefore.requests,
    retries: client.stats.retries - statsBefore.retries,
    throttled: client.stats.throttled - statsBefore.throttled,
  });
  let username: string | null = null;
  let tokenExpiresOn: Date | null = null;

  try {
    // Sign-in problems surface before any API call, with the message that says to run login.
    const access = await tokens.accessToken();
    ({ username, expiresOn: tokenExpiresOn } = access);
    // A token that cannot read alerts is named before any API call.
    const check = checkAccessToken(access.token, settings.apiBaseUrl, profile);
    if (!check.ok) throw new PermissionDeniedError(`The access token of ${username} cannot read alerts: ${check.problems.join('; ')}.`);
    const previousUser = store.runs.lastSignedInUser();
    if (previousUser && previousUser !== username) {
      logger.warn({ previousUser, user: username }, "the signed-in user changed: a delegated token sees only the alerts of its user's device groups");
    }
    store.write(() => store.runs.setUser(runId, username!));
    if (cursorBefore === undefined) logger.info({ stream, from: formatInstant(from) }, 'no cursor yet for this stream: the first sync reads back to the look-back');
    await readAlertWindows({
      from,
      ...(signal ? { signal } : {}),
      top: settings.pageSize,
      localNow: () => instantFromMs(Date.now()),
      source: {
        fetch: async (windowFrom, windowTo, skip) => {
          windows += 1;
          const first = await client.listAlerts({
            filter: profile.windowFilter(windowFrom, windowTo, settings),
            top: settings.pageSize,
            skip,
            expandEvidence: settings.expandEvidence,
            // Within one instant the order does not matter; elsewhere a sorted answer saves requests.
            ordered: settings.useOrderBy && skip === 0 && windowTo !== windowFrom + 1n,
          }, signal);
          // An @odata.nextLink the client did not follow stays readable, for the window reader to page by.
          const seen = new Set<string>();
          const continued = (page: AlertsPage): WindowAnswer =>
            page.nextLink === undefined ? page : { ...page, next: async () => continued(await client.listNextPage(page.nextLink!, seen, signal)) };
          return continued(first);
        },
        isTooLarge: (error) => error instanceof WindowTooLargeError,
      },
      // The cursor stops short of the server's now by the settle lag, so alerts indexed late are read again.
      commit: (alerts, windowTo, horizon) => {
        const result = store.commitWindow({ runId, stream, source: profile.source, alerts, cursor: minInstant(windowTo, horizon - ms(settings.settleLag)), progress: passProgress() });
        for (const key of Object.keys(totals) as (keyof UpsertCounts)[]) totals[key] += result[key];
        cursorAfter = result.cursor;
      },
      onServerClockMissing: () => logger.warn('the API sent no Date header: using the local clock for this pass'),
    });
  } catch (error) {
    const outcome = signal?.aborted ? 'interrupted' : 'failed';
    try {
      store.write(() => store.runs.finish(runId, new Date().toISOString(), outcome, passProgress(), signal?.aborted ? 'stopped by a shutdown request' : errorMessage(error)));
    } catch (recordError) {
      logger.error({ reason: errorMessage(recordError) }, 'could not record the failed pass');
    }
    const summary = { runId, ...totals, ...passProgress(), durationMs: Date.now() - startedMs };
    if (outcome === 'interrupted') logger.info(summary, 'sync pass stopped for shutdown; committed windows are kept');
    else logger.error({ ...summary, reason: errorMessage(error) }, 'sync pass failed');
    throw error;
  }
  store.write(() => store.runs.finish(runId, new Date().toISOString(), 'success', passProgress(), null));
  const result: SyncPassResult = {
    runId,
    counts: totals,
    progress: passProgress(),
    cursorBefore: formatOrNull(cursorBefore),
    cursorAfter: formatOrNull(cursorAfter),
    signedInUser: username!,
    tokenExpiresOn,
    durationMs: Date.now() - startedMs,
  };
  logger.info({ runId, ...totals, ...result.progress, cursor: result.cursorAfter, durationMs: result.durationMs }, 'sync pass finished');
  return result;
}
