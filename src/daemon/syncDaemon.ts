// The long-running worker: a pass at start, then one per cron tick, never two at once. Transient failures
// wait for the next tick. A signed-out worker stays up, reports unready, and does not call the identity
// provider again until the token cache changes (someone ran `login`).
import { statSync } from 'node:fs';
import cron, { type ScheduledTask } from 'node-cron';
import { SignInRequiredError, errorMessage } from '../errors.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import type { PassObserver, SyncPassResult } from '../sync/syncPass.js';
import { firstFailure, runStreamPasses, type StreamPassesDependencies } from '../sync/streamPasses.js';
import { progressFields, type PassProgress } from '../sync/passProgress.js';
import { cursorAheadMs, describeSpan } from '../sync/clockRule.js';
import { formatInstant } from '../instants.js';
import type { WorkerMetrics } from './metrics.js';
import { pruneAfterPass } from '../store/retention.js';

const PRUNE_INTERVAL_MS = 3_600_000;

export class ShutdownRequested extends Error {
  constructor() {
    super('shutdown requested');
  }
}

export interface DaemonHealth {
  live: boolean;
  ready: boolean;
  signedIn: boolean;
  lastSuccessAt: string | null;
  consecutiveFailures: number;
  /** A pass is running; its progress below. */
  passRunning: boolean;
  progress?: Record<string, unknown>;
  reasons: string[];
}

export interface SyncDaemonOptions extends Omit<StreamPassesDependencies, 'signal'> {
  metrics: WorkerMetrics;
  /** Called after every pass, with its first stream's (the alerts') result or the first error (the demo prints it). */
  onPass?: (outcome: { result?: SyncPassResult; error?: unknown }) => void;
}

function cacheStamp(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return 'absent';
  }
}

export class SyncDaemon {
  private task: ScheduledTask | undefined;
  private current: Promise<void> | undefined;
  private abort = new AbortController();
  private stopping = false;
  private signedOutAt: string | undefined; // token cache stamp when sign-in was last refused
  private lastSuccessMs: number | null = null;
  private consecutiveFailures = 0;
  /**
   * Each stream's last success and last failure: a stream that keeps failing while the others sync (incidents
   * without their permission, say) makes the worker unready like a failing pass does, after readyMaxAge.
   */
  private readonly streams = new Map<string, { lastSuccessMs: number | null; lastError: string | null }>();
  /** The running pass's progress: readiness follows its window commits. */
  private running: PassProgress | undefined;
  private lastPrunedMs: number | undefined;
  passes = 0;

  constructor(private readonly options: SyncDaemonOptions) {}

