// The window reader's logic against an in-memory API model: arbitrary order, live updates between requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatInstant, parseInstant, type Instant } from '../src/instants.js';
import { seededRandom } from '../src/simulator/alertFactory.js';
import { readAlertWindows, splitPoint, type AlertsWindowSource } from '../src/sync/alertsWindow.js';

interface Row { id: string; lastUpdateTime: string }

function modelApi(rows: Map<string, Row>, options: { top: number; now: () => Instant; random: () => number; onRequest?: (n: number) => void }) {
  let requests = 0;
  const source: AlertsWindowSource = {
    async fetch(from, to, skip) {
      const index = requests++;
      options.onRequest?.(index);
      const matching = [...rows.values()].filter((r) => {
        const t = parseInstant(r.lastUpdateTime)!;
        return t >= from && (to === null || t < to);
      });
      // Arbitrary order, different on every request.
      matching.sort(() => options.random() - 0.5);
      return { alerts: matching.slice(skip, skip + options.top), serverTime: options.now() };
    },
    isTooLarge: () => false,
  };
  return { source, requests: () => requests };
}

describe('alert windows', () => {
  it('reads every alert that did not change during the scan, committing contiguous windows in ascending order', async () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const random = seededRandom(seed);
      let clock = 1_000_000_000_000n;
      const rows = new Map<string, Row>();
      for (let i = 0; i < 500; i += 1) {
        // Clustered timestamps, with many exact ties.
        const t = 500_000_000_000n + BigInt(Math.floor(random() * 50)) * 1_000_000n + BigInt(Math.floor(random() * 3));
        rows.set(`a${i}`, { id: `a${i}`, lastUpdateTime: formatInstant(t) });
      }
      const changed = new Set<string>();
      const { source } = modelApi(rows, {
        top: 40,
        now: () => clock,
        random,
        onRequest: (n) => {
          clock += 10_000n;
          if (n % 3 === 1) {
            // Analysts change alerts mid-scan: they move to "now".
            for (const id of [...rows.keys()].filter(() => random() < 0.01)) {
              changed.add(id);
              rows.set(id, { id, lastUpdateTime: formatInstant(clock) });
            }
          }
        },
      });
      const committed = new Map<string, Row>();
      const ends: Instant[] = [];
      const result = await readAlertWindows({
        source,
        from: 0n,
        top: 40,
        localNow: () => clock,
        commit: (alerts, windowTo) => {
          for (const a of alerts as Row[]) committed.set(a.id, a);
          ends.push(windowTo);
        },
      });
      const unchanged = [...rows.values()].filter((r) => !changed.has(r.id));
      assert.deepEqual(unchanged.filter((r) => committed.get(r.id)?.lastUpdateTime !== r.lastUpdateTime).map((r) => r.id), [], `seed ${seed}`);
      assert.deepEqual(ends, [...ends].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), 'windows are committed in ascending order');
      assert.equal(ends.at(-1), result.horizon, 'the last window ends at the horizon');
      assert.ok(result.splits > 0);
    }
  });

  it('makes a single request when the open window is not full', async () => {
    const rows = new Map<string, Row>([['x', { id: 'x', lastUpdateTime: '2024-01-01T00:00:00Z' }]]);
    const { source, requests } = modelApi(rows, { top: 10, now: () => parseInstant('2024-01-02T00:00:00Z')!, random: Math.random });
    const commits: number[] = [];
    await readAlertWindows({ source, from: 0n, top: 10, localNow: () => parseInstant('2024-01-02T00:00:01Z')!, commit: (alerts) => void commits.push(alerts.length) });
    assert.equal(requests(), 1);
    assert.deepEqual(commits, [1]);
  });

  it('does not trust an answer that came in nextLink pages: the window is split and read again', async () => {
    const rows = new Map<string, Row>(Array.from({ length: 6 }, (_, i) => [`a${i}`, { id: `a${i}`, lastUpdateTime: formatInstant(1_000n + BigInt(i) * 100n) }]));
    let requests = 0;
    const source: AlertsWindowSource = {
      async fetch(from, to) {
        const matching = [...rows.values()].filter((r) => parseInstant(r.lastUpdateTime)! >= from && (to === null || parseInstant(r.lastUpdateTime)! < to));
        // The first answer comes in two pages and, as a live $skip does when an alert moves, misses one.
        if (requests++ === 0) return { alerts: matching.filter((r) => r.id !== 'a3'), serverTime: 10_000n, pages: 2 };
        return { alerts: matching, serverTime: 10_000n };
      },
      isTooLarge: () => false,
    };
    const committed = new Set<string>();
    await readAlertWindows({ source, from: 0n, top: 100, localNow: () => 10_000n, commit: (alerts) => (alerts as Row[]).forEach((a) => committed.add(a.id)) });
    assert.deepEqual([...committed].sort(), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    assert.ok(requests > 1);
  });

  it('falls back to the local clock when the server sends no Date, and says so', async () => {
    let warned = false;
    const source: AlertsWindowSource = { fetch: async () => ({ alerts: [], serverTime: null }), isTooLarge: () => false };
    const result = await readAlertWindows({ source, from: 0n, top: 10, localNow: () => 777n, commit: () => {}, onServerClockMissing: () => (warned = true) });
    assert.equal(result.horizon, 777n);
    assert.ok(warned);
  });

  it('bounds the horizon by the earlier clock: a Date header ahead of the local clock, or behind it', async () => {
    for (const [server, local] of [[5_000n, 900n], [900n, 5_000n]] as const) {
      const seen: [Instant, Instant][] = [];
      const source: AlertsWindowSource = { fetch: async () => ({ alerts: [{ id: 'a', lastUpdateTime: formatInstant(100n) }], serverTime: server }), isTooLarge: () => false };
      const ends: Instant[] = [];
      const result = await readAlertWindows({ source, from: 0n, top: 10, localNow: () => local, commit: (_alerts, windowTo) => void ends.push(windowTo), onServerClock: (s, l) => seen.push([s, l]) });
      assert.equal(result.horizon, 900n);
      assert.deepEqual(ends, [900n]);
      assert.deepEqual(seen, [[server, local]], 'both clocks are reported once, for the skew');
    }
  });

  it('splits strictly inside the window', () => {
    assert.equal(splitPoint(0n, 100n, []), 50n);
    assert.equal(splitPoint(0n, 2n, []), 1n);
    const at = (t: bigint) => ({ lastUpdateTime: formatInstant(t) });
    assert.equal(splitPoint(0n, 100n, [at(0n), at(0n), at(0n)]), 50n, 'rows on the lower edge cannot split the window');
    assert.equal(splitPoint(0n, 100n, [at(10n), at(20n), at(90n)]), 20n);
  });
});
