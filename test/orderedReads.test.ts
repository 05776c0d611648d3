// Keyset reading end to end: the real CLI asks for answers sorted on the update field ($orderby, documented by
// neither API) and, where the simulator honours it, reads on from where each full answer ends; where the
// server ignores it or refuses it, nothing is lost and the windows are split as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStoreEqualsTruth, bedsFor, signedIn, SOURCES, type TestBed } from './support/harness.js';

const alertRequests = (b: TestBed) => b.sim.api.requests.filter((r) => r.status !== 0);

for (const source of SOURCES) {
  const bed = bedsFor(source);
  const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert)).length;

  describe(`ordered reads (source ${source})`, () => {
    it('a server that sorts as asked: a backfill costs at most 1.25 x ceil(N / page) requests, every alert stored', async () => {
      const b = await bed({ initialAlerts: 1500, initialAlertDays: 90 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      b.sim.api.orderBy = 'honoured';
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assertStoreEqualsTruth(b);
      const requests = alertRequests(b);
      const bound = 1.25 * Math.ceil(served(b) / 100);
      assert.ok(requests.length <= bound, `${requests.length} requests for ${served(b)} alerts, more than ${bound}`);
      assert.ok(requests.every((r) => r.orderBy?.endsWith(`${b.updateField} asc`)), 'every request asked for the update order');
    });

    it('a server that cuts $top silently (Graph) or whose alerts change during the backfill: still every alert, at their latest versions', async () => {
      const b = await bed({ initialAlerts: 900, initialAlertDays: 30 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      b.sim.api.orderBy = 'honoured';
      if (source === 'graph') b.sim.api.graphServerPageSize = 60;
      b.sim.api.beforeQuery = (index) => {
        if (index % 2 === 1) b.sim.api.updateAlerts(5);
      };
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      b.sim.api.beforeQuery = undefined;
      // What changed during the backfill has a later update time: the next pass reads it.
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('a server that refuses $orderby with 400: asked once, then read without it; nothing lost', async () => {
      const b = await bed({ initialAlerts: 400, initialAlertDays: 30 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      b.sim.api.orderBy = 'refused';
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /refused \$orderby: reading without it/);
      assertStoreEqualsTruth(b);
      const asked = alertRequests(b).filter((r) => r.orderBy !== null);
      assert.equal(asked.length, 1, 'only the first request carried $orderby');
      assert.equal(asked[0]!.status, 400);
    });

    it('useOrderBy: false sends no $orderby', async () => {
      const b = await bed({ initialAlerts: 300, initialAlertDays: 30 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100', MDE_ALERT_SYNC_USE_ORDER_BY: 'false' });
      b.sim.api.orderBy = 'honoured';
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
      assert.ok(alertRequests(b).every((r) => r.orderBy === null));
    });
  });
}

describe('ordered reads (source defender): pages joined from a live $skip', () => {
  const bed = bedsFor('defender');
  it('a sorted answer that came in nextLink pages is not trusted whole: an alert that moved between the pages costs nothing', async () => {
    const b = await bed({ initialAlerts: 120, initialAlertDays: 30 }, { MDE_ALERT_SYNC_PAGE_SIZE: '40' });
    b.sim.api.orderBy = 'honoured';
    await signedIn(b);
    // The first answer holds its first 10 alerts and a nextLink to the rest; before that link is read, the
    // oldest alert changes and leaves the front of the order, so the live $skip of page 2 passes one by.
    b.sim.api.faults.push({ kind: 'nextLink', pageSize: 10 });
    const oldest = b.sim.api.truth().sort((x, y) => x.lastUpdateTime.localeCompare(y.lastUpdateTime))[0]!.id;
    b.sim.api.beforeQuery = (index) => {
      if (index === 1) b.sim.api.updateAlerts([oldest]);
    };
    assert.equal((await b.cli(['sync'])).code, 0);
    b.sim.api.beforeQuery = undefined;
    assert.equal((await b.cli(['sync'])).code, 0);
    assertStoreEqualsTruth(b);
  });
});
