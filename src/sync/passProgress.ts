// How far a pass has come: the stretch of time read out of its span (from where it started reading to its
// horizon), the windows, alerts and requests so far, and an ETA. One object feeds the log lines, the
// terminal bar, the metrics and the pass's sync_runs row, so that all of them show the same counts.
import { formatInstant, instantToMs, maxInstant, minInstant, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import type { RunSpan } from '../store/syncRuns.js';

export interface ProgressSnapshot {
  runId: number;
  windows: number;
  requests: number;
  /** Alerts received in the windows committed so far. */
  alerts: number;
  spanFrom: string;
  /** The horizon (what both clocks agree is now, at the first answer); null before it is known. */
  spanTo: string | null;
  /** The end of the last window committed; null before the first. */
  readThrough: string | null;
  /** Share of the span read, 0 to 1. */
  covered: number;
  elapsedMs: number;
  /** At the pace so far, how long the rest takes; null until a window is committed. */
  etaMs: number | null;
  /** When the last window was committed (Unix ms); null before the first. */
  lastWindowAtMs: number | null;
}

export class PassProgress {
  private horizon: Instant | undefined;
  private through: Instant | undefined;
  private alerts = 0;
  private lastWindowAtMs: number | null = null;

  constructor(
    readonly runId: number,
    private readonly from: Instant,
    private readonly startedMs: number,
    /** The pass's running windows and requests (they move between commits too). */
    private readonly counts: () => { windows: number; requests: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Where the pass will stand once the window [.., windowTo) is committed: written with that window. */
  spanAfter(windowTo: Instant, horizon: Instant): RunSpan {
    return { spanFrom: formatInstant(this.from), spanTo: formatInstant(horizon), readThrough: formatInstant(this.throughAfter(windowTo, horizon)) };
  }

  /** The window [.., windowTo) and its alerts were committed; horizon is the pass's. */
  windowCommitted(windowTo: Instant, horizon: Instant, alerts: number): void {
    this.through = this.throughAfter(windowTo, horizon);
    this.horizon = horizon;
    this.alerts += alerts;
    this.lastWindowAtMs = this.now();
  }

  private throughAfter(windowTo: Instant, horizon: Instant): Instant {
    // A window may end past the horizon (windows are read up to the later clock): the span ends there.
    const end = minInstant(windowTo, maxInstant(horizon, this.from));
    return this.through === undefined ? end : maxInstant(this.through, end);
  }

  snapshot(): ProgressSnapshot {
    const elapsedMs = this.now() - this.startedMs;
    const covered = this.coveredShare();
    return {
      runId: this.runId,
      ...this.counts(),
      alerts: this.alerts,
      spanFrom: formatInstant(this.from),
      spanTo: this.horizon === undefined ? null : formatInstant(this.horizon),
      readThrough: this.through === undefined ? null : formatInstant(this.through),
      covered,
      elapsedMs,
      etaMs: this.through === undefined || covered <= 0 ? null : Math.round((elapsedMs * (1 - covered)) / covered),
      lastWindowAtMs: this.lastWindowAtMs,
    };
  }

  private coveredShare(): number {
    if (this.through === undefined || this.horizon === undefined) return 0;
    const span = this.horizon - this.from;
    if (span <= 0n) return 1;
    return Math.min(1, Math.max(0, instantToMs(this.through - this.from) / instantToMs(span)));
  }
}

/** "42 s", "3.5 min", "2.1 h": an ETA or an age for people. */
export function roughDuration(ms: number): string {
  if (ms < 90_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The snapshot as the fields of a log line (names a log query can use). */
export function progressFields(snapshot: ProgressSnapshot, nowMs = Date.now()): Record<string, unknown> {
  return {
    runId: snapshot.runId,
    windows: snapshot.windows,
    alerts: snapshot.alerts,
    requests: snapshot.requests,
    spanFrom: snapshot.spanFrom,
    spanTo: snapshot.spanTo,
    readThrough: snapshot.readThrough,
    percent: Math.round(snapshot.covered * 1000) / 10,
    etaSeconds: snapshot.etaMs === null ? null : Math.round(snapshot.etaMs / 1000),
    sinceLastWindowSeconds: snapshot.lastWindowAtMs === null ? null : Math.round((nowMs - snapshot.lastWindowAtMs) / 1000),
  };
}

/**
 * A log line with the snapshot every `intervalMs` (0: none) until the returned function is called. A timer
 * rather than one line per window: a backfill of thousands of windows logs at a steady, readable rate, and a
 * pass that stops committing keeps saying so (sinceLastWindowSeconds grows).
 */
export function logProgressEvery(intervalMs: number, progress: PassProgress, logger: Logger): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(() => logger.info(progressFields(progress.snapshot()), 'sync pass progress'), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