  private get settings(): Settings {
    return this.options.settings;
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  start(): void {
    this.task = cron.schedule(this.settings.schedule, () => this.tick('schedule'), {
      name: 'sync',
      ...(this.settings.scheduleJitter > 0 ? { maxRandomDelay: this.settings.scheduleJitter } : {}),
    });
    this.logger.info({ schedule: this.settings.schedule, jitterMs: this.settings.scheduleJitter }, 'worker started; first pass now');
    this.tick('start');
  }

  /** Starts a pass unless one is running, the worker is stopping, or it is signed out with an unchanged cache. */
  tick(reason: 'start' | 'schedule'): void {
    if (this.stopping) return;
    if (this.current) {
      this.options.metrics.tickSkipped('pass_running');
      this.logger.warn({ reason }, 'the previous pass is still running: this tick is skipped');
      return;
    }
    if (this.signedOutAt !== undefined) {
      if (cacheStamp(this.settings.tokenCachePath) === this.signedOutAt) {
        this.options.metrics.tickSkipped('signed_out');
        this.logger.warn('signed out: waiting for "mde-alert-sync login" before calling the identity provider again');
        return;
      }
      this.logger.info('the token cache changed: trying the new sign-in');
    }
    this.current = this.pass().finally(() => {
      this.current = undefined;
    });
  }

  private async pass(): Promise<void> {
    this.passes += 1;
    try {
      const outcomes = await runStreamPasses({ ...this.options, observer: this.observer(), signal: this.abort.signal });
      for (const { stream, result, error } of outcomes) {
        const state = this.streams.get(stream) ?? { lastSuccessMs: null, lastError: null };
        if (result) this.options.metrics.recordsWritten(result);
        this.streams.set(stream, result ? { lastSuccessMs: Date.now(), lastError: null } : { ...state, lastError: errorMessage(error) });
      }
      const failed = firstFailure(outcomes);
      if (failed) throw failed.error;
      const result = outcomes[0]!.result!;
      this.signedOutAt = undefined;
      this.lastSuccessMs = Date.now();
      this.consecutiveFailures = 0;
      this.options.metrics.passFinished('success', result, 0);
      // Before onPass: once it is called the pass has ended, and a tick it starts is not skipped.
      await this.prune();
      this.options.onPass?.({ result });
    } catch (error) {
      if (this.abort.signal.aborted) {
        this.options.metrics.passFinished('interrupted', undefined, this.consecutiveFailures);
        return;
      }
      if (error instanceof SignInRequiredError) {
        this.signedOutAt = cacheStamp(this.settings.tokenCachePath);
        this.options.metrics.passFinished('signed_out', undefined, ++this.consecutiveFailures);
        this.logger.error({ reason: error.message }, 'signed out: the worker keeps running and reports unready until "mde-alert-sync login" is run');
      } else {
        this.options.metrics.passFinished('failed', undefined, ++this.consecutiveFailures);
        this.logger.warn({ reason: errorMessage(error), consecutiveFailures: this.consecutiveFailures }, 'pass failed; retrying at the next tick');
      }
      this.options.onPass?.({ error });
    }
  }

  /** Retention after the first pass, then at most hourly: a pass every few minutes need not walk the tables each time. */
  private async prune(): Promise<void> {
    if (this.lastPrunedMs !== undefined && Date.now() - this.lastPrunedMs < PRUNE_INTERVAL_MS) return;
    this.lastPrunedMs = Date.now();
    await pruneAfterPass(this.options.store, this.settings, this.logger, this.abort.signal);
  }


  /** The configured observer (metrics), and the daemon's own view of the running pass. */
  private observer(): PassObserver {
    const outer = this.options.observer;
    // Forwarded one by one: the metrics are a class, whose methods a spread would not copy.
    return {
      clockSkew: (skewMs, beyond) => outer?.clockSkew?.(skewMs, beyond),
      cursorRepaired: () => outer?.cursorRepaired?.(),
      windowCommitted: (snapshot) => outer?.windowCommitted?.(snapshot),
      passStarted: (progress) => {
        this.running = progress;
        outer?.passStarted?.(progress);
      },
      passEnded: (progress) => {
        this.running = undefined;
        outer?.passEnded?.(progress);
      },
    };
  }

  /**
   * Ready: stored data is recent, by a successful pass or by a running one committing windows past its
   * stored cursor, each within readyMaxAge. So a long first backfill is ready while it advances, and a pass
   * that stops committing windows (a stuck request, a lock, throttling beyond the retries), or only reads
   * its overlap again before failing, turns unready after readyMaxAge.
   */
  health(nowMs = Date.now()): DaemonHealth {
    const reasons: string[] = [];
    const signedIn = this.signedOutAt === undefined;
    if (!signedIn) reasons.push('signed out: run "mde-alert-sync login"');
    const { readyMaxAge } = this.settings;
    const snapshot = this.running?.snapshot();
    // Since the running pass last read past its stored cursor (or since it began).
    const sinceAdvanceMs = snapshot === undefined ? undefined : nowMs - (snapshot.lastAdvanceAtMs ?? nowMs - snapshot.elapsedMs);
    const advancing = snapshot?.lastAdvanceAtMs != null && sinceAdvanceMs! <= readyMaxAge;
    if (this.lastSuccessMs === null) {
      if (!advancing) reasons.push('no successful pass yet');
    } else if (nowMs - this.lastSuccessMs > readyMaxAge && !advancing) {
      reasons.push(`last successful pass ${Math.round((nowMs - this.lastSuccessMs) / 1000)} s ago, more than readyMaxAge`);
    }
    if (sinceAdvanceMs !== undefined && sinceAdvanceMs > readyMaxAge) {
      reasons.push(`the running pass: no window committed for ${Math.round(sinceAdvanceMs / 1000)} s past the cursor it started from, more than readyMaxAge`);
    }
    if (this.stopping) reasons.push('shutting down');
    for (const [stream, { lastSuccessMs, lastError }] of this.streams) {
      if (lastError === null || (lastSuccessMs !== null && nowMs - lastSuccessMs <= this.settings.readyMaxAge)) continue;
      reasons.push(`${stream}: ${lastSuccessMs === null ? 'no successful pass yet' : `last successful pass ${Math.round((nowMs - lastSuccessMs) / 1000)} s ago, more than readyMaxAge`}; last error: ${lastError}`);
    }
    reasons.push(...this.cursorsAhead(nowMs));
    return {
      live: true,
      ready: reasons.length === 0,
      signedIn,
      lastSuccessAt: this.lastSuccessMs === null ? null : new Date(this.lastSuccessMs).toISOString(),
      consecutiveFailures: this.consecutiveFailures,
      passRunning: snapshot !== undefined,
      ...(snapshot ? { progress: progressFields(snapshot, nowMs) } : {}),
      reasons,
    };
  }

  /** A cursor ahead of this machine's clock reads nothing (its age metric is negative): not ready until repaired. */
  private cursorsAhead(nowMs: number): string[] {
    const reasons: string[] = [];
    for (const client of this.options.clients) {
      const { profile } = client;
      const stream = profile.streamName(this.settings);
      let cursor;
      try {
        cursor = this.options.store.cursors.get(stream);
      } catch (error) {
        return [`cannot read the cursor: ${errorMessage(error)}`];
      }
      const aheadMs = cursor === undefined ? undefined : cursorAheadMs(cursor, nowMs, this.settings);
      if (aheadMs !== undefined) reasons.push(`the cursor of ${stream} (${formatInstant(cursor!)}) is ahead of this machine's clock by ${describeSpan(aheadMs)}: no ${profile.entity === 'alerts' ? 'alert' : 'incident'} is read until the next pass moves it back`);
    }
    return reasons;
  }

  /** Stops scheduling and ends the running pass at its next window boundary (or aborts its request). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.task?.stop();
    await this.task?.destroy();
    this.abort.abort(new ShutdownRequested());
    await this.current;
  }
}
