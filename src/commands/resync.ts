// `mde-alert-sync resync --since <time>`: the operator asks for a span to be read again. The stream's cursor
// moves back (never forward) under the writer lease; alerts and their history stay, and the next pass
// re-reads the span, where unchanged alerts record nothing new. Who asked, and when, is kept in cursor_resets.
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { parsePointInTime } from '../config/pointInTime.js';
import type { Settings } from '../config/settings.js';
import { ConfigurationError } from '../errors.js';
import { formatInstant, storedTimestamp, type Instant } from '../instants.js';
import { cursorResets } from '../store/cursorResets.js';
import type { Logger } from '../logger.js';
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

export async function resyncCommand(settings: Settings, logger: Logger, since: string, print: (line: string) => void): Promise<void> {
  const target = parseSince(since);
  const stream = alertsApiProfile(settings.source).streamName(settings);
  // Opening the store would create it: there is nothing to move back in a database that does not exist.
  if (!existsSync(settings.databasePath)) throw new ConfigurationError(`There is no database at ${settings.databasePath} yet: its first sync reads back to the look-back anyway. Nothing was changed.`);
  const writer = openStoreAsWriter(settings, 'resync', logger, (error: Error) => logger.error({ reason: error.message }, 'lost the writer lease'));
  try {
    const { store } = writer;
    const current = store.cursors.get(stream);
    if (current === undefined) {
      throw new ConfigurationError(`The stream ${stream} has no cursor yet: its first sync reads back to the look-back anyway. Nothing was changed.`);
    }
    if (target >= current) {
      throw new ConfigurationError(
        `--since ${since} would move the cursor of ${stream} forward (from ${formatInstant(current)} to ${formatInstant(target)}); resync only moves it back. Nothing was changed.`,
      );
    }
    const now = storedTimestamp();
    const { osUser, sudoUser } = operator();
    // A reporting tool holding the write lock is waited out (without blocking), as the worker's writes are.
    const onWait = () => logger.warn('the database is locked by another program: the cursor move is retried');
    await store.whenUnlocked(() => store.write(() => {
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
    }), { onWait });
    logger.info({ stream, from: formatInstant(current), to: formatInstant(target), osUser, sudoUser }, 'cursor moved back by resync');
    print(
      `Moved the cursor of ${stream} back from ${formatInstant(current)} to ${formatInstant(target)}. ` +
        'The next pass (sync, or the worker\'s next tick) reads the span again; stored alerts and their history are kept, and unchanged alerts record nothing new.',
    );
  } finally {
    writer.close();
  }
}
