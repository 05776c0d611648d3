// A cursor later than this machine's clock allows cannot have been set by a pass under the clock rule: it came
// from a wrong clock (an older version trusted one Date header) or a hand edit, and every pass would read
// nothing until the clock caught up. At the start of a pass it is moved back to a position that re-reads.
import { formatDuration } from '../config/durations.js';
import type { Settings } from '../config/settings.js';
import { formatInstant, instantFromMs, minInstant, parseInstant, storedTimestamp, type Instant } from '../instants.js';
import type { AlertStore } from '../store/alertStore.js';
import { cursorAheadMs } from './clockRule.js';

export interface CursorRepair {
  found: Instant;
  movedTo: Instant;
  aheadMs: number;
  /** Where the new position comes from, in words. */
  basis: string;
}

type RepairSettings = Pick<Settings, 'settleLag' | 'clockSkewTolerance' | 'lookback'>;

/** Call inside the pass's opening transaction; returns what it did, if the cursor had to be moved. */
export function repairFutureCursor(store: AlertStore, stream: string, runId: number, settings: RepairSettings, nowMs = Date.now()): CursorRepair | undefined {
  const found = store.cursors.get(stream);
  if (found === undefined) return undefined;
  const aheadMs = cursorAheadMs(found, nowMs, settings);
  if (aheadMs === undefined) return undefined;
  const clockAllows = instantFromMs(nowMs - settings.settleLag);
  const recorded = store.runs.lastCursorNotAfter(stream, formatInstant(instantFromMs(nowMs - settings.settleLag + settings.clockSkewTolerance)));
  let movedTo: Instant;
  let basis: string;
  if (recorded) {
    // No later than what the clock allowed when that run ended: a run of an older version may have committed
    // windows past its own settle lag.
    movedTo = minInstant(parseInstant(recorded.cursor)!, instantFromMs(Date.parse(recorded.endedAt) - settings.settleLag));
    basis = 'the last cursor a pass recorded that is not in the future';
  } else {
    movedTo = instantFromMs(nowMs - settings.lookback);
    basis = `the look-back, ${formatDuration(settings.lookback)}`;
  }
  movedTo = minInstant(movedTo, clockAllows);
  store.cursors.moveBack(stream, movedTo, runId, storedTimestamp(nowMs));
  store.runs.addNote(runId, `cursor was ${formatInstant(found)}, ahead of this machine's clock; moved back to ${formatInstant(movedTo)} (${basis})`);
  store.runs.setCursorBefore(runId, formatInstant(movedTo));
  return { found, movedTo, aheadMs, basis };
}
