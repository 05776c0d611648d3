// Where to end the next window when the server ignores $orderby. A full answer cannot be committed, but its
// update times are a sample of its window (the server's own order), and Graph's @odata.count says how many
// alerts that window holds. The next windows are cut at the sample's quantiles to hold about a page each,
// instead of halving blindly. This is sizing only: what is committed is still decided by what was read, and
// a wrong count or sample costs requests (a window that overflows is split again), never alerts.
import { parseInstant, type Instant } from '../instants.js';
import { windowCount } from './windowCount.js';

/** Without a count, the first window takes this share of the sample, to learn how many alerts a sample row stands for. */
const PROBE_SHARE = 10;
/** Pseudo-rows given to the guess a window without a count starts from, against what reading shows. */
const PRIOR_ROWS = 10;
/** Alerts estimated and found before a sample is judged by them. */
const BIAS_EVIDENCE = 200;

export type PlannedEnd = { kind: 'window'; end: Instant } | { kind: 'instant'; at: Instant };

/** What one full answer showed about its window [from, to). */
interface Sample {
  from: Instant;
  to: Instant;
  /** Update times of its rows not yet read past, ascending. */
  points: Instant[];
  /** The server's count for the window, when it gave one that is not below what it returned. */
  total: number | undefined;
  /** Alerts read whole in the window so far, and how many of the sample's rows lay among them. */
  read: number;
  readPoints: number;
  /** Without a count: the alerts a row stands for, as guessed from the enclosing sample (none for the first). */
  prior: number | undefined;
  /** Alerts the sample estimated for what was read since, and the alerts found there. */
  expected: number;
  found: number;
}

/** One stretch of the walk: a sample's rows between `from` and `to`, each standing for `weight` alerts. */
interface Stretch {
  sample: Sample;
  to: Instant;
  points: Instant[];
  /** Alerts each row stands for; undefined: unknown yet. */
  weight: number | undefined;
  /** Alerts estimated in the stretch (rows × weight, or what a count leaves with no rows to place it). */
  estimate: number;
  /** Whether the estimate of the whole stretch is a count less what was read (no sampling error). */
  exact: boolean;
}

const timeOf = (alert: unknown): Instant | undefined => parseInstant((alert as { lastUpdateTime?: unknown } | null)?.lastUpdateTime);
const ascending = (a: Instant, b: Instant) => (a < b ? -1 : a > b ? 1 : 0);

export class WindowPlan {
  /** Nested samples, outermost first: each later one lies inside the one before and starts where reading is. */
  private readonly samples: Sample[] = [];
  private countsTrusted = true;
  /** The full answers proved not to be samples: the plan has nothing to say. */
  private unsampled = false;

  /** A full answer for [from, to): its rows sample that window, and `count` (Graph's @odata.count) sizes it. */
  full(from: Instant, to: Instant, alerts: readonly unknown[], count: number | undefined): void {
    if (this.unsampled) return;
    const points = alerts.map(timeOf).filter((at): at is Instant => at !== undefined && at >= from && at < to).sort(ascending);
    if (points.length === 0) return;
    const enclosing = this.stretches(from).filter((stretch) => stretch.weight !== undefined);
    const guessed = enclosing.reduce((sum, stretch) => sum + stretch.points.filter((at) => at < to).length * stretch.weight!, 0);
    const plausible = this.countsTrusted && count !== undefined && Number.isFinite(count) && count >= points.length;
    while (this.samples.length > 0 && this.samples.at(-1)!.to <= to && this.samples.at(-1)!.from >= from) this.samples.pop();
    this.samples.push({ from, to, points, total: plausible ? count : undefined, read: 0, readPoints: 0, expected: 0, found: 0, prior: enclosing.length > 0 ? Math.max(1.1, guessed / points.length) : undefined });
  }

  /** [from, to) was read whole: these are its alerts. */
  read(from: Instant, to: Instant, alerts: readonly unknown[]): void {
    const times = alerts.map(timeOf).filter((at): at is Instant => at !== undefined);
    this.checkSamples(from, to, times);
    for (const sample of this.samples) {
      const before = sample.points.length;
      sample.points = sample.points.filter((at) => at >= to);
      sample.readPoints += before - sample.points.length;
      sample.read += times.filter((at) => at >= sample.from && at < sample.to && at >= from && at < to).length;
    }
    while (this.samples.length > 0 && this.samples.at(-1)!.to <= to) this.samples.pop();
  }

