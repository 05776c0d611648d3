// Reads every alert whose lastUpdateTime lies in [from, server now) without relying on what the API does not
// promise: no sort order, no nextLink with $top, and a $skip that shifts while alerts change.
//
// One request is one consistent answer. A window whose answer is not full ($top rows) was therefore read
// whole; a full one is split into smaller time windows until each is. An answer the server spread over
// @odata.nextLink pages is several requests, each with a live $skip, so it is treated like a full one, and so
// is an answer with a nextLink that is not followed (Graph pages by them). Windows are read and committed in
// ascending time order, so the cursor only ever claims a contiguous, completely read stretch of time.
import { SyncFailedError } from '../errors.js';
import { formatInstant, maxInstant, minInstant, parseInstant, type Instant } from '../instants.js';

export interface WindowAnswer {
  alerts: unknown[];
  serverTime: Instant | null;
  /** Responses the answer came in (nextLink pages); absent means 1. */
  pages?: number;
  /** The server said there is more than it returned (an @odata.nextLink not followed). */
  more?: boolean;
  /** Reads the rest of the answer the way the server pages it (Graph's @odata.nextLink), when it does. */
  next?: () => Promise<WindowAnswer>;
}

export interface AlertsWindowSource {
  /** Alerts with lastUpdateTime in [from, to) (to = null: no upper bound), at most `top`, skipping `skip`. */
  fetch(from: Instant, to: Instant | null, skip: number): Promise<WindowAnswer>;
  /** Too many bytes for one response: signalled by throwing this from fetch. */
  isTooLarge(error: unknown): boolean;
}

export interface ReadWindowsOptions {
  source: AlertsWindowSource;
  from: Instant;
  top: number;
  /** Local clock: the horizon is the earlier of it and the server's (Date header), or it alone without one. */
  localNow: () => Instant;
  /** Rows of [windowFrom, windowTo) are all in `alerts`; called in ascending window order. */
  commit(alerts: unknown[], windowTo: Instant, horizon: Instant): void | Promise<void>;
  onServerClockMissing?(): void;
  /** The first answer's Date header and the local clock when it came (to measure their disagreement). */
  onServerClock?(server: Instant, local: Instant): void;
  /** Rounds of the same-instant scan before giving up (see readSingleInstant). */
  maxInstantScans?: number;
  /** Stops between windows (shutdown); what was committed stays committed. */
  signal?: AbortSignal;
}

export interface ReadWindowsResult {
  windows: number;
  splits: number;
  horizon: Instant;
}

export class UnsplittableWindowError extends SyncFailedError {}

const TICK = 1n;

/** A split point strictly inside (from, to): the median timestamp of the rows seen, else the midpoint. */
export function splitPoint(from: Instant, to: Instant, alerts: unknown[]): Instant {
  const inside: Instant[] = [];
  for (const alert of alerts) {
    const at = parseInstant((alert as { lastUpdateTime?: unknown } | null)?.lastUpdateTime);
    if (at !== undefined && at > from && at < to) inside.push(at);
  }
  if (inside.length > 0) {
    inside.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return inside[Math.floor(inside.length / 2)]!;
  }
  return from + (to - from) / 2n;
}

