// Reads every alert whose lastUpdateTime lies in [from, server now) without relying on what the API does not
// promise: no sort order, no nextLink with $top, and a $skip that shifts while alerts change.
//
// One request is one consistent answer. A window whose answer is not full ($top rows) was therefore read
// whole; a full one is split into smaller time windows until each is, cut where its rows and count say
// (windowPlan.ts) or else at the median. An answer the server spread over
// @odata.nextLink pages is several requests, each with a live $skip, so it is treated like a full one, and so
// is an answer with a nextLink that is not followed (Graph pages by them); the exception is a settled window
// whose pages prove, by their counts and ids, that they hold it whole (pagedWindow.ts). Windows are read and
// committed in ascending time order, so the cursor only ever claims a contiguous, completely read stretch of time.
import { SyncFailedError } from '../errors.js';
import { formatInstant, maxInstant, minInstant, parseInstant, type Instant } from '../instants.js';
import { orderedPrefix } from './orderedPrefix.js';
import { readPagedWindow } from './pagedWindow.js';
import { WindowPlan } from './windowPlan.js';

export interface WindowAnswer {
  alerts: unknown[];
  serverTime: Instant | null;
  /** Responses the answer came in (nextLink pages); absent means 1. */
  pages?: number;
  /** The server said there is more than it returned (an @odata.nextLink not followed). */
  more?: boolean;
  /** Reads the rest of the answer the way the server pages it (Graph's @odata.nextLink), when it does. */
  next?: () => Promise<WindowAnswer>;
  /** The request asked for the answer sorted on the update field ($orderby); whether it was is read from it. */
  ordered?: boolean;
  /**
   * The server's count of the window's alerts (Graph's @odata.count): it sizes windows, and with the rows of a
   * settled window's pages it proves them whole (pagedWindow.ts); it never commits a single answer.
   */
  count?: number;
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
  /**
   * Local clock. The cursor may claim only time both clocks agree has passed (the earlier of it and the
   * server's Date header); windows are read up to the later one, since reading more only re-reads.
   */
  localNow: () => Instant;
  /** Rows of [windowFrom, windowTo) are all in `alerts`; called in ascending window order (a promise it returns is awaited). */
  commit(alerts: unknown[], windowTo: Instant, horizon: Instant): unknown;
  /**
   * The rows of one page of a settled window still being read, from `windowFrom` on: stored, nothing claimed
   * (the window is committed, with no rows, once its pages prove it whole). Unset, they go to `commit` with
   * windowTo at the window's start.
   */
  stage?(alerts: unknown[], windowFrom: Instant, horizon: Instant): unknown;
  onServerClockMissing?(): void;
  /** The first answer's Date header and the local clock when it came (to measure their disagreement). */
  onServerClock?(server: Instant, local: Instant): void;
  /** Rounds of the same-instant scan before giving up (see readSingleInstant). */
  maxInstantScans?: number;
  /** Stops between windows (shutdown); what was committed stays committed. */
  signal?: AbortSignal;
  /**
   * The settle lag (100 ns ticks; the caller passes the overlap where it is longer): a window ending that long
   * before the horizon gains no alerts while it is read, so its counted @odata.nextLink pages may prove it
   * whole. Unset, such pages are never taken for a window.
   */
  settleLag?: Instant;
  /**
   * Set (a pass catching up: a first sync, or far behind), the first request is the closed window [from, firstTo)
   * rather than the open one, so that a backfill's first answer is not only a sample: the caller puts it where
   * both clocks should call it settled, and the window reader checks that against the server's Date.
   */
  firstTo?: Instant;
  /** A window answered whole, and again the same, while the server's count said it holds more: counts are ignored from then on. */
  onCountMismatch?(details: { from: Instant; to: Instant | null; count: number; returned: number }): void;
}

export interface ReadWindowsResult {
  windows: number;
  splits: number;
  /** Settled windows read through their @odata.nextLink pages and proved whole. */
  pagedWindows: number;
  /** What the cursor may claim: the earlier of the two clocks at the first answer. */
  horizon: Instant;
}

export class UnsplittableWindowError extends SyncFailedError {}

