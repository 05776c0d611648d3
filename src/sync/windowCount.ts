// How many windows to cut a stretch of estimated alerts into: the trade between windows that are too full
// (one that overflows costs its request and is cut again) and windows that are too empty (more of them).

/** A stretch whose count is known exactly is filled to this share of a page (an alert indexed late). */
const EXACT_FILL = 0.97;

/**
 * How many windows to cut `total` estimated alerts into: the fewest requests expected, counting one more for
 * each window that overflows (its estimate is off by about sqrt(estimate × spread), spread being what a sample
 * row stands for less one; none when the stretch's count is known and it is read to its end).
 */
export function windowCount(total: number, spread: number, exact: boolean, page: number): number {
  const least = Math.max(1, Math.ceil(total / page));
  let best = least;
  let bestCost = Infinity;
  for (let windows = least; windows <= least + 8; windows += 1) {
    const each = total / windows;
    const deviation = Math.sqrt(each * spread * (exact ? 1 - 1 / windows : 1));
    const room = (exact && windows === 1 ? EXACT_FILL * page : page) - each;
    // A window known to overflow costs its request and two more windows for what it held.
    const overflow = deviation === 0 ? (room < 0 ? 2 : 0) : upperTail(room / deviation);
    const cost = windows * (1 + overflow);
    if (cost < bestCost - 1e-9) {
      best = windows;
      bestCost = cost;
    }
  }
  return best;
}

/** P(Z > z) for a standard normal Z (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
function upperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}
