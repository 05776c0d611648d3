// Alert timestamps carry 0 to 7 fraction digits ("…59.2Z", "…:11Z", "…48.7657932Z"). Comparing them as
// strings orders them wrongly, and JavaScript numbers cannot hold 100 ns ticks since 1970 exactly, so an
// instant is a bigint count of 100 ns ticks since the Unix epoch.

export type Instant = bigint;

export const TICKS_PER_MS = 10_000n;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses an ISO-8601 timestamp with an explicit zone; returns undefined if it is not one. */
export function parseInstant(text: unknown): Instant | undefined {
  if (typeof text !== 'string') return undefined;
  const match = TIMESTAMP.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    Number.isNaN(ms) ||
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return undefined;
  }
  let offsetMs = 0;
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMs = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  // Digits past the 7th (100 ns) are below the API's resolution and are dropped.
  const ticks = BigInt(fraction.padEnd(7, '0').slice(0, 7));
  return BigInt(ms - offsetMs) * TICKS_PER_MS + ticks;
}

export function instantFromMs(ms: number): Instant {
  return BigInt(Math.floor(ms)) * TICKS_PER_MS;
}

export function instantToMs(instant: Instant): number {
  return Number(instant / TICKS_PER_MS);
}

function splitInstant(instant: Instant): { base: string; fraction: string } {
  const ms = instant / TICKS_PER_MS;
  const rest = instant % TICKS_PER_MS;
  const iso = new Date(Number(ms)).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  return { base: iso.slice(0, 19), fraction: iso.slice(20, 23) + rest.toString().padStart(4, '0') };
}

/** Canonical form: always 7 fraction digits, so that text order equals time order (used in the store). */
export function formatInstant(instant: Instant): string {
  const { base, fraction } = splitInstant(instant);
  return `${base}.${fraction}Z`;
}

/** A moment of this machine's clock in the store's documented form (7 fraction digits), e.g. when a row was written. */
export function storedTimestamp(ms: number = Date.now()): string {
  return formatInstant(instantFromMs(ms));
}

/** Shortest exact form, for OData filter literals. */
export function formatODataInstant(instant: Instant): string {
  const { base, fraction } = splitInstant(instant);
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed ? `${base}.${trimmed}Z` : `${base}Z`;
}

/** Canonical text of a timestamp field, or null when the field is absent or not a timestamp. */
export function canonicalTimestamp(text: unknown): string | null {
  const instant = parseInstant(text);
  return instant === undefined ? null : formatInstant(instant);
}

export const maxInstant = (a: Instant, b: Instant): Instant => (a > b ? a : b);
export const minInstant = (a: Instant, b: Instant): Instant => (a < b ? a : b);
