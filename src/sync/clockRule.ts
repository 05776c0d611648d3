// The clock rule: the cursor may claim only time that both clocks (this machine's and the API's Date header)
// agree has passed, less the settle lag. A cursor too early only re-reads; one too late loses alerts for good.
import { formatDuration } from '../config/durations.js';
import { instantFromMs, instantToMs, minInstant, TICKS_PER_MS, type Instant } from '../instants.js';

export interface ClockSettings {
  settleLag: number;
  clockSkewTolerance: number;
}

/** The latest cursor a window ending at `windowTo` may set, given the pass's horizon and the local clock now. */
export function cursorBound(windowTo: Instant, horizon: Instant, localNowMs: number, settleLagMs: number): Instant {
  return minInstant(windowTo, minInstant(horizon, instantFromMs(localNowMs)) - BigInt(settleLagMs) * TICKS_PER_MS);
}

/**
 * How far (ms) a stored cursor lies beyond what this machine's clock allows (now minus the settle lag), when
 * that is more than the tolerance: no pass can have set it, so it came from a wrong clock. Else undefined.
 */
export function cursorAheadMs(cursor: Instant, nowMs: number, settings: ClockSettings): number | undefined {
  const ahead = instantToMs(cursor) - (nowMs - settings.settleLag);
  return ahead > settings.clockSkewTolerance ? ahead : undefined;
}

/** "3.0 years", "2.5 h", "40 s": a clock difference as an operator reads it. */
export function describeSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 365 * 86_400_000) return `${(abs / (365 * 86_400_000)).toFixed(1)} years`;
  if (abs >= 2 * 86_400_000) return `${(abs / 86_400_000).toFixed(1)} days`;
  if (abs >= 2 * 3_600_000) return `${(abs / 3_600_000).toFixed(1)} h`;
  if (abs >= 2 * 60_000) return `${(abs / 60_000).toFixed(1)} min`;
  return `${Math.round(abs / 1000)} s`;
}

/** The API's clock minus this machine's, in words: "3.0 years ahead of" / "2.5 h behind". */
export function describeSkew(skewMs: number): string {
  return `${describeSpan(skewMs)} ${skewMs >= 0 ? 'ahead of' : 'behind'}`;
}

export const toleranceText = (settings: ClockSettings): string => formatDuration(settings.clockSkewTolerance);
