import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withinCallQuota } from '../src/defender/callQuota.js';

describe('client-side call quota', () => {
  it('never lets more calls than the limits into any sliding window of either interval', async () => {
    const starts: number[] = [];
    const call = withinCallQuota({ perMinute: 3, perHour: 5, minuteMs: 150, hourMs: 600 }, async (n: number) => {
      starts.push(performance.now());
      return n;
    });
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => call(n)));
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7], 'every call runs, in order');
    const inWindow = (at: number, span: number) => starts.filter((t) => t >= at && t < at + span - 2).length;
    for (const at of starts) {
      assert.ok(inWindow(at, 150) <= 3, 'at most 3 calls in any 150 ms ("minute")');
      assert.ok(inWindow(at, 600) <= 5, 'at most 5 calls in any 600 ms ("hour")');
    }
    assert.ok(starts[5]! - starts[0]! >= 590, 'the 6th call waited for the "hour" window to slide');
  });
});
