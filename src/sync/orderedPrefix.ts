// Keyset reading: when a full answer came back sorted on the update field (the server honoured $orderby,
// which neither API documents), the alerts before its last timestamp are all of that stretch and can be
// committed instead of thrown away. Whether the server honoured it is read from the answer itself, with a
// second signal where one can be had, since a server may return rows in another order that looks sorted.
import { parseInstant, type Instant } from '../instants.js';

/** Below this many rows, an answer sorted by chance (1 in n!) is too likely to be taken for an ordered one. */
export const MIN_ORDERED_ROWS = 32;

export interface DatedAlert {
  lastUpdateTime?: unknown;
  createdTime?: unknown;
}

export type OrderedPrefix =
  /** Every alert updated in [from, end) is in `alerts`. */
  | { kind: 'prefix'; end: Instant; alerts: unknown[] }
  /** The whole answer shares the window's first instant `at`: only paging within it is left. */
  | { kind: 'tie'; at: Instant }
  /**
   * The whole answer shares one later instant `at`. Equal timestamps are "sorted" in any order, so this proves
   * nothing about [from, at): that stretch is to be read as a window of its own.
   */
  | { kind: 'sameInstant'; at: Instant }
  /** The answer proves nothing beyond its rows. */
  | { kind: 'none'; unsorted: boolean };

const ascending = (times: Instant[]): boolean => times.every((t, i) => i === 0 || times[i - 1]! <= t);

/**
 * The stretch [from, end), end <= to, that a full answer for [from, to), sorted ascending on the update field,
 * holds whole.
 *
 * Sorted on update time, the alerts not returned are updated at or after the last one returned. But a server
 * that ignores $orderby and returns the oldest-created alerts first also gives an answer sorted on update
 * time whenever those alerts were not updated out of creation order; the alerts it left out were created
 * (so updated) at or after the newest creation time it returned. When the answer is sorted on creation time
 * as well, the two orders cannot be told apart and the stretch ends at the earlier of the two bounds.
 */
export function orderedPrefix(from: Instant, to: Instant, alerts: readonly unknown[]): OrderedPrefix {
  if (alerts.length < MIN_ORDERED_ROWS) return { kind: 'none', unsorted: false };
  const updated: Instant[] = [];
  const created: Instant[] = [];
  for (const alert of alerts as DatedAlert[]) {
    const at = parseInstant(alert?.lastUpdateTime);
    const born = parseInstant(alert?.createdTime);
    if (at === undefined || born === undefined) return { kind: 'none', unsorted: false };
    updated.push(at);
    created.push(born);
  }
  if (!ascending(updated)) return { kind: 'none', unsorted: true };
  const last = updated.at(-1)!;
  const newestCreated = created.at(-1)!;
  const bound = ascending(created) && newestCreated < last ? newestCreated : last;
  const end = bound < to ? bound : to;
  // All at one instant: paged within it if it is the window's first, else [from, it) is read first.
  if (updated[0] === last) return last === from ? { kind: 'tie', at: last } : last < to ? { kind: 'sameInstant', at: last } : { kind: 'none', unsorted: false };
  if (end <= from) return { kind: 'none', unsorted: false };
  return { kind: 'prefix', end, alerts: alerts.filter((_, i) => updated[i]! < end) };
}