const TICK = 1n;
/**
 * A settled, counted window is planned to hold this many pages and is read through its pages when its count
 * says it holds at most twice as many: what one that changes while it is read costs before it is cut smaller.
 */
const PAGED_WINDOW_PAGES = 16;

/** When an alert of an answer was last updated, if it says so in a timestamp. */
const updatedAt = (alert: unknown): Instant | undefined => parseInstant((alert as { lastUpdateTime?: unknown } | null)?.lastUpdateTime);

/** A split point strictly inside (from, to): the median timestamp of the rows seen, else the midpoint. */
export function splitPoint(from: Instant, to: Instant, alerts: unknown[]): Instant {
  const inside: Instant[] = [];
  for (const alert of alerts) {
    const at = updatedAt(alert);
    if (at !== undefined && at > from && at < to) inside.push(at);
  }
  if (inside.length > 0) {
    inside.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return inside[Math.floor(inside.length / 2)]!;
  }
  return from + (to - from) / 2n;
}

function sameIds(a: unknown[], b: unknown[]): boolean {
  const ids = new Set(a.map((alert) => String((alert as { id?: unknown } | null)?.id)));
  return b.every((alert) => ids.has(String((alert as { id?: unknown } | null)?.id)));
}

function mostlyAt(instant: Instant, alerts: unknown[]): boolean {
  let at = 0;
  for (const alert of alerts) if (updatedAt(alert) === instant) at += 1;
  return at * 2 >= alerts.length;
}

