// Windows sized by count, end to end: the real CLI against the simulator, which ignores $orderby (its default,
// and all that either API promises). Graph is asked $count=true (documented for alerts_v2) and its answers'
// @odata.count and rows size the windows; the Defender API, which documents no count, is not asked for one.
// A count that is absent or lies costs requests, never alerts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStoreEqualsTruth, bedsFor, signedIn, type TestBed } from './support/harness.js';

const alertRequests = (b: TestBed) => b.sim.api.requests.filter((r) => r.status !== 0);
const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;
const BACKFILL = { MDE_ALERT_SYNC_SERVICE_SOURCE_FILTER: 'all', MDE_ALERT_SYNC_LOOKBACK: '365d' };

/**
 * A backfill while `updates` alerts change before every `every`-th query, then a quiet pass (what changed during
 * the backfill has a later update time: that pass reads it). Returns the backfill's result.
 */
async function syncWhileAlertsChange(b: TestBed, every: number, updates: number) {
  b.sim.api.beforeQuery = (index) => {
    if (index % every === every - 2) b.sim.api.updateAlerts(updates);
  };
  await signedIn(b);
  const first = await b.cli(['sync']);
  assert.equal(first.code, 0, first.stderr);
  b.sim.api.beforeQuery = undefined;
  assert.equal((await b.cli(['sync'])).code, 0);
  return first;
}

describe('windows sized by count (source graph)', () => {
  const bed = bedsFor('graph');

  for (const graphCount of ['exact', 'firstPage'] as const) {
    it(`a backfill of 7,646 alerts from a server that ignores $orderby and cuts $top 2,000 to 1,000, counting ${graphCount === 'exact' ? 'every page' : 'first pages only'}: every alert stored in at most 1.25 x ceil(N / 1,000) requests`, async () => {
      const b = await bed({ initialAlerts: 7646, initialAlertDays: 180, api: { graphServerPageSize: 1000, graphCount } }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '2000' });
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assertStoreEqualsTruth(b);
      const requests = alertRequests(b);
      const bound = 1.25 * Math.ceil(served(b) / 1000);
      assert.ok(requests.length <= bound, `${requests.length} requests for ${served(b)} alerts, more than ${bound}`);
      assert.ok(requests.every((r) => r.count), 'every request asked for @odata.count');
      assert.ok(requests.some((r) => r.skip > 0), 'the settled stretch was read through its @odata.nextLink pages');
    });
  }

  it('a server that cuts $top 2,000 to 1,000 silently, with no @odata.nextLink: its count shows the answers were cut, and every alert is stored', async () => {
    const b = await bed({ initialAlerts: 3500, initialAlertDays: 60, api: { graphServerPageSize: 1000, graphCutWithoutLink: true } }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '2000' });
    const first = await syncWhileAlertsChange(b, 4, 3);
    assertStoreEqualsTruth(b);
    assert.doesNotMatch(first.stderr, /disagreed/, 'a cut answer is not a wrong count');
  });

  it('a first sync begins with the closed settled window; a later pass, even with an overlap of two days, is one open request', async () => {
    const b = await bed({ initialAlerts: 300, initialAlertDays: 30 }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '1000', MDE_ALERT_SYNC_OVERLAP: '2d' });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    const first = alertRequests(b);
    assert.match(first[0]!.filter!, / and lastUpdateDateTime lt /, 'the first sync asks for the settled stretch first');
    const before = alertRequests(b).length;
    b.sim.api.createAlerts(3);
    assert.equal((await b.cli(['sync'])).code, 0);
    const later = alertRequests(b).slice(before);
    assert.equal(later.length, 1, `a steady pass is one request (${later.length})`);
    assert.doesNotMatch(later[0]!.filter!, / lt /, 'open to now');
    assertStoreEqualsTruth(b);
  });

  const described = { exact: 'exact (settled windows read through their pages)', firstPage: 'given on first pages only (a paged window is counted again after its last page)', absent: 'absent', low: 'wrong (a third)', high: 'wrong (three times and more)' };
  for (const count of ['exact', 'firstPage', 'absent', 'low', 'high'] as const) {
    it(`a count that is ${described[count]}, with alerts changing during the backfill: every alert stored at its latest version`, async () => {
      const b = await bed({ initialAlerts: 900, initialAlertDays: 30, api: { graphServerPageSize: 60, graphCount: count } }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      const first = await syncWhileAlertsChange(b, 3, 4);
      assertStoreEqualsTruth(b);
      // A count above what a whole answer returned, twice the same: said once, then ignored.
      if (count === 'high') assert.match(first.stderr, /@odata\.count disagreed with what it returned/);
    });
  }

  it('a whole answer with fewer alerts than its count (a part of the answer missing) is read again: the alert it left out is stored', async () => {
    const b = await bed({ initialAlerts: 300, initialAlertDays: 30 }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '1000' });
    const hidden = b.sim.api.truth()[42]!.id;
    // The first answer leaves one alert out and still counts it, as an answer with a failed part would.
    b.sim.api.hiddenFromGraph.add(hidden);
    b.sim.api.graphCount = 'high';
    b.sim.api.beforeQuery = (index) => {
      if (index !== 1) return;
      b.sim.api.hiddenFromGraph.delete(hidden);
      b.sim.api.graphCount = 'exact';
    };
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assertStoreEqualsTruth(b);
    assert.doesNotMatch(result.stderr, /disagreed/, 'the second answer agreed with its count');
  });
});

describe('windows sized without a count (source defender)', () => {
  const bed = bedsFor('defender');
  it('the Defender API is not asked for a count (it documents none); a backfill from a server that ignores $orderby stores every alert', async () => {
    const b = await bed({ initialAlerts: 1500, initialAlertDays: 90 }, { ...BACKFILL, MDE_ALERT_SYNC_PAGE_SIZE: '100' });
    await signedIn(b);
    const result = await b.cli(['sync']);
    assert.equal(result.code, 0, result.stderr);
    assertStoreEqualsTruth(b);
    assert.ok(alertRequests(b).every((r) => !r.count), 'no request carried $count');
  });
});
