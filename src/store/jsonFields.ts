// Reading fields of received JSON as column values: tolerant of documented "String" fields that arrive as
// arrays or objects, and of numbers sent as strings.
import type { EvidenceRow } from './alertRows.js';

type Json = Record<string, unknown>;

export function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function integer(value: unknown): number | null {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : null;
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An evidence row: its ordinal, the item as received, and the columns read from it. */
export function evidenceRow(ordinal: number, item: Record<string, unknown>, columns: Omit<EvidenceRow, 'ordinal' | 'raw_json'>): EvidenceRow {
  return { ordinal, ...columns, raw_json: JSON.stringify(item) };
}

/**
 * Alerts nested deeper are not stored: SQLite's JSON functions stop at 1000 levels (a report's json_extract
 * over raw_json would fail on that row), and JavaScript's JSON.stringify overflows its stack a few levels on.
 */
export const MAX_JSON_NESTING = 1000;

/** The deepest nesting of objects and lists in a parsed value, walked without recursion. */
export function nestingOf(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > MAX_JSON_NESTING) break;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}
