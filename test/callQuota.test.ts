import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callQuotaFor, withinCallQuota } from '../src/alertsApi/callQuota.js';
import { DEFENDER_PROFILE } from '../src/alertsApi/defenderProfile.js';
import { GRAPH_PROFILE } from '../src/alertsApi/graphProfile.js';

describe('client-side call quota', () => {
  it('never lets more calls than the limits into any sliding window of either interval', async () => {
    const starts: number[] = [];
    const minuteMs = 400;
    const hourMs = 1600;
    const call = withinCallQuota({ perMinute: 3, perHour: 5, minuteMs, hourMs }, async (n: number) => {
      starts.push(performance.now());
      return n;
    });
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => call(n)));
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7], 'every call runs, in order');
    // Timers can fire late on a loaded machine, which only ever brings calls closer to the one before by
    // that lateness: a tolerance of a few per cent of the interval keeps the check about the limiter.
    const tolerance = 60;
    for (let i = 0; i + 3 < starts.length; i += 1) assert.ok(starts[i + 3]! - starts[i]! >= minuteMs - tolerance, `calls ${i} and ${i + 3} are a "minute" apart`);
    for (let i = 0; i + 5 < starts.length; i += 1) assert.ok(starts[i + 5]! - starts[i]! >= hourMs - tolerance, `calls ${i} and ${i + 5} are an "hour" apart`);
  });

  it("defaults to each source's documented limit, and callsPerMinute / callsPerHour override it", () => {
    assert.deepEqual(callQuotaFor(DEFENDER_PROFILE, {}), { perMinute: 100, perHour: 1500, setBy: [] });
    assert.deepEqual(callQuotaFor(GRAPH_PROFILE, {}), { perMinute: 150, perHour: undefined, setBy: [] }, 'Graph: 150 a minute, no hourly limit');
    assert.deepEqual(callQuotaFor(GRAPH_PROFILE, { callsPerMinute: 60 }), { perMinute: 60, perHour: undefined, setBy: ['callsPerMinute'] });
    assert.deepEqual(callQuotaFor(DEFENDER_PROFILE, { callsPerHour: 600 }), { perMinute: 100, perHour: 600, setBy: ['callsPerHour'] });
  });
});
