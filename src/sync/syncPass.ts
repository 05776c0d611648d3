// One sync pass: from the stored cursor (minus an overlap) up to what both clocks (the API's Date header and
// this machine's) agree is now, window by window, each window's rows committed with the cursor that covers them.
import type { Settings } from '../config/settings.js';
import type { TokenSource } from '../auth/delegatedSession.js';
import type { AlertsClient } from '../alertsApi/alertsClient.js';
import { checkAccessToken } from '../auth/accessTokenClaims.js';
import { errorMessage, PermissionDeniedError } from '../errors.js';
import { formatInstant, instantFromMs, instantToMs, TICKS_PER_MS, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import type { AlertStore } from '../store/alertStore.js';
import type { RunOutcome, RunProgress } from '../store/syncRuns.js';
import { emptyCounts, type UpsertCounts } from '../store/upsertAlerts.js';
import { hasSqliteCode, LOCK_CODES } from '../store/writeRetry.js';
import { readAlertWindows } from './alertsWindow.js';
import { apiWindowSource } from './apiWindowSource.js';
import { cursorBound, describeSkew, toleranceText } from './clockRule.js';
import { repairFutureCursor } from './futureCursor.js';

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

/** What a pass tells the worker's metrics about the clocks. */
export interface PassObserver {
  /** The API's clock minus this machine's at the first answer; beyond clockSkewTolerance or not. */
  clockSkew?(skewMs: number, beyondTolerance: boolean): void;
  /** A cursor ahead of the clock was moved back at the start of the pass. */
  cursorRepaired?(): void;
}

export interface SyncPassDependencies {
  settings: Settings;
  store: AlertStore;
  client: AlertsClient;
  tokens: TokenSource;
  logger: Logger;
  /** Aborting it ends the pass between windows (or its in-flight request); the run is recorded 'interrupted'. */
  signal?: AbortSignal;
  observer?: PassObserver;
}

const ms = (value: number): Instant => BigInt(value) * TICKS_PER_MS;
const formatOrNull = (instant: Instant | undefined): string | null => (instant === undefined ? null : formatInstant(instant));

/** The two clocks' disagreement: measured, and warned about once when beyond the tolerance (the run records it as it ends). */
function reportClockSkew({ settings, logger, observer }: Pick<SyncPassDependencies, 'settings' | 'logger' | 'observer'>, skewMs: number): void {
  const beyond = Math.abs(skewMs) > settings.clockSkewTolerance;
  observer?.clockSkew?.(skewMs, beyond);
  if (beyond) {
    logger.warn(
      { skewSeconds: Math.round(skewMs / 1000) },
      `the API's clock (Date header) is ${describeSkew(skewMs)} this machine's, more than clockSkewTolerance (${toleranceText(settings)}): the cursor follows the earlier clock; check the time of this machine and of any proxy in between`,
    );
  }
}

export async function runSyncPass({ settings, store, client, tokens, logger, signal, observer }: SyncPassDependencies): Promise<SyncPassResult> {
  const startedMs = Date.now();
  const { profile } = client;
  const stream = profile.streamName(settings);
  // Every write of the pass waits (without blocking the event loop) while another program holds the lock.
  const onWait = (error: Error) => logger.warn({ reason: errorMessage(error) }, 'the database is locked by another program: the write is retried');
  const write = <T>(work: () => T): Promise<T> => store.whenUnlocked(() => store.write(work), { signal, onWait });
  // Said once the transaction has committed: a locked database may make it run more than once.
  const { runId, interrupted, repair } = await write(() => {
    const interrupted = store.runs.markInterrupted();
    const id = store.runs.start(profile.source, new Date(startedMs).toISOString(), formatOrNull(store.cursors.get(stream)), null, stream);
    return { runId: id, interrupted, repair: repairFutureCursor(store, stream, id, settings, startedMs) };
  });
  if (interrupted > 0) logger.warn({ interrupted }, 'earlier passes ended without finishing (process stopped); their committed windows are kept');
  if (repair) {
    logger.warn(
      { stream, cursor: formatInstant(repair.found), movedTo: formatInstant(repair.movedTo) },
      `the cursor of ${stream} (${formatInstant(repair.found)}) is ahead of this machine's clock: moved back to ${formatInstant(repair.movedTo)} (${repair.basis}); the span is read again`,
    );
    observer?.cursorRepaired?.();
  }
  const cursorBefore = store.cursors.get(stream);
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
  let clockSkewMs: number | undefined;
  // In the transaction that ends the run: its outcome, and the clocks' disagreement the pass measured.
  const finish = (outcome: RunOutcome, error: string | null) => {
    store.runs.finish(runId, new Date().toISOString(), outcome, passProgress(), error);
    if (clockSkewMs !== undefined) store.runs.setClockSkew(runId, clockSkewMs);
  };

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
    await write(() => store.runs.setUser(runId, username!));
    if (cursorBefore === undefined) logger.info({ stream, from: formatInstant(from) }, 'no cursor yet for this stream: the first sync reads back to the look-back');
    await readAlertWindows({
      from,
      ...(signal ? { signal } : {}),
      top: settings.pageSize,
      localNow: () => instantFromMs(Date.now()),
      source: apiWindowSource(client, settings, { expandEvidence: settings.expandEvidence, signal, onFetch: () => (windows += 1) }),
      // The cursor stops short of the horizon (the earlier of both clocks) by the settle lag, so alerts indexed
      // late are read again; checked against the local clock again at each commit.
      commit: async (alerts, windowTo, horizon) => {
        const result = await store.whenUnlocked(() => store.commitWindow({ runId, stream, source: profile.source, alerts, cursor: cursorBound(windowTo, horizon, Date.now(), settings.settleLag), progress: passProgress() }), { signal, onWait });
        for (const key of Object.keys(totals) as (keyof UpsertCounts)[]) totals[key] += result[key];
        cursorAfter = result.cursor;
      },
      onServerClockMissing: () => logger.warn('the API sent no Date header: using the local clock for this pass'),
      onCountMismatch: ({ count, returned }) => logger.warn({ count, returned }, "the API's @odata.count disagreed with what it returned: windows are sized without it for this pass (nothing is skipped)"),
      onServerClock: (server, local) => {
        clockSkewMs = instantToMs(server) - instantToMs(local);
        reportClockSkew({ settings, logger, observer }, clockSkewMs);
      },
    });
  } catch (error) {
    const outcome = signal?.aborted ? 'interrupted' : 'failed';
    try {
      const record = () => store.write(() => finish(outcome, signal?.aborted ? 'stopped by a shutdown request' : errorMessage(error)));
      // A shutdown, or a pass that already waited out the lock, records it in one attempt.
      if (outcome === 'interrupted' || hasSqliteCode(error, LOCK_CODES)) record();
      else await store.whenUnlocked(record, { onWait });
    } catch (recordError) {
      logger.error({ reason: errorMessage(recordError) }, 'could not record the failed pass');
    }
    const summary = { runId, ...totals, ...passProgress(), durationMs: Date.now() - startedMs };
    if (outcome === 'interrupted') logger.info(summary, 'sync pass stopped for shutdown; committed windows are kept');
    else logger.error({ ...summary, reason: errorMessage(error) }, 'sync pass failed');
    throw error;
  }
  await write(() => finish('success', null));
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
