import { existsSync } from 'node:fs';
import { summarizeTokenCache, type TokenCacheSummary } from '../auth/tokenCacheSummary.js';
import type { Settings } from '../config/settings.js';
import { openDatabase } from '../store/database.js';
import { storeStatus, type StoreStatus } from '../store/statusReport.js';
import { cursorAheadMs, describeSkew, describeSpan, toleranceText, type ClockSettings } from '../sync/clockRule.js';
import { parseInstant } from '../instants.js';

export interface StatusReport {
  database: string;
  store: StoreStatus | null;
  token: TokenCacheSummary;
  /** The clock rule's settings: what counts as a cursor ahead of the clock, or clocks that disagree. */
  clock: ClockSettings;
}

export function collectStatus(settings: Settings): StatusReport {
  const token = summarizeTokenCache(settings.tokenCachePath, settings.tokenCacheKey);
  const clock = { settleLag: settings.settleLag, clockSkewTolerance: settings.clockSkewTolerance };
  if (!existsSync(settings.databasePath)) return { database: settings.databasePath, store: null, token, clock };
  const db = openDatabase(settings.databasePath, { readonly: true });
  try {
    return { database: settings.databasePath, store: storeStatus(db), token, clock };
  } finally {
    db.close();
  }
}

function age(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const minutes = Math.round((nowMs - Date.parse(iso)) / 60_000);
  return minutes < 120 ? `${minutes} min ago` : minutes < 2880 ? `${Math.round(minutes / 60)} h ago` : `${Math.round(minutes / 1440)} days ago`;
}

export function formatStatus(report: StatusReport, nowMs = Date.now()): string {
  const lines: string[] = [`Database: ${report.database}`];
  const { store, token } = report;
  if (!store) {
    lines.push('  not created yet: run "mde-alert-sync sync"');
  } else {
    lines.push(`  schema version ${store.schemaVersion}; ${store.alerts} alerts, ${store.changes} recorded changes${store.rejected ? `, ${store.rejected} rejected answers` : ''}`);
    if (store.byStatus.length) lines.push(`  by status: ${store.byStatus.map((s) => `${s.status ?? 'none'} ${s.alerts}`).join(', ')}`);
    if (store.openBySeverity.length) lines.push(`  open by severity: ${store.openBySeverity.map((s) => `${s.severity ?? 'none'} ${s.open_alerts}`).join(', ')}`);
    for (const cursor of store.cursors) {
      const ahead = cursorAheadMs(parseInstant(cursor.position) ?? 0n, nowMs, report.clock);
      lines.push(
        `  cursor ${cursor.stream}: ${cursor.position} (moved ${age(cursor.updated_at, nowMs)})` +
          (ahead === undefined ? '' : `\n      AHEAD of this machine's clock by ${describeSpan(ahead)}: no alert is read until the next pass moves it back`),
      );
    }
    for (const reset of store.resets) {
      lines.push(
        `  ${reset.reset_at}: cursor moved back by resync --since ${reset.requested_since} by ${reset.os_user}${reset.sudo_user ? ` (sudo by ${reset.sudo_user})` : ''} on ${reset.host}: ${reset.stream} from ${reset.previous_position} to ${reset.new_position}`,
      );
    }
    lines.push('Last sync runs:');
    if (store.runs.length === 0) lines.push('  none yet');
    for (const run of store.runs) {
      const duration = run.finished_at ? `${((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000).toFixed(1)} s` : '';
      lines.push(
        `  #${run.id} ${run.started_at} ${run.outcome} ${duration}: ${run.alerts_inserted} new, ${run.alerts_updated} updated, ${run.requests} requests` +
          (run.retries ? `, ${run.retries} retries` : '') +
          (run.signed_in_user ? `, as ${run.signed_in_user}` : '') +
          (run.clock_skew_ms != null && Math.abs(run.clock_skew_ms) > report.clock.clockSkewTolerance
            ? `\n      the API's clock was ${describeSkew(run.clock_skew_ms)} this machine's (more than clockSkewTolerance ${toleranceText(report.clock)}); the cursor followed the earlier clock`
            : '') +
          (run.note ? `\n      note: ${run.note}` : '') +
          (run.error ? `\n      error: ${run.error}` : ''),
      );
    }
  }
  lines.push(`Sign-in (${token.file}):`);
  if (token.problem) lines.push(`  ${token.problem}`);
  else if (!token.account) lines.push('  nobody is signed in: run "mde-alert-sync login"');
  else {
    lines.push(`  account ${token.account}; refresh token ${token.hasRefreshToken ? 'held' : 'missing: run "mde-alert-sync login"'}`);
    if (token.accessTokenExpiresAt) {
      const expired = Date.parse(token.accessTokenExpiresAt) <= nowMs;
      lines.push(`  access token ${expired ? 'expired' : 'expires'} ${token.accessTokenExpiresAt}${expired ? ' (renewed silently at the next sync)' : ''}`);
    }
  }
  return lines.join('\n');
}
