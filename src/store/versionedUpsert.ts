// The change history of any versioned record stream (alerts, incidents): the store converges on each record's
// newest version. A record seen again unchanged writes nothing, a newer version replaces the row and appends
// what changed, an older one is ignored, and what cannot be stored is kept with the reason. What differs
// between entities (how a record becomes rows, its tables) is the spec; the rules are written once, here.
import { canonicalTimestamp } from '../instants.js';
import { errorMessage } from '../errors.js';
import { ReceivedAlert } from '../receivedAlert.js';

/** What one window's records did to the store. */
export interface UpsertCounts {
  received: number;
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  rejected: number;
}

export type FieldChanges = Record<string, { old: unknown; new: unknown }>;
export type Rejection = { ok: false; reason: string; rawJson: string };
export type ParseResult<P> = { ok: true; value: P } | Rejection;

/** What the rules need of a stored version. */
export interface StoredVersion {
  last_update_time: string;
  content_hash: string;
  raw_json: string;
}

/** A parsed record: the version's update time and hash, the values the entity's statements take. */
export interface ParsedVersion {
  id: string;
  lastUpdateTime: string;
  contentHash: string;
}

export interface VersionedRecordSpec<P extends ParsedVersion, S extends StoredVersion> {
  /** The record's update field, for records that are not ReceivedAlerts (already parsed). */
  updateField: string;
  parse(record: unknown): ParseResult<P>;
  stored(parsed: P): S | undefined;
  insert(parsed: P, now: string): void;
  update(parsed: P, stored: S, now: string): void;
  /** What changed from the stored version (empty: the same content, other key order or spacing). */
  changes(stored: S, parsed: P): FieldChanges;
  history(parsed: P, change: 'created' | 'updated', previous: string | null, fields: string, runId: number | null, now: string): void;
  reject(reason: string, rawJson: string, runId: number | null, now: string): void;
}

export const emptyCounts = (): UpsertCounts => ({ received: 0, inserted: 0, updated: 0, unchanged: 0, stale: 0, rejected: 0 });

/** The record's text for a rejection, whatever it holds. */
export function rawTextOf(record: unknown): string {
  if (record instanceof ReceivedAlert) return record.text();
  try {
    return JSON.stringify(record) ?? 'null';
  } catch {
    return 'null';
  }
}

/**
 * Runs the part of writing one record that only reads the record itself (no SQL): whatever it throws is about
 * that record, so the record is rejected instead of failing its window and every pass after it.
 */
export function aboutTheRecord<T>(record: unknown, work: () => T): T | Rejection {
  try {
    return work();
  } catch (error) {
    return { ok: false, reason: `cannot be stored: ${errorMessage(error)}`, rawJson: rawTextOf(record) };
  }
}

export const isRejection = (value: unknown): value is Rejection => (value as { ok?: unknown } | null)?.ok === false;

/** Writes one window's records by the spec's statements; must run inside a transaction. */
export function upsertVersions<P extends ParsedVersion, S extends StoredVersion>(spec: VersionedRecordSpec<P, S>, records: unknown[], runId: number | null, now: string): UpsertCounts {
  const counts = emptyCounts();
  // Ascending time order, so that history rows follow the records' own order of change. Each record becomes
  // rows just before it is written, so that one record's rows are alive at a time, not a whole page's.
  // What cannot be stored sorts first, in the order received.
  const ordered = records.map((record) => {
    // A ReceivedAlert names its update field lastUpdateTime whatever the stream.
    const fields = record as Record<string, unknown> | null;
    const updated = record instanceof ReceivedAlert ? record.lastUpdateTime : fields?.[spec.updateField];
    return { record, at: (typeof fields?.id === 'string' && canonicalTimestamp(updated)) || '' };
  });
  ordered.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  for (const { record } of ordered) {
    counts.received += 1;
    const result = aboutTheRecord(record, () => spec.parse(record));
    if (!result.ok) {
      spec.reject(result.reason, result.rawJson, runId, now);
      counts.rejected += 1;
      continue;
    }
    const parsed = result.value;
    const stored = spec.stored(parsed);
    if (!stored) {
      spec.insert(parsed, now);
      spec.history(parsed, 'created', null, '{}', runId, now);
      counts.inserted += 1;
      continue;
    }
    if (parsed.lastUpdateTime < stored.last_update_time) {
      counts.stale += 1;
      continue;
    }
    if (stored.content_hash === parsed.contentHash) {
      counts.unchanged += 1;
      continue;
    }
    const changes = aboutTheRecord(record, () => {
      const fields = spec.changes(stored, parsed);
      return Object.keys(fields).length === 0 ? undefined : JSON.stringify(fields);
    });
    if (isRejection(changes)) {
      spec.reject(changes.reason, changes.rawJson, runId, now);
      counts.rejected += 1;
      continue;
    }
    if (changes === undefined) {
      counts.unchanged += 1; // same content, other key order or spacing
      continue;
    }
    spec.update(parsed, stored, now);
    spec.history(parsed, 'updated', stored.last_update_time, changes, runId, now);
    counts.updated += 1;
  }
  return counts;
}
