// How far a pass has come: the stretch of time read out of its span (from where it started reading to its
// horizon), the windows, alerts and requests so far, and an ETA. One object feeds the log lines, the
// terminal bar, the metrics and the pass's sync_runs row, so that all of them show the same counts.
import { formatInstant, instantFromMs, instantToMs, maxInstant, minInstant, type Instant } from '../instants.js';
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
  /** Until the expected end (at the pace of the last windows), from now; null until it can be told. */
  etaMs: number | null;
  /** When the last window was committed (Unix ms); null before the first. */
  lastWindowAtMs: number | null;
  /**
   * When the last window that read past the stored cursor was committed: the windows a pass reads again
   * (the overlap before its cursor) are no progress, or a pass failing at the same place every time would
   * look as if it advanced. Null before the first.
   */
  lastAdvanceAtMs: number | null;
}

/** A window's end and when it was committed. */
interface PacePoint {
  atMs: number;
  through: Instant;
}

/**
 * The ETA follows the pace of the last windows, not of the whole pass: alerts are dense in some stretches of a
 * span and absent from others (a 180-day look-back over a tenant with 90 days of alerts reads its first half
 * in one request).
 */
const PACE_WINDOWS = 16;

/** When a pass at `through` of a span ending at `horizon` ends, at the pace from `first` to `last`. */
export function expectedEndMs(first: PacePoint, last: PacePoint, horizon: Instant): number | null {
  if (last.through >= horizon) return last.atMs;
  const read = last.through - first.through;
  if (read <= 0n) return null;
  const rest = Number(horizon - last.through) / Number(read);
  return Math.round(last.atMs + (last.atMs - first.atMs) * rest);
}

/** A window about to be committed: where the pass will stand then (written with the window). */
export interface PlannedWindow {
  point: PacePoint;
  horizon: Instant;
  span: RunSpan;
  expectedEnd: number | null;
}

export class PassProgress {
  private horizon: Instant | undefined;
  private alerts = 0;
  private expectedEnd: number | null = null;
  private lastAdvanceAtMs: number | null = null;
  private readonly start: PacePoint;
  /** The last windows committed (at most PACE_WINDOWS), oldest first. */
  private readonly windows: PacePoint[] = [];

  constructor(
    readonly runId: number,
    private readonly from: Instant,
    private readonly startedMs: number,
    /** The pass's running windows and requests (they move between commits too). */
    private readonly counts: () => { windows: number; requests: number },
    /** The cursor stored when the pass began (absent on a first sync): reading up to it is reading again. */
    private readonly storedCursor: Instant | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.start = { atMs: startedMs, through: from };
  }

  private get last(): PacePoint {
    return this.windows.at(-1) ?? this.start;
  }

  /** Where the pass will stand once the window [.., windowTo) is committed now. */
  plan(windowTo: Instant, horizon: Instant): PlannedWindow {
    // A window may end past the horizon (windows are read up to the later clock): the span ends there.
    const end = minInstant(windowTo, maxInstant(horizon, this.from));
    const point = { atMs: this.now(), through: maxInstant(this.last.through, end) };
    // The pace from the oldest window kept (from the pass's start only for the first window): the stretch
    // before the first window may have been read in one request, or taken several full answers.
    const expectedEnd = expectedEndMs(this.windows[0] ?? this.start, point, horizon);
    const span = { spanFrom: formatInstant(this.from), spanTo: formatInstant(horizon), readThrough: formatInstant(point.through), expectedEndAt: expectedEnd === null ? null : formatInstant(instantFromMs(expectedEnd)) };
    return { point, horizon, span, expectedEnd };
  }

  /** Alerts of a page stored before its window is claimed: counted, with no pace point (nothing was read through). */
  pageStored(alerts: number): void {
    this.alerts += alerts;
  }

  /** The planned window and its alerts were committed. */
  windowCommitted(planned: PlannedWindow, alerts: number): void {
    const { through, atMs } = planned.point;
    if (through > this.last.through && (this.storedCursor === undefined || through > this.storedCursor)) this.lastAdvanceAtMs = atMs;
    this.windows.push(planned.point);
    if (this.windows.length > PACE_WINDOWS) this.windows.shift();
    this.horizon = planned.horizon;
    this.expectedEnd = planned.expectedEnd;
    this.alerts += alerts;
  }

  snapshot(): ProgressSnapshot {
    const nowMs = this.now();
    const last = this.windows.at(-1);
    return {
      runId: this.runId,
      ...this.counts(),
      alerts: this.alerts,
      spanFrom: formatInstant(this.from),
      spanTo: this.horizon === undefined ? null : formatInstant(this.horizon),
      readThrough: last === undefined ? null : formatInstant(last.through),
      covered: last === undefined || this.horizon === undefined ? 0 : coveredShare(this.from, last.through, this.horizon),
      elapsedMs: nowMs - this.startedMs,
      etaMs: this.expectedEnd === null ? null : Math.max(0, this.expectedEnd - nowMs),
      lastWindowAtMs: last?.atMs ?? null,
      lastAdvanceAtMs: this.lastAdvanceAtMs,
    };
  }
}

/** The share of [from, horizon) read through `through`, 0 to 1. */
export function coveredShare(from: Instant, through: Instant, horizon: Instant): number {
  const span = horizon - from;
  if (span <= 0n) return 1;
  return Math.min(1, Math.max(0, instantToMs(through - from) / instantToMs(span)));
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