  /**
   * A sample that misjudged what was read by far (a server whose order is by creation, say, returns the oldest
   * or newest alerts, not a sample) is no guide: from then on windows are sized from the density read.
   */
  private checkSamples(from: Instant, to: Instant, times: Instant[]): void {
    let stretchFrom = from;
    for (const stretch of this.stretches(from)) {
      if (stretchFrom >= to) break;
      const end = stretch.to < to ? stretch.to : to;
      if (stretch.weight !== undefined) {
        stretch.sample.expected += stretch.points.filter((at) => at < end).length * stretch.weight;
        stretch.sample.found += times.filter((at) => at >= stretchFrom && at < end).length;
      }
      const { expected, found } = stretch.sample;
      if (expected + found >= BIAS_EVIDENCE && (found > 2 * expected || expected > 2 * found)) {
        this.unsampled = true;
        this.samples.length = 0;
        return;
      }
      stretchFrom = end;
    }
  }

  /** Whether the counts say nothing lies from `start` on: every stretch counted, and all it counted read. */
  countsNothingFrom(start: Instant): boolean {
    const stretches = this.stretches(start);
    return stretches.length > 0 && stretches.every((stretch) => stretch.sample.total !== undefined && stretch.estimate === 0);
  }

  /** A count proved wrong (it disagreed with what was read): size from the samples alone from now on. */
  distrustCounts(): void {
    this.countsTrusted = false;
    for (const sample of this.samples) sample.total = undefined;
  }

  /**
   * The end of the next window from `start` (at most `limit`), or the instant to page through, or undefined
   * when no sample says anything about what lies there.
   */
  next(start: Instant, limit: Instant, page: number): PlannedEnd | undefined {
    const stretches = this.stretches(start);
    if (stretches.length === 0) return undefined;
    const first = stretches[0]!;
    if (first.weight === undefined) {
      // No count and nothing read yet: a small first window tells what a row stands for.
      const probe = first.points[Math.ceil(first.points.length / PROBE_SHARE)];
      return { kind: 'window', end: probe !== undefined && probe > start ? probe : first.to };
    }
    const total = stretches.reduce((sum, stretch) => sum + stretch.estimate, 0);
    const rows = stretches.reduce((sum, stretch) => sum + stretch.points.length, 0);
    const windows = windowCount(total, Math.max(0, total / Math.max(1, rows) - 1), stretches.every((stretch) => stretch.exact), page);
    if (windows === 1) return { kind: 'window', end: limit };
    return this.walk(start, stretches, page, total / windows, limit);
  }

  private walk(start: Instant, stretches: Stretch[], page: number, target: number, limit: Instant): PlannedEnd | undefined {
    let estimate = 0;
    let stretchFrom = start;
    for (const stretch of stretches) {
      const weight = stretch.weight ?? 1;
      const rows = stretch.points;
      for (let i = 0; i < rows.length; ) {
        const at = rows[i]!;
        let j = i;
        while (j < rows.length && rows[j] === at) j += 1;
        const group = (j - i) * weight;
        // More than a page at one instant: read what lies before it, then page through it.
        // Only rows that share it say an instant holds that many; one row of a coarse sample stands for a stretch.
        if (group >= page && j - i > 1) return at === start ? { kind: 'instant', at } : { kind: 'window', end: at };
        const over = estimate + group > page;
        const beyond = estimate + group > target && estimate + group - target > target - estimate;
        if ((over || beyond) && at > start) return { kind: 'window', end: at };
        estimate += group;
        i = j;
      }
      // A count left with no rows to place it: nothing says where those alerts are; stop before them.
      if (stretch.estimate > rows.length * weight + page / 2) return stretchFrom > start ? { kind: 'window', end: stretchFrom } : undefined;
      stretchFrom = stretch.to;
    }
    return { kind: 'window', end: limit };
  }

  /** The samples' rows from `start` on, innermost sample first, each over the stretch no inner one covers. */
  private stretches(start: Instant): Stretch[] {
    const stretches: Stretch[] = [];
    let from = start;
    let inner = 0;
    let innerExact = true;
    for (let k = this.samples.length - 1; k >= 0; k -= 1) {
      const sample = this.samples[k]!;
      if (sample.to <= from) continue;
      const points = sample.points.filter((at) => at >= from && at < sample.to);
      let weight: number | undefined;
      let estimate: number;
      let exact = false;
      if (sample.total !== undefined) {
        // What the count leaves, less what the inner samples estimate for their part.
        const left = Math.max(0, sample.total - sample.read - inner);
        weight = points.length > 0 ? left / points.length : 1;
        estimate = left;
        exact = innerExact;
      } else {
        const readWeight = sample.readPoints > 0 ? sample.read / sample.readPoints : undefined;
        weight = sample.prior !== undefined ? (sample.read + sample.prior * PRIOR_ROWS) / (sample.readPoints + PRIOR_ROWS) : readWeight;
        estimate = weight === undefined ? 0 : points.length * weight;
      }
      stretches.push({ sample, to: sample.to, points, weight, estimate, exact });
      inner += estimate;
      innerExact &&= exact;
      from = sample.to;
    }
    return stretches;
  }
}
