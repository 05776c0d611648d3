// A settled window that the server pages by @odata.nextLink and counts (Graph's $count) is read through its
// pages, instead of being cut into windows of one answer each. Each page is a request with a live $skip, so
// the pages are taken for the window's whole content only when they prove it:
//  - the window ends before the settle lag: no alert can enter it any more (an update moves an alert out of
//    it, to now), so while it is read its alerts can only leave, and its count only fall;
//  - every page that carries an @odata.count carries the first page's, so none left while the pages were read
//    (a $skip shifted by an alert that left would lose the one behind it);
//  - the pages hold exactly that many rows, all distinct, all inside the window, the last one with no link;
//  - the window's first page, asked again after the last page, counts the same and holds only rows already
//    read. That closes what the first page's own count cannot: a count made after its rows (an alert that left
//    in between shifts the alert behind it into the first page's range, where the second asking finds it).
// Anything else (a count that fell or is missing, a duplicate, a row outside) and the pages are only a sample
// of the window: their rows are stored (true versions, the cursor left where it was) and the window is cut
// smaller, as a full answer is. The cursor moves only when the window's pages proved whole.
import { parseInstant, type Instant } from '../instants.js';

/** What a counted answer of the window source is, as far as its pages go (a WindowAnswer is one). */
export interface PagedAnswer {
  alerts: unknown[];
  count?: number;
  more?: boolean;
  next?: () => Promise<PagedAnswer>;
}

/** How a window's pages ended: proved whole, a count that fell (alerts changed), or pages that do not add up. */
export type PagedVerdict = 'whole' | 'changed' | 'inconsistent';

export interface PagedRead {
  verdict: PagedVerdict;
  /** Rows read, over all pages. */
  rows: number;
  /** The update times of what was read, as rows the window plan can sample. */
  times: { lastUpdateTime: unknown }[];
  /** The last count the pages gave. */
  count: number | undefined;
}

export interface PagedReadOptions {
  /** Stores a page's rows as they come, the cursor left where it is. */
  stage(alerts: unknown[]): unknown;
  /** The window's first page, asked again after its last page. */
  recount(): Promise<PagedAnswer>;
  /** A page too large to read (the source's own error): the pages are then only a sample. */
  isTooLarge(error: unknown): boolean;
  signal?: AbortSignal | undefined;
}

const idOf = (alert: unknown) => String((alert as { id?: unknown } | null)?.id);
const updateOf = (alert: unknown) => (alert as { lastUpdateTime?: unknown } | null)?.lastUpdateTime;

/** Reads the pages of `first`, the counted full answer for [from, to), and says whether they hold the whole window. */
export async function readPagedWindow(first: PagedAnswer, from: Instant, to: Instant, options: PagedReadOptions): Promise<PagedRead> {
  const count = first.count;
  const ids = new Set<string>();
  const times: { lastUpdateTime: unknown }[] = [];
  let inside = true;
  let answer = first;
  const ended = (verdict: PagedVerdict): PagedRead => ({ verdict, rows: times.length, times, count: answer.count ?? count });
  for (;;) {
    for (const alert of answer.alerts) {
      ids.add(idOf(alert));
      const at = parseInstant(updateOf(alert));
      if (at === undefined || at < from || at >= to) inside = false;
      times.push({ lastUpdateTime: updateOf(alert) });
    }
    await options.stage(answer.alerts);
    // A page after the first may carry no count (the second asking of the first page covers it).
    if (count === undefined || (answer.count !== count && (answer === first || answer.count !== undefined))) return ended(fell(count, answer.count) ? 'changed' : 'inconsistent');
    // More rows than the count, a duplicate or a row outside the window: the pages do not describe the window.
    if (count === undefined || !inside || ids.size !== times.length || times.length > count) return ended('inconsistent');
    if (!answer.next) {
      if (answer.more === true || times.length !== count) return ended('inconsistent');
      return recounted(first, count, ids, options, ended);
    }
    const next = await read(answer.next, options);
    if (next === undefined) return ended('inconsistent');
    answer = next;
  }
}

const fell = (count: number | undefined, now: number | undefined) => count !== undefined && now !== undefined && now < count;

/** The next page, or undefined when it is too large to read. */
async function read(page: () => Promise<PagedAnswer>, options: PagedReadOptions): Promise<PagedAnswer | undefined> {
  options.signal?.throwIfAborted();
  try {
    return await page();
  } catch (error) {
    if (options.isTooLarge(error)) return undefined;
    throw error;
  }
}

/** Pages that add up: whole only if the window, asked again, counts the same and its first page is among what was read. */
async function recounted(first: PagedAnswer, count: number, ids: Set<string>, options: PagedReadOptions, ended: (verdict: PagedVerdict) => PagedRead): Promise<PagedRead> {
  const again = await read(options.recount, options);
  if (again === undefined || again.count === undefined) return ended('inconsistent');
  if (again.count !== count) return ended(fell(count, again.count) ? 'changed' : 'inconsistent');
  // As long as the first page was (a shorter one may have left out what the pages skipped), and all of it read.
  const asLong = again.alerts.length >= Math.min(first.alerts.length, count);
  return ended(asLong && again.alerts.every((alert) => ids.has(idOf(alert))) ? 'whole' : 'inconsistent');
}