export async function readAlertWindows(options: ReadWindowsOptions): Promise<ReadWindowsResult> {
  const { source, top } = options;
  let windows = 0;
  let splits = 0;

  const fetchWindow = async (from: Instant, to: Instant | null): Promise<(WindowAnswer & { full: boolean }) | 'too-large'> => {
    options.signal?.throwIfAborted();
    try {
      const answer = await source.fetch(from, to, 0);
      return { ...answer, full: answer.alerts.length >= top || (answer.pages ?? 1) > 1 || answer.more === true };
    } catch (error) {
      if (source.isTooLarge(error)) return 'too-large';
      throw error;
    }
  };

  // First an open window: in steady state it is the only request of the pass, and its Date header fixes
  // the pass's horizon (with the local clock). A full first answer is dropped once its split point is known,
  // rather than held for the whole backfill.
  const opening = async (): Promise<{ horizon: Instant; end: Instant | null }> => {
    const first = await fetchWindow(options.from, null);
    let horizon: Instant;
    if (first !== 'too-large' && first.serverTime !== null) {
      // Only time both clocks agree has passed: a wrong Date header (a proxy's clock) cannot push it ahead.
      const local = options.localNow();
      options.onServerClock?.(first.serverTime, local);
      horizon = minInstant(first.serverTime, local);
    } else {
      if (first !== 'too-large') options.onServerClockMissing?.();
      horizon = options.localNow();
    }
    if (first !== 'too-large' && !first.full) {
      await options.commit(first.alerts, maxInstant(horizon, options.from), horizon);
      return { horizon, end: null };
    }
    if (horizon <= options.from) return { horizon, end: null };
    return { horizon, end: first === 'too-large' ? options.from + (horizon - options.from) / 2n : splitPoint(options.from, horizon, first.alerts) };
  };
  const { horizon, end: firstEnd } = await opening();
  windows += 1;
  if (firstEnd === null) return { windows, splits, horizon };

  let start = options.from;
  let end = firstEnd;
  splits += 1;
  let width = end - start;
  while (start < horizon) {
    const answer = await fetchWindow(start, end);
    windows += 1;
    if (answer === 'too-large' || answer.full) {
      splits += 1;
      if (end - start <= TICK) {
        if (answer === 'too-large') {
          throw new UnsplittableWindowError('The alerts sharing one timestamp do not fit in one response; raise maxResponseMegabytes.');
        }
        await options.commit(await readSingleInstant(source, start, top, options.maxInstantScans ?? 5), end, horizon);
        start = end;
        end = minInstant(start + width, horizon);
        continue;
      }
      end = answer === 'too-large' ? start + (end - start) / 2n : splitPoint(start, end, answer.alerts);
      width = end - start;
      continue;
    }
    await options.commit(answer.alerts, end, horizon);
    // Widen sparse windows again so that a long quiet stretch does not cost many requests.
    if (answer.alerts.length < top / 4) width *= 2n;
    start = end;
    end = minInstant(start + width, horizon);
  }
  return { windows, splits, horizon };
}

/**
 * More than `top` alerts share one 100 ns instant: only $skip paging is left. An alert that changes leaves
 * the instant (its lastUpdateTime moves on), which shifts $skip; so the instant is scanned until two
 * consecutive scans return the same set of ids, and the pass fails rather than claim a partial read.
 */
async function readSingleInstant(source: AlertsWindowSource, at: Instant, top: number, maxScans: number): Promise<unknown[]> {
  let previous: Map<string, unknown> | undefined;
  for (let scan = 0; scan < maxScans; scan += 1) {
    const current = new Map<string, unknown>();
    let read = 0;
    for (let answer = await source.fetch(at, at + TICK, 0); ; ) {
      for (const alert of answer.alerts) current.set(String((alert as { id?: unknown })?.id), alert);
      read += answer.alerts.length;
      // The server's own paging where it has one (Graph's @odata.nextLink, as its documentation asks);
      // else $skip, moved by what came back, since a server may return fewer than $top.
      if (answer.next) {
        answer = await answer.next();
        continue;
      }
      if (answer.alerts.length < top && !answer.more) break;
      if (answer.alerts.length === 0) {
        throw new UnsplittableWindowError(`The API said more alerts share the timestamp ${formatInstant(at)} but returned none at $skip=${read}; the pass stops without moving the cursor.`);
      }
      answer = await source.fetch(at, at + TICK, read);
    }
    if (previous && previous.size === current.size && [...current.keys()].every((id) => previous!.has(id))) {
      return [...current.values()];
    }
    previous = current;
  }
  throw new UnsplittableWindowError(`More alerts than the page size share the timestamp ${formatInstant(at)} and they kept changing during ${maxScans} scans; the pass stops without moving the cursor. Raise pageSize.`);
}
