// The proof a settled window's @odata.nextLink pages must give before they are taken for the whole window
// (src/sync/pagedWindow.ts), on hand-made pages: what passes, and each way a page sequence fails it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstant } from '../src/instants.js';
import { readPagedWindow, type PagedAnswer } from '../src/sync/pagedWindow.js';

const alert = (id: string, at = '2024-01-01T00:00:00Z') => ({ id, lastUpdateTime: at });

/** Pages of the given ids (each with `count`, or the counts listed), linked in order. */
function pages(ids: string[][], counts: (number | undefined)[]): PagedAnswer {
  const build = (i: number): PagedAnswer => ({
    alerts: ids[i]!.map((id) => alert(id)),
    ...(counts[i] !== undefined ? { count: counts[i] } : {}),
    ...(i + 1 < ids.length ? { more: true, next: async () => build(i + 1) } : {}),
  });
  return build(0);
}

async function verdict(first: PagedAnswer, again: string[], againCount: number | undefined) {
  const staged: unknown[] = [];
  const result = await readPagedWindow(first, 0n, 10n ** 18n, {
    stage: (alerts) => void staged.push(...alerts),
    recount: async () => ({ alerts: again.map((id) => alert(id)), ...(againCount !== undefined ? { count: againCount } : {}) }),
    isTooLarge: () => false,
  });
  return { ...result, staged: staged.length };
}

describe('a settled window read through its pages', () => {
  it('pages that add up to their count, the first page asked again the same: whole, every row staged', async () => {
    const result = await verdict(pages([['a1', 'a2', 'a3', 'a4'], ['a5', 'a6']], [6, 6]), ['a1', 'a2', 'a3', 'a4'], 6);
    assert.equal(result.verdict, 'whole');
    assert.equal(result.staged, 6);
  });

  it('later pages without a count: the first page asked again decides', async () => {
    assert.equal((await verdict(pages([['a1', 'a2'], ['a3']], [3, undefined]), ['a1', 'a2'], 3)).verdict, 'whole');
    assert.equal((await verdict(pages([['a1', 'a2'], ['a3']], [3, undefined]), ['a1', 'a2'], 2)).verdict, 'changed');
    assert.equal((await verdict(pages([['a1', 'a2'], ['a3']], [3, undefined]), ['a1', 'a2'], undefined)).verdict, 'inconsistent');
  });

  it('a count that falls between pages (an alert left): changed; one that rises, a duplicate, or a row outside: inconsistent', async () => {
    assert.equal((await verdict(pages([['a1', 'a2'], ['a4']], [4, 3]), [], 3)).verdict, 'changed');
    assert.equal((await verdict(pages([['a1', 'a2'], ['a3', 'a4']], [3, 4]), [], 4)).verdict, 'inconsistent');
    assert.equal((await verdict(pages([['a1', 'a2'], ['a2', 'a3']], [4, 4]), [], 4)).verdict, 'inconsistent');
    // The window [2023, 2025): a row of 2026 is not in it.
    const outside: PagedAnswer = { alerts: [alert('a1'), alert('a2', '2026-01-01T00:00:00Z')], count: 2 };
    const window = [parseInstant('2023-01-01T00:00:00Z')!, parseInstant('2025-01-01T00:00:00Z')!] as const;
    const result = await readPagedWindow(outside, ...window, { stage: () => {}, recount: async () => outside, isTooLarge: () => false });
    assert.equal(result.verdict, 'inconsistent');
  });

  it("a first page whose count was made after one of its alerts left: the alert the next page skipped is in the first page's range when asked again", async () => {
    // a1..a8 in the server's order, pages of 4. a2 leaves after the first page's rows were taken and before its
    // count (7); the next page, over the set without a2, starts at a6: a5 is skipped, and the counts agree.
    const first = pages([['a1', 'a2', 'a3', 'a4'], ['a6', 'a7', 'a8']], [7, 7]);
    assert.equal((await verdict(first, ['a1', 'a3', 'a4', 'a5'], 7)).verdict, 'inconsistent', 'a5 found in the first page asked again');
    // A second asking shorter than the first page (a part of the answer missing) proves nothing.
    assert.equal((await verdict(pages([['a1', 'a2', 'a3', 'a4'], ['a6', 'a7', 'a8']], [7, 7]), ['a1', 'a3'], 7)).verdict, 'inconsistent');
    assert.equal((await verdict(pages([['a1', 'a2', 'a3', 'a4'], ['a6', 'a7', 'a8']], [7, 7]), [], 7)).verdict, 'inconsistent');
  });
});
