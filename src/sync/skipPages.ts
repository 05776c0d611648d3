// A settled window of an API that neither counts nor links its pages (the Defender API: $skip and $top up to
// 10,000 are documented, $count and a nextLink with $top are not) is read through its $skip pages, and held:
// its rows are stored, the cursor is not moved, until the rest of the pass shows that no row of it left the
// window while it was read. Why that is enough, with no assumption about the server's order:
//  - the window ends before the settle lag, so no alert can enter it any more; an update moves an alert out of
//    it, to the server's now (at or after the pass's settled stretch, given the lag covers late indexing);
//  - the last page, asked at skip (k-1) x page, came back short: the window then held exactly
//    (k-1) x page + its rows, whatever the order;
//  - the pages are disjoint and all inside the window, so they hold that many distinct alerts of it; they are
//    all of what it held then, unless an alert of an earlier page had left it by the time of the last page;
//  - such an alert was updated: it is at or after the settled stretch, which the pass reads whole after this
//    window (its closing answer open-ended). The window is proved when none of its earlier pages' alerts is
//    read again there (alertsWindow.ts checks every later answer against `held`).
// A duplicate, a row outside the window, a page longer than asked or too large to receive, or more pages than
// `maxPages` and the pages are only a sample of the window: stored all the same (true versions), the window cut smaller.
import { parseInstant, type Instant } from '../instants.js';

export interface SkipPagesOptions {
  /** What one answer holds at most: a page this long may have more behind it. */
  served: number;
  /** Pages beyond this and the window is taken for larger than planned: the pages are a sample. */
  maxPages: number;
  /** The window's answer at this $skip (one request). */
  fetchAt(skip: number): Promise<{ alerts: unknown[] }>;
  /** Stores a page's rows as they come, the cursor left where it is. */
  stage(alerts: unknown[]): unknown;
  /** A page too large for one response (then the pages read are a sample and the window is cut smaller). */
  isTooLarge(error: unknown): boolean;
  signal?: AbortSignal | undefined;
}

export interface SkipPagesRead {
  /** held: the pages add up to the window, pending the check of `held`; sample: they do not. */
  verdict: 'held' | 'sample';
  rows: number;
  /** The update times of what was read, as rows the window plan can sample. */
  times: { lastUpdateTime: unknown }[];
  /** The ids of every page but the last (idHashes), sorted: an alert read again later in the pass that is one of them breaks the window. */
  held: Float64Array;
}

const idOf = (alert: unknown): string => String((alert as { id?: unknown } | null)?.id);

/**
 * A 52-bit hash of an id (two 32-bit FNV-1a variants), so that a pass holding a million ids keeps 8 MB, not a
 * set of strings. A collision can only break a window that was whole: it is read again, nothing is lost.
 */
export function idHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < id.length; i += 1) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
    b ^= b >>> 13;
  }
  return a * 0x100000 + (b & 0xfffff);
}

/** Whether a sorted array of id hashes holds this one. */
export function holds(sorted: Float64Array, hash: number): boolean {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < hash) low = mid + 1;
    else high = mid;
  }
  return low < sorted.length && sorted[low] === hash;
}

/** Reads the window [from, to) on from its full first answer, page by page at a growing $skip. */
export async function readSkipPages(first: { alerts: unknown[] }, from: Instant, to: Instant, options: SkipPagesOptions): Promise<SkipPagesRead> {
  const seen = new Set<string>();
  const times: { lastUpdateTime: unknown }[] = [];
  const earlier: number[] = [];
  let page = first;
  for (let pages = 1; ; pages += 1) {
    let inside = page.alerts.length <= options.served;
    for (const alert of page.alerts) {
      const at = parseInstant((alert as { lastUpdateTime?: unknown } | null)?.lastUpdateTime);
      const id = idOf(alert);
      if (at === undefined || at < from || at >= to || seen.has(id)) inside = false;
      seen.add(id);
      times.push({ lastUpdateTime: (alert as { lastUpdateTime?: unknown }).lastUpdateTime });
    }
    await options.stage(page.alerts);
    const sample = { verdict: 'sample' as const, rows: times.length, times, held: new Float64Array(0) };
    if (!inside) return sample;
    if (page.alerts.length < options.served) {
      const held = Float64Array.from(earlier).sort();
      return { verdict: 'held', rows: times.length, times, held };
    }
    if (pages >= options.maxPages) return sample;
    for (const alert of page.alerts) earlier.push(idHash(idOf(alert)));
    options.signal?.throwIfAborted();
    try {
      page = await options.fetchAt(times.length);
    } catch (error) {
      if (options.isTooLarge(error)) return sample;
      throw error;
    }
  }
}
