// Each API has its own request limit (the Defender API: 100 calls a minute and 1,500 an hour; Graph: 150 a
// minute for security alerts, no hourly limit); staying under it on our side avoids 429s altogether.
import pThrottle from 'p-throttle';
import type { Settings } from '../config/settings.js';
import type { RecordStreamProfile } from './recordStreamProfile.js';

export interface CallQuota {
  perMinute: number;
  /** Undefined: no hourly limit. */
  perHour: number | undefined;
  /** Interval lengths, replaceable in tests. */
  minuteMs?: number;
  hourMs?: number;
}

export function withinCallQuota<Args extends unknown[], Result>(quota: CallQuota, call: (...args: Args) => Promise<Result>): (...args: Args) => Promise<Result> {
  // strict: a sliding window, so no span of one interval ever holds more than the limit.
  const perMinute = pThrottle({ limit: quota.perMinute, interval: quota.minuteMs ?? 60_000, strict: true });
  if (quota.perHour === undefined) return perMinute(call) as (...args: Args) => Promise<Result>;
  const perHour = pThrottle({ limit: quota.perHour, interval: quota.hourMs ?? 3_600_000, strict: true });
  return perHour(perMinute(call)) as (...args: Args) => Promise<Result>;
}

/** The quota in force: callsPerMinute / callsPerHour where set, else the source's documented one. */
export function callQuotaFor(profile: Pick<RecordStreamProfile, 'quota'>, settings: Pick<Settings, 'callsPerMinute' | 'callsPerHour'>): CallQuota & { setBy: string[] } {
  const setBy = (['callsPerMinute', 'callsPerHour'] as const).filter((key) => settings[key] !== undefined);
  return { perMinute: settings.callsPerMinute ?? profile.quota.perMinute, perHour: settings.callsPerHour ?? profile.quota.perHour, setBy };
}

/** Runs tasks within one quota: the clients of one API's streams (alerts, incidents) share its limit. */
export type QuotaGate = <T>(task: () => Promise<T>) => Promise<T>;

export function quotaGate(quota: CallQuota): QuotaGate {
  return withinCallQuota(quota, (task: () => Promise<unknown>) => task()) as QuotaGate;
}
