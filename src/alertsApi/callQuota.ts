// The API allows 100 calls a minute and 1,500 an hour; staying under both on our side avoids 429s altogether.
import pThrottle from 'p-throttle';

export interface CallQuota {
  perMinute: number;
  perHour: number;
  /** Interval lengths, replaceable in tests. */
  minuteMs?: number;
  hourMs?: number;
}

export function withinCallQuota<Args extends unknown[], Result>(quota: CallQuota, call: (...args: Args) => Promise<Result>): (...args: Args) => Promise<Result> {
  // strict: a sliding window, so no span of one interval ever holds more than the limit.
  const perMinute = pThrottle({ limit: quota.perMinute, interval: quota.minuteMs ?? 60_000, strict: true });
  const perHour = pThrottle({ limit: quota.perHour, interval: quota.hourMs ?? 3_600_000, strict: true });
  return perHour(perMinute(call)) as (...args: Args) => Promise<Result>;
}
