// The arithmetic of a pass's progress (pure logic): the share of its span read, the ETA, and the bar's text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barText } from '../src/commands/progressBar.js';
import { parseInstant, type Instant } from '../src/instants.js';
import { PassProgress, progressFields } from '../src/sync/passProgress.js';

const at = (text: string): Instant => parseInstant(text)!;
const FROM = at('2026-01-01T00:00:00Z');
const HORIZON = at('2026-01-11T00:00:00Z'); // a span of ten days
const day = (n: number) => at(`2026-01-${String(1 + n).padStart(2, '0')}T00:00:00Z`);

function passAt(clock: { ms: number }, counts = { windows: 0, requests: 0 }, storedCursor?: Instant) {
  return new PassProgress(7, FROM, 0, () => counts, storedCursor, () => clock.ms);
}

/** Commits a window ending at `through` at the clock's time. */
function commit(progress: PassProgress, through: Instant, alerts = 0) {
  const planned = progress.plan(through, HORIZON);
  progress.windowCommitted(planned, alerts);
  return planned;
}

describe('pass progress', () => {
  it('before any window: nothing covered, no ETA, the span known only from its start', () => {
    const clock = { ms: 5_000 };
    const snapshot = passAt(clock, { windows: 2, requests: 3 }).snapshot();
    assert.deepEqual(
      { covered: snapshot.covered, etaMs: snapshot.etaMs, spanTo: snapshot.spanTo, readThrough: snapshot.readThrough, windows: snapshot.windows, requests: snapshot.requests, elapsedMs: snapshot.elapsedMs },
      { covered: 0, etaMs: null, spanTo: null, readThrough: null, windows: 2, requests: 3, elapsedMs: 5_000 },
    );
  });

  it('the share of the span read, and after one window an ETA at the pace since the start', () => {
    const clock = { ms: 30_000 };
    const progress = passAt(clock);
    const planned = commit(progress, at('2026-01-03T12:00:00Z'), 120); // a quarter of the span in 30 s
    assert.equal(planned.span.expectedEndAt, '1970-01-01T00:02:00.0000000Z', 'three quarters left at 30 s a quarter');
    clock.ms = 40_000;
    const snapshot = progress.snapshot();
    assert.equal(snapshot.covered, 0.25);
    assert.equal(snapshot.etaMs, 80_000, 'counted from now');
    assert.equal(snapshot.alerts, 120);
    assert.equal(snapshot.lastWindowAtMs, 30_000);
    const fields = progressFields(snapshot, 40_000);
    assert.equal(fields.percent, 25);
    assert.equal(fields.etaSeconds, 80);
    assert.equal(fields.sinceLastWindowSeconds, 10);
    assert.equal(fields.readThrough, '2026-01-03T12:00:00.0000000Z');
  });

  it('the ETA follows the pace of the last windows, not a first stretch read at once', () => {
    const clock = { ms: 1_000 };
    const progress = passAt(clock);
    commit(progress, day(5), 0); // half the span, empty, in one request
    for (let n = 6; n <= 7; n += 1) {
      clock.ms += 60_000; // then a day a minute
      commit(progress, day(n), 500);
    }
    assert.equal(progress.snapshot().etaMs, 3 * 60_000, 'three days left at a day a minute');
  });

  it('a window ending past the horizon (read up to the later clock) counts as the whole span, never more', () => {
    const clock = { ms: 1_000 };
    const progress = passAt(clock);
    const planned = commit(progress, at('2026-01-12T00:00:00Z'));
    assert.deepEqual(planned.span, {
      spanFrom: '2026-01-01T00:00:00.0000000Z',
      spanTo: '2026-01-11T00:00:00.0000000Z',
      readThrough: '2026-01-11T00:00:00.0000000Z',
      expectedEndAt: '1970-01-01T00:00:01.0000000Z',
    });
    assert.equal(progress.snapshot().covered, 1);
    assert.equal(progress.snapshot().etaMs, 0);
  });

  it('never goes back: a later window ending earlier keeps the furthest point', () => {
    const clock = { ms: 1_000 };
    const progress = passAt(clock);
    commit(progress, day(5), 10);
    commit(progress, day(1), 10);
    assert.equal(progress.snapshot().covered, 0.5);
    assert.equal(progress.snapshot().alerts, 20);
  });

  it('windows read again before the stored cursor (the overlap) are committed, but are no advance', () => {
    const clock = { ms: 1_000 };
    const progress = passAt(clock, undefined, day(2));
    commit(progress, day(1), 3);
    commit(progress, day(2), 3);
    assert.equal(progress.snapshot().lastWindowAtMs, 1_000);
    assert.equal(progress.snapshot().lastAdvanceAtMs, null, 'nothing read past the cursor yet');
    clock.ms = 2_000;
    commit(progress, day(3), 0);
    assert.equal(progress.snapshot().lastAdvanceAtMs, 2_000);
    clock.ms = 3_000;
    commit(progress, day(3), 0);
    assert.equal(progress.snapshot().lastAdvanceAtMs, 2_000, 'a window that ends where the last one did is no advance');
  });

  it('the bar shows the share, the date read to, alerts and the ETA first', () => {
    const clock = { ms: 60_000 };
    const progress = passAt(clock, { windows: 4, requests: 9 });
    commit(progress, day(5), 1234);
    assert.equal(barText(progress.snapshot()), 'syncing [##########----------]  50% read to 2026-01-06, 1234 alerts, ETA 60 s, 4 windows, 9 requests');
  });
});
