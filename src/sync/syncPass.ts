// One sync pass: from the stored cursor (minus an overlap) up to what both clocks (the API's Date header and
// this machine's) agree is now, window by window, each window's rows committed with the cursor that covers them.
import type { Settings } from '../config/settings.js';
import type { TokenSource } from '../auth/delegatedSession.js';
import type { AlertsClient } from '../alertsApi/alertsClient.js';
import { checkAccessToken } from '../auth/accessTokenClaims.js';
import { errorMessage, PermissionDeniedError } from '../errors.js';
import { formatInstant, instantFromMs, instantToMs, storedTimestamp, TICKS_PER_MS, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import type { AlertStore } from '../store/alertStore.js';
import type { RunOutcome, RunProgress, RunSpan } from '../store/syncRuns.js';
import { emptyCounts, type UpsertCounts } from '../store/upsertAlerts.js';
import { hasSqliteCode, LOCK_CODES } from '../store/writeRetry.js';
import { readAlertWindows } from './alertsWindow.js';
import { apiWindowSource } from './apiWindowSource.js';
import { cursorBound, describeSkew, toleranceText } from './clockRule.js';
import { repairFutureCursor } from './futureCursor.js';
import type { RecordEntity } from '../recordEntity.js';
import { logProgressEvery, PassProgress, type ProgressSnapshot } from './passProgress.js';

export interface SyncPassResult {
  runId: number;
  /** The stream read (its cursor's name) and the kind of record it holds. */
  stream: string;
  entity: RecordEntity;
  counts: UpsertCounts;
  progress: RunProgress;
  cursorBefore: string | null;
  cursorAfter: string | null;
  signedInUser: string;
  tokenExpiresOn: Date | null;
  durationMs: number;
}

/** What a pass tells the worker's metrics (and the terminal bar) about the clocks and its progress. */
export interface PassObserver {
  /** A pass began: its progress, which may be read at any time until it ends. */
  passStarted?(progress: PassProgress): void;
  /** A window was committed. */
  windowCommitted?(snapshot: ProgressSnapshot): void;
  /** The pass ended, whatever its outcome. */
  passEnded?(progress: PassProgress): void;
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
  /** Progress lines in the log every progressInterval (default true; the terminal bar replaces them). */
  logProgress?: boolean;
}

const ms = (value: number): Instant => BigInt(value) * TICKS_PER_MS;
/** A cursor this far behind makes a pass a catch-up (see `firstTo`). */
const CATCHING_UP_MS = 86_400_000;
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

export async function runSyncPass({ settings, store, client, tokens, logger, signal, observer, logProgress = true }: SyncPassDependencies): Promise<SyncPassResult> {
  const startedMs = Date.now();
  const { profile } = client;
  const stream = profile.streamName(settings);
  // Every write of the pass waits (without blocking the event loop) while another program holds the lock.
  const onWait = (error: Error) => logger.warn({ reason: errorMessage(error) }, 'the database is locked by another program: the write is retried');
  const write = <T>(work: () => T): Promise<T> => store.whenUnlocked(() => store.write(work), { signal, onWait });
  // Said once the transaction has committed: a locked database may make it run more than once.
  const { runId, interrupted, repair } = await write(() => {
    const interrupted = store.runs.markInterrupted();
    const id = store.runs.start(profile.source, storedTimestamp(startedMs), formatOrNull(store.cursors.get(stream)), null, stream, profile.entity);
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
  // The page size, within what this stream's API accepts ($top at most 50 for incidents).
  const top = Math.min(settings.pageSize, profile.maxPageSize);
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
  const progress = new PassProgress(runId, from, startedMs, () => {
    const { windows: read, requests } = passProgress();
    return { windows: read, requests };
  }, cursorBefore);
  observer?.passStarted?.(progress);
  const stopProgressLog = logProgress ? logProgressEvery(settings.progressInterval, progress, logger) : () => {};
  const endProgress = () => {
    stopProgressLog();
    observer?.passEnded?.(progress);
  };
  let username: string | null = null;
  let tokenExpiresOn: Date | null = null;
  let clockSkewMs: number | undefined;
  // In the transaction that ends the run: its outcome, and the clocks' disagreement the pass measured.
  const finish = (outcome: RunOutcome, error: string | null) => {
    store.runs.finish(runId, storedTimestamp(), outcome, passProgress(), error);
    if (clockSkewMs !== undefined) store.runs.setClockSkew(runId, clockSkewMs);
  };

  try {
    // Sign-in problems surface before any API call, with the message that says to run login.
    const access = await tokens.accessToken();
    ({ username, expiresOn: tokenExpiresOn } = access);
    // A token that cannot read the stream's records is named before any API call.
    const check = checkAccessToken(access.token, settings.apiBaseUrl, profile);
    if (!check.ok) throw new PermissionDeniedError(`The access token of ${username} cannot read ${profile.entity}: ${check.problems.join('; ')}.`);
    const previousUser = store.runs.lastSignedInUser();
    if (previousUser && previousUser !== username) {
      logger.warn({ previousUser, user: username }, "the signed-in user changed: a delegated token sees only the alerts of its user's device groups");
    }
    await write(() => store.runs.setUser(runId, username!));
    if (cursorBefore === undefined) logger.info({ stream, from: formatInstant(from) }, 'no cursor yet for this stream: the first sync reads back to the look-back');
    // A first sync, or one a day or more behind, of a stream the API counts begins with the stretch both clocks
    // should call settled, so that its first answer is a window's first page rather than only a sample.
    const pagedLagMs = Math.max(settings.settleLag, settings.overlap);
    const catchingUp = profile.countsAnswers && (cursorBefore === undefined || instantToMs(cursorBefore) < Date.now() - CATCHING_UP_MS);
    // Rows and the cursor that covers them (null: left where it is) in one transaction, added to the pass's counts.
    const storeRows = async (alerts: unknown[], cursor: Instant | null, span: RunSpan) => {
      const result = await store.whenUnlocked(() => store.commitWindow({ runId, stream, source: profile.source, entity: profile.entity, alerts, cursor, progress: passProgress(), span }), { signal, onWait });
      for (const key of Object.keys(totals) as (keyof UpsertCounts)[]) totals[key] += result[key];
      return result;
    };
    await readAlertWindows({
      from,
      ...(signal ? { signal } : {}),
      top,
      localNow: () => instantFromMs(Date.now()),
      // Settled windows may be read through their counted pages (pagedWindow.ts). Where the overlap is longer, a
      // late alert it would catch could also shift a window's pages: they then end before the overlap too.
      settleLag: ms(pagedLagMs),
      ...(catchingUp ? { firstTo: instantFromMs(Date.now() - pagedLagMs - settings.clockSkewTolerance) } : {}),
      source: apiWindowSource(client, { ...settings, pageSize: top }, { expandEvidence: settings.expandEvidence, signal, onFetch: () => (windows += 1) }),
      // The cursor stops short of the horizon (the earlier of both clocks) by the settle lag, so alerts indexed
      // late are read again; checked against the local clock again at each commit.
      commit: async (alerts, windowTo, horizon) => {
        const planned = progress.plan(windowTo, horizon);
        const result = await storeRows(alerts, cursorBound(windowTo, horizon, Date.now(), settings.settleLag), planned.span);
        cursorAfter = result.cursor;
        progress.windowCommitted(planned, result.received);
        observer?.windowCommitted?.(progress.snapshot());
      },
      // A page of a settled window still being read: its alerts stored, the cursor and the pace left as they are.
      stage: async (alerts, windowFrom, horizon) => {
        const result = await storeRows(alerts, null, progress.plan(windowFrom, horizon).span);
        progress.pageStored(result.received);
      },
      onServerClockMissing: () => logger.warn('the API sent no Date header: using the local clock for this pass'),
      onCountMismatch: ({ count, returned }) => logger.warn({ count, returned }, "the API's @odata.count disagreed with what it returned: windows are sized without it for this pass (nothing is skipped)"),
      onServerClock: (server, local) => {
        clockSkewMs = instantToMs(server) - instantToMs(local);
        reportClockSkew({ settings, logger, observer }, clockSkewMs);
      },
    });
  } catch (error) {
    endProgress();
    const outcome = signal?.aborted ? 'interrupted' : 'failed';
    try {
      const record = () => store.write(() => finish(outcome, signal?.aborted ? 'stopped by a shutdown request' : errorMessage(error)));
      // A shutdown, or a pass that already waited out the lock, records it in one attempt.
      if (outcome === 'interrupted' || hasSqliteCode(error, LOCK_CODES)) record();
      else await store.whenUnlocked(record, { onWait });
    } catch (recordError) {
      logger.error({ reason: errorMessage(recordError) }, 'could not record the failed pass');
    }
    const summary = { runId, stream, ...totals, ...passProgress(), durationMs: Date.now() - startedMs };
    if (outcome === 'interrupted') logger.info(summary, 'sync pass stopped for shutdown; committed windows are kept');
    else logger.error({ ...summary, reason: errorMessage(error) }, 'sync pass failed');
    throw error;
  }
  try {
    await write(() => finish('success', null));
  } finally {
    endProgress();
  }
  const result: SyncPassResult = {
    runId,
    stream,
    entity: profile.entity,
    counts: totals,
    progress: passProgress(),
    cursorBefore: formatOrNull(cursorBefore),
    cursorAfter: formatOrNull(cursorAfter),
    signedInUser: username!,
    tokenExpiresOn,
    durationMs: Date.now() - startedMs,
  };
  logger.info({ runId, stream, ...totals, ...result.progress, cursor: result.cursorAfter, durationMs: result.durationMs }, 'sync pass finished');
  return result;
}
