// `mde-alert-sync resync --since <time>`: the operator asks for a span to be read again. The cursor of every
// stream the settings sync (the alerts, and Graph's incidents where they are on) moves back (never forward)
// under the writer lease; records and their history stay, and the next pass re-reads the span, where
// unchanged records write nothing new. Who asked, and when, is kept in cursor_resets, a row per stream.
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { parsePointInTime } from '../config/pointInTime.js';
import type { Settings } from '../config/settings.js';
import { ConfigurationError } from '../errors.js';
import { formatInstant, storedTimestamp, type Instant } from '../instants.js';
import { cursorResets } from '../store/cursorResets.js';
import type { Logger } from '../logger.js';
import { GRAPH_INCIDENTS_PROFILE } from '../alertsApi/incidentsProfile.js';
import { alertsApiProfile, openStoreAsWriter } from './worker.js';

/** An ISO-8601 time with a zone, a UTC date (2026-11-01), or a duration back from now (7d, 12h). */
export function parseSince(text: string, nowMs = Date.now()): Instant {
  const instant = parsePointInTime(text, nowMs);
  if (instant !== undefined) return instant;
  throw new ConfigurationError(
    `--since: ${JSON.stringify(text)} is neither an ISO-8601 time with a zone (2026-11-01T08:00:00Z), a date (2026-11-01, UTC) nor a duration back from now (7d, 12h, 90m). Nothing was changed.`,
  );
}

/** The OS account that ran the command (a container's uid may have no name), and who ran sudo. */
function operator(): { osUser: string; sudoUser: string | null } {
  let osUser: string;
  try {
    osUser = userInfo().username;
  } catch {
    osUser = `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return { osUser, sudoUser: process.env.SUDO_USER?.trim() || null };
}

/** The streams a pass of these settings syncs, by their cursors' names. */
function syncedStreams(settings: Settings): string[] {
  return [alertsApiProfile(settings.source).streamName(settings), ...(settings.incidents ? [GRAPH_INCIDENTS_PROFILE.streamName(settings)] : [])];
}

/** Each stream's cursor and whether it can move back to `target`: a stream with no cursor yet, or one already before it, is left. */
function plannedMoves(cursors: (stream: string) => Instant | undefined, streams: string[], target: Instant) {
  const found = streams.map((stream) => ({ stream, current: cursors(stream) }));
  const moves = found.filter((entry): entry is { stream: string; current: Instant } => entry.current !== undefined && target < entry.current);
  return { found, moves };
}

/** Why nothing moves: no stream has a cursor, or every cursor is already at or before the time asked for. */
function nothingToMove(found: { stream: string; current: Instant | undefined }[], since: string, target: Instant): ConfigurationError {
  const placed = found.filter((entry) => entry.current !== undefined);
  if (placed.length === 0) return new ConfigurationError(`The stream ${found.map((entry) => entry.stream).join(' and ')} has no cursor yet: its first sync reads back to the look-back anyway. Nothing was changed.`);
  const first = placed[0]!;
  return new ConfigurationError(
    `--since ${since} would move the cursor of ${first.stream} forward (from ${formatInstant(first.current!)} to ${formatInstant(target)}); resync only moves it back. Nothing was changed.`,
  );
}

export async function resyncCommand(settings: Settings, logger: Logger, since: string, print: (line: string) => void): Promise<void> {
  const target = parseSince(since);
  // Opening the store would create it: there is nothing to move back in a database that does not exist.
  if (!existsSync(settings.databasePath)) throw new ConfigurationError(`There is no database at ${settings.databasePath} yet: its first sync reads back to the look-back anyway. Nothing was changed.`);
  const writer = openStoreAsWriter(settings, 'resync', logger, (error: Error) => logger.error({ reason: error.message }, 'lost the writer lease'));
  try {
    const { store } = writer;
    const { found, moves } = plannedMoves((stream) => store.cursors.get(stream), syncedStreams(settings), target);
    if (moves.length === 0) throw nothingToMove(found, since, target);
    const now = storedTimestamp();
    const { osUser, sudoUser } = operator();
    // A reporting tool holding the write lock is waited out (without blocking), as the worker's writes are.
    const onWait = () => logger.warn('the database is locked by another program: the cursor move is retried');
    await store.whenUnlocked(() => store.write(() => {
      for (const { stream, current } of moves) {
        store.cursors.moveBack(stream, target, null, now);
        cursorResets(store.db).record({
          tenant_id: settings.tenantId ?? null,
          stream,
          previous_position: formatInstant(current),
          new_position: formatInstant(target),
          requested_since: since,
          reset_at: now,
          os_user: osUser,
          sudo_user: sudoUser,
          host: hostname(),
        });
      }
    }), { onWait });
    for (const { stream, current } of moves) {
      logger.info({ stream, from: formatInstant(current), to: formatInstant(target), osUser, sudoUser }, 'cursor moved back by resync');
      print(`Moved the cursor of ${stream} back from ${formatInstant(current)} to ${formatInstant(target)}.`);
    }
    for (const { stream, current } of found.filter((entry) => !moves.some((move) => move.stream === entry.stream))) {
      print(`Left the cursor of ${stream} ${current === undefined ? '(none yet: its first sync reads back to the look-back)' : `at ${formatInstant(current)}, already at or before that time`}.`);
    }
    print("The next pass (sync, or the worker's next tick) reads the span again; stored records and their history are kept, and unchanged ones record nothing new.");
  } finally {
    writer.close();
  }
}
