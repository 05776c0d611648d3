// How the simulated collections find and order their records: by an instant index (binary search over the
// records sorted by their update time) and by an honoured $orderby on one of a few instant fields.
import type { InstantRange } from './odataFilter.js';

/** The records of `sorted` (ascending by `at`) whose `at` lies in the range. */
export function inRange<T extends { at: bigint }>(sorted: readonly T[], range: InstantRange): T[] {
  const firstIndex = (accept: (at: bigint) => boolean) => {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (accept(sorted[middle]!.at)) high = middle;
      else low = middle + 1;
    }
    return low;
  };
  const { low: lower, high: upper } = range;
  const start = lower ? firstIndex((at) => (lower.inclusive ? at >= lower.value : at > lower.value)) : 0;
  const end = upper ? firstIndex((at) => (upper.inclusive ? at > upper.value : at >= upper.value)) : sorted.length;
  return sorted.slice(start, Math.max(start, end));
}

export function byAt<T extends { at: bigint }>(a: T, b: T): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : 0;
}

/**
 * The comparator an honoured "$orderby=<field> [asc|desc]" asks for, given the instant of each field it can
 * order by, or the 400 message for one it cannot serve.
 */
export function orderByComparator<T>(orderBy: string, fields: Record<string, (record: T) => bigint>): ((a: T, b: T) => number) | string {
  const match = /^\s*(\w+)(?:\s+(asc|desc))?\s*$/i.exec(orderBy);
  const field = match?.[1];
  const at = field !== undefined && Object.hasOwn(fields, field) ? fields[field] : undefined;
  if (!match || !at) return `Could not find a property named '${field ?? orderBy}' to order by.`;
  const sign = match[2]?.toLowerCase() === 'desc' ? -1 : 1;
  return (a, b) => sign * (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0);
}

/** `count` of `items` picked at random (a partial Fisher-Yates shuffle). */
export function pickSome<T>(items: T[], count: number, random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}
