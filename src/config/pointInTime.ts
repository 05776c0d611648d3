// `--since` of resync and compare-sources: an ISO-8601 time with a zone, a UTC date (2026-11-01), or a span
// back from now (7d, 12h, 90m). A time without a zone is refused rather than read in this machine's zone.
import { parseDuration } from './durations.js';
import { instantFromMs, parseInstant, type Instant } from '../instants.js';

/** The instant `text` names, or undefined when it is none of the three forms (or a span of 0 or less). */
export function parsePointInTime(text: string, nowMs: number): Instant | undefined {
  const trimmed = text.trim();
  const instant = parseInstant(/^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed);
  if (instant !== undefined) return instant;
  const back = /^\d/.test(trimmed) ? parseDuration(trimmed) : undefined;
  return back !== undefined && back > 0 ? instantFromMs(nowMs - back) : undefined;
}
