// The $skip pages of a settled window (skipPages.ts): held only when they add up to it, the ids of every page
// but the last kept for the rest of the pass to check; anything else is a sample.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatInstant } from '../src/instants.js';
import { holds, idHash, readSkipPages } from '../src/sync/skipPages.js';

const T0 = 17_000_000_000_000_000n;
const TOO_LARGE = new Error('too large');
const alert = (id: string, at = T0 + 5n) => ({ id, lastUpdateTime: formatInstant(at) });
const pagesOf = (...pages: { id: string; lastUpdateTime: string }[][]) => {
  const asked: number[] = [];
  const staged: unknown[] = [];
  const fetchAt = async (skip: number) => (asked.push(skip), { alerts: pages[asked.length]! });
  return { first: { alerts: pages[0]! }, asked, staged, options: { served: 2, maxPages: 4, fetchAt, stage: (rows: unknown[]) => staged.push(...rows), isTooLarge: (error: unknown) => error === TOO_LARGE } };
};

describe('window $skip pages', () => {
  it('pages that add up, the last one short, are held; only the ids of the pages before the last are kept', async () => {
    const p = pagesOf([alert('a'), alert('b')], [alert('c'), alert('d')], [alert('e')]);
    const read = await readSkipPages(p.first, T0, T0 + 10n, p.options);
    assert.equal(read.verdict, 'held');
    assert.deepEqual(p.asked, [2, 4]);
    assert.equal(p.staged.length, 5, 'every page stored as it came');
    for (const id of ['a', 'b', 'c', 'd']) assert.ok(holds(read.held, idHash(id)), id);
    assert.ok(!holds(read.held, idHash('e')), 'the last page was read at the time the window is judged at');
  });

  it('a duplicate across pages (an order that changed), a row outside the window, or more pages than allowed: a sample', async () => {
    const duplicate = pagesOf([alert('a'), alert('b')], [alert('b'), alert('c')], [alert('d')]);
    assert.equal((await readSkipPages(duplicate.first, T0, T0 + 10n, duplicate.options)).verdict, 'sample');
    const outside = pagesOf([alert('a'), alert('b')], [alert('c', T0 + 10n)]);
    assert.equal((await readSkipPages(outside.first, T0, T0 + 10n, outside.options)).verdict, 'sample');
    const long = pagesOf(...Array.from({ length: 5 }, (_, i) => [alert(`x${i}`), alert(`y${i}`)]));
    const read = await readSkipPages(long.first, T0, T0 + 10n, long.options);
    assert.equal(read.verdict, 'sample');
    assert.equal(read.rows, 8, 'stopped at maxPages');
  });

  it('a page too large for one response makes the pages a sample; another error fails the read', async () => {
    const first = { alerts: [alert('a'), alert('b')] };
    const options = (error: Error) => ({ served: 2, maxPages: 4, stage: () => undefined, isTooLarge: (e: unknown) => e === TOO_LARGE, fetchAt: async () => { throw error; } });
    assert.equal((await readSkipPages(first, T0, T0 + 10n, options(TOO_LARGE))).verdict, 'sample');
    await assert.rejects(readSkipPages(first, T0, T0 + 10n, options(new Error('network'))), /network/);
  });

  it('id hashes tell ids apart', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `da63${i}_${i * 7}`);
    assert.equal(new Set(ids.map(idHash)).size, ids.length);
  });
});