export async function readAlertWindows(options: ReadWindowsOptions): Promise<ReadWindowsResult> {
  const { source, top } = options;
  let windows = 0;
  let splits = 0;
  let pagedWindows = 0;
  // What the server serves per answer: $top, or fewer where it cuts $top silently (with a nextLink).
  let served = top;
  // Keyset reading (answers asked sorted on the update field) until an answer fails to show a sorted stretch.
  let keyset = false;

  // Whether @odata.count is still believed, and the silent cut of $top suspected (see `cut` below).
  let countsTrusted = true;
  let cutAt: number | undefined;
  const fetchWindow = async (from: Instant, to: Instant | null): Promise<(WindowAnswer & { full: boolean }) | 'too-large'> => {
    options.signal?.throwIfAborted();
    windows += 1;
    try {
      const answer = await source.fetch(from, to, 0);
      const rows = answer.alerts.length;
      if (answer.more && rows > 0 && rows < served) served = rows;
      // A server that cuts at cutAt never returns more. With no count to judge by, an answer of exactly that many
      // may have more behind it.
      if (cutAt !== undefined && rows > cutAt) {
        if (served === cutAt) served = servedBeforeCut;
        cutAt = undefined;
      }
      const atCut = cutAt !== undefined && rows === cutAt && (!countsTrusted || answer.count === undefined);
      return { ...answer, full: rows >= served || atCut || (answer.pages ?? 1) > 1 || answer.more === true };
    } catch (error) {
      if (source.isTooLarge(error)) return 'too-large';
      throw error;
    }
  };
  // Where the server ignores $orderby: windows sized from the full answers' rows and counts.
  const plan = new WindowPlan();
  const readInstant = async (at: Instant, horizon: Instant) => {
    // A suspected silent cut counts as what the server serves here too: a page that long may have more behind it.
    const alerts = await readSingleInstant(source, at, cutAt === undefined ? served : Math.min(served, cutAt), options.maxInstantScans ?? 5);
    await options.commit(alerts, at + TICK, horizon);
    plan.read(at, at + TICK, alerts);
  };
  // A count above what a whole answer returned disagrees with what was read: the window is read again. When it
  // answers the same twice, the server may be cutting $top silently, with no link (the legacy Graph security API
  // documented a limit of 1,000): the answer is taken for full, and, if it holds at least a tenth of $top, its rows
  // for what the server serves. Only a later answer with fewer rows than that cut, and a count above them too,
  // shows the count wrong (and counts are ignored from then on); the cut stays suspected until an answer holds
  // more rows than it. An answer that keeps changing is split. In each case the window is read again rather than
  // committed short.
  let servedBeforeCut = served;
  const cut = (answer: WindowAnswer & { full: boolean }) => {
    if (cutAt === undefined) servedBeforeCut = served;
    cutAt = answer.alerts.length;
    // A cut below a tenth of $top is split all the same, but windows are not sized to it (a count that lies
    // about a small answer would otherwise shrink every window of the pass).
    if (cutAt < served && cutAt * 10 >= top) served = cutAt;
    return { ...answer, full: true };
  };
  const disagrees = (answer: WindowAnswer & { full: boolean }) => countsTrusted && !answer.full && answer.count !== undefined && answer.count > answer.alerts.length;
  const reread = async (answer: WindowAnswer & { full: boolean }, from: Instant, to: Instant | null) => {
    let same = false;
    for (let round = 0; round < (options.maxInstantScans ?? 5) && !same; round += 1) {
      const again = await fetchWindow(from, to);
      if (again === 'too-large' || !disagrees(again)) return again;
      same = again.alerts.length === answer.alerts.length && sameIds(again.alerts, answer.alerts);
      answer = again;
    }
    if (!same) return { ...answer, full: true };
    if (cutAt === undefined && answer.alerts.length > 0) return cut(answer);
    distrust(from, to, answer.count!, answer.alerts.length);
    return answer;
  };
  const distrust = (from: Instant, to: Instant | null, count: number, returned: number) => {
    countsTrusted = false;
    // The cut was judged by counts: windows are sized as before it, and an answer of exactly its rows is still full.
    if (cutAt !== undefined) served = servedBeforeCut;
    plan.distrustCounts();
    options.onCountMismatch?.({ from, to, count, returned });
  };
  const fetchChecked = async (from: Instant, to: Instant | null) => {
    const answer = await fetchWindow(from, to);
    if (answer === 'too-large') return answer;
    // A count below what one answer returned is wrong on its face.
    if (countsTrusted && answer.count !== undefined && answer.count < answer.alerts.length) distrust(from, to, answer.count, answer.alerts.length);
    if (!disagrees(answer)) return answer;
    // As many rows as the cut seen before, and a count above them: cut again.
    return answer.alerts.length === cutAt ? cut(answer) : reread(answer, from, to);
  };

  // A full answer the server sorted on the update field still holds a whole stretch: commit it, and go on
  // from where it ends. Only one response asked sorted can show that (pages joined from a live $skip cannot).
  // Returns the window to read next, or undefined when this one must be split (and the rest of the pass with it).
  const keptFromFull = async (answer: WindowAnswer | 'too-large', from: Instant, to: Instant, horizon: Instant): Promise<{ start: Instant; end?: Instant } | undefined> => {
    const single = keyset && answer !== 'too-large' && answer.ordered === true && (answer.pages ?? 1) === 1;
    const ordered = single ? orderedPrefix(from, to, answer.alerts) : undefined;
    if (ordered?.kind === 'prefix') {
      await options.commit(ordered.alerts, ordered.end, horizon);
      return { start: ordered.end };
    }
    if (ordered?.kind === 'tie') {
      await readInstant(ordered.at, horizon);
      return { start: ordered.at + TICK };
    }
    // All at one later instant: a sort cannot be told from that, so what lies before it is read as a window.
    if (ordered?.kind === 'sameInstant') return { start: from, end: ordered.at };
    keyset = false;
    return undefined;
  };

  // First an open window: in steady state it is the only request of the pass, and its Date header, with the
  // local clock, fixes the pass's horizons. A full first answer is dropped once its split point is known,
  // rather than held for the whole backfill, unless it holds a sorted stretch. A catching-up pass may begin with
  // the closed window [from, firstTo) instead, read as any window is (its pages too, if both clocks call it settled).
  const firstTo = options.firstTo !== undefined && options.firstTo > options.from ? options.firstTo : undefined;
  const first = await fetchChecked(options.from, firstTo ?? null);
  const local = options.localNow();
  const server = first === 'too-large' ? null : first.serverTime;
  // The cursor may claim only time both clocks agree has passed; windows are read up to the later clock, so
  // a wrong clock makes a pass read more, never less.
  const horizon = server === null ? local : minInstant(server, local);
  const readTo = server === null ? local : maxInstant(server, local);
  if (server !== null) options.onServerClock?.(server, local);
  else if (first !== 'too-large') options.onServerClockMissing?.();
  if (first !== 'too-large' && !first.full && firstTo === undefined) {
    await options.commit(first.alerts, maxInstant(horizon, options.from), horizon);
    return { windows, splits, horizon, pagedWindows };
  }
  if (readTo <= options.from) return { windows, splits, horizon, pagedWindows };

  keyset = first !== 'too-large' && first.ordered === true;
  let start = options.from;
  let width = readTo - start;
  // Where the server pages by @odata.nextLink and counts, the settled stretch is read in windows of many
  // pages, each proved whole by its pages (pagedWindow.ts); the rest, one answer a window. After a closed first
  // window, what follows it is read as one stretch (its pages were the backfill; the rest is minutes).
  const settledAt = options.settleLag === undefined ? undefined : horizon - options.settleLag;
  const settled = settledAt !== undefined && firstTo !== undefined ? minInstant(settledAt, firstTo) : settledAt;
  let pagedPages = first !== 'too-large' && first.next !== undefined && first.count !== undefined ? PAGED_WINDOW_PAGES : 0;
  const paging = () => settled !== undefined && start < settled && pagedPages > 0 && !keyset && countsTrusted;
  const windowLimit = () => (paging() ? settled! : readTo);
  const windowRows = () => (paging() ? pagedPages * served : served);
  const pageable = (answer: WindowAnswer, to: Instant) => paging() && to <= settled! && answer.next !== undefined && answer.count !== undefined && answer.count <= 2 * pagedPages * served;
  // A settled window's pages, stored as they come: committed with the cursor when they prove the window whole,
  // else a sample of it (their update times) for the plan, as a full answer is.
  const readPages = async (answer: WindowAnswer & { full: boolean }, from: Instant, to: Instant) => {
    const recount = () => ((windows += 1), source.fetch(from, to, 0));
    const stage = (alerts: unknown[]) => (options.stage ? options.stage(alerts, from, horizon) : options.commit(alerts, from, horizon));
    const paged = await readPagedWindow(answer, from, to, { stage, recount, isTooLarge: (error) => source.isTooLarge(error), signal: options.signal });
    if (paged.verdict === 'whole') {
      pagedWindows += 1;
      await options.commit([], to, horizon);
      plan.read(from, to, paged.times);
      width = nextWidth(to - from, paged.rows, windowRows());
      return 'whole' as const;
    }
    // Changed while read: smaller windows are read in less time. Pages that do not add up are not read again.
    pagedPages = paged.verdict === 'changed' && pagedPages >= 4 ? pagedPages / 2 : 0;
    return { ...answer, alerts: paged.times, ...(paged.count !== undefined ? { count: paged.count } : {}) };
  };
  // The plan said the next stretch is one instant holding more than a page: it is paged through at once.
  let instantNext = false;
  const planned = (): Instant | undefined => {
    const limit = windowLimit();
    const next = plan.next(start, limit, windowRows());
    if (next?.kind === 'instant') instantNext = true;
    return next === undefined ? undefined : next.kind === 'instant' ? start + TICK : minInstant(next.end, limit);
  };
  // Sorted answers are read on from where each ends, up to readTo; unsorted ones window by window, sized by
  // the plan where a full answer showed what lies ahead, else from the density just read.
  const nextEnd = () => (keyset ? readTo : (planned() ?? minInstant(start + width, windowLimit())));
  // After a full answer for [start, to): the plan's smaller window, else a split of this one.
  const smallerEnd = (answer: WindowAnswer | 'too-large', to: Instant) => {
    if (answer === 'too-large') return splitEnd(answer, to);
    plan.full(start, to, answer.alerts, countsTrusted ? answer.count : undefined);
    const end = planned();
    if (end !== undefined && end > start && (end < to || instantNext)) {
      splits += 1;
      return end;
    }
    instantNext = false;
    return splitEnd(answer, to);
  };
  const splitEnd = (answer: WindowAnswer | 'too-large', to: Instant) => {
    splits += 1;
    if (answer === 'too-large') return start + (to - start) / 2n;
    // Most of a full answer at the window's first instant: that instant is the one to page through, at once
    // rather than after halving the window down to it.
    return mostlyAt(start, answer.alerts) ? start + TICK : splitPoint(start, to, answer.alerts);
  };
  let end: Instant;
  // The closed first window's answer is the loop's first, as if it had just been asked.
  let pending = firstTo === undefined ? undefined : first;
  const kept = pending === undefined ? await keptFromFull(first, start, readTo, horizon) : undefined;
  if (firstTo !== undefined) {
    end = firstTo;
  } else if (kept !== undefined) {
    start = kept.start;
    end = kept.end ?? nextEnd();
  } else {
    end = smallerEnd(first, readTo);
  }
  while (start < readTo) {
    if (instantNext) {
      instantNext = false;
      splits += 1;
      await readInstant(start, horizon);
      start += TICK;
      end = nextEnd();
      continue;
    }
    let answer = pending ?? (await fetchChecked(start, end));
    pending = undefined;
    if (answer !== 'too-large' && !answer.full) {
      await options.commit(answer.alerts, end, horizon);
      plan.read(start, end, answer.alerts);
      width = nextWidth(end - start, answer.alerts.length, windowRows());
      start = end;
      end = nextEnd();
      continue;
    }
    // A sorted answer holds a stretch (keyset reading); one that is not turns keyset reading off.
    const next = await keptFromFull(answer, start, end, horizon);
    if (next !== undefined) {
      start = next.start;
      end = next.end ?? nextEnd();
      continue;
    }
    if (answer !== 'too-large' && pageable(answer, end)) {
      const paged = await readPages(answer, start, end);
      if (paged === 'whole') {
        start = end;
        // The counts say nothing lies past the settled stretch: the cursor cannot claim it in this pass anyway.
        if (start >= settled! && plan.countsNothingFrom(start)) break;
        end = nextEnd();
        continue;
      }
      answer = paged;
    }
    if (end - start > TICK) {
      end = smallerEnd(answer, end);
    } else if (answer === 'too-large') {
      throw new UnsplittableWindowError('The alerts sharing one timestamp do not fit in one response; raise maxResponseMegabytes.');
    } else {
      splits += 1;
      await readInstant(start, horizon);
      start = end;
      end = nextEnd();
    }
  }
  return { windows, splits, horizon, pagedWindows };
}

/**
 * The width of the next window after one of `width` that held `rows` alerts: sized so that, at the density
 * just read, it holds about 85% of what the server serves per answer (a full answer is a request
 * spent for nothing), growing at most eightfold over an empty or sparse stretch.
 */
export function nextWidth(width: Instant, rows: number, served: number): Instant {
  const target = Math.max(1, Math.floor(served * 0.85));
  const next = rows * 8 <= target ? width * 8n : (width * BigInt(target)) / BigInt(rows);
  return next > TICK ? next : TICK;
}

/**
 * More than `top` alerts share one 100 ns instant: only $skip paging is left. An alert that changes leaves
 * the instant (its lastUpdateTime moves on), which shifts $skip; so the instant is scanned until two
 * consecutive scans return the same set of ids, and the pass fails rather than claim a partial read.
 */
async function readSingleInstant(source: AlertsWindowSource, at: Instant, served: number, maxScans: number): Promise<unknown[]> {
  let previous: Map<string, unknown> | undefined;
  for (let scan = 0; scan < maxScans; scan += 1) {
    const current = new Map<string, unknown>();
    let read = 0;
    for (let answer = await source.fetch(at, at + TICK, 0); ; ) {
      const known = current.size;
      for (const alert of answer.alerts) current.set(String((alert as { id?: unknown })?.id), alert);
      // A page of nothing new (a server that ignores $skip) would be asked for forever.
      if (read > 0 && answer.alerts.length > 0 && current.size === known) {
        throw new UnsplittableWindowError(`The API returned the same alerts again at $skip=${read} for the timestamp ${formatInstant(at)}, so the alerts sharing it cannot be paged; the pass stops without moving the cursor. Raise pageSize.`);
      }
      read += answer.alerts.length;
      // The server's own paging where it has one (Graph's @odata.nextLink, as its documentation asks);
      // else $skip, moved by what came back, since a server may return fewer than $top (a page of what it
      // serves, `served`, may have more behind it even with no sign of it).
      if (answer.next) {
        answer = await answer.next();
        continue;
      }
      if (answer.alerts.length < served && !answer.more) break;
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
