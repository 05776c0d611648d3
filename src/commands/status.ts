import { existsSync } from 'node:fs';
import path from 'node:path';
import { summarizeTokenCache, type TokenCacheSummary } from '../auth/tokenCacheSummary.js';
import type { Settings } from '../config/settings.js';
import { StoreError } from '../errors.js';
import { openDatabase, storeError } from '../store/database.js';
import { storeStatus, type StoreStatus } from '../store/statusReport.js';
import { callQuotaFor, type CallQuota } from '../alertsApi/callQuota.js';
import { retirementSummary, switchToGraphSteps } from '../alertsApi/retirement.js';
import { alertsApiProfile } from './worker.js';

/** The API read, why, its call quota in force, and its end if Microsoft has announced one. */
export interface SourceStatus {
  source: Settings['source'];
  api: string;
  explicit: boolean;
  reason: string;
  quota: CallQuota & { setBy: string[]; what: string };
  retirement?: { date: string; notice: string; summary: string; switchSteps: [string, string] };
}
import { cursorAheadMs, describeSkew, describeSpan, toleranceText, type ClockSettings } from '../sync/clockRule.js';
import { parseInstant } from '../instants.js';
import { coveredShare, roughDuration } from '../sync/passProgress.js';
import type { SyncRunRecord } from '../store/syncRuns.js';

export interface StatusReport {
  database: string;
  source: SourceStatus;
  store: StoreStatus | null;
  token: TokenCacheSummary;
  /** The clock rule's settings: what counts as a cursor ahead of the clock, or clocks that disagree. */
  clock: ClockSettings;
}

function sourceStatus(settings: Settings): SourceStatus {
  const profile = alertsApiProfile(settings.source);
  const { retirement } = profile;
  return {
    source: settings.source,
    api: profile.apiName,
    explicit: settings.sourceChoice.explicit,
    reason: settings.sourceChoice.reason,
    quota: { ...callQuotaFor(profile, settings), what: profile.quota.what },
    ...(retirement ? { retirement: { date: retirement.date, notice: retirement.notice, summary: retirementSummary(retirement), switchSteps: switchToGraphSteps(settings.authFlow === 'clientCredentials') } } : {}),
  };
}

export function collectStatus(settings: Settings): StatusReport {
  const token = summarizeTokenCache(settings.tokenCachePath, settings.tokenCacheKey);
  const source = sourceStatus(settings);
  const clock = { settleLag: settings.settleLag, clockSkewTolerance: settings.clockSkewTolerance };
  if (!existsSync(settings.databasePath)) return { database: settings.databasePath, source, store: null, token, clock };
  const db = openDatabase(settings.databasePath, { readonly: true });
  try {
    return { database: settings.databasePath, source, store: storeStatus(db), token, clock };
  } catch (error) {
    throw readError(error, settings.databasePath);
  } finally {
    db.close();
  }
}

function formatSource({ source, api, explicit, reason, quota, retirement }: SourceStatus): string[] {
  const limits = `at most ${quota.perMinute} requests a minute${quota.perHour === undefined ? '' : ` and ${quota.perHour} an hour`}`;
  const lines = [
    `Source: ${source} (${api}): ${explicit ? reason : `not set: ${reason}`}`,
    `  ${limits} (${quota.setBy.length ? `set by ${quota.setBy.join(', ')}` : quota.what})${quota.perHour === undefined ? ', no hourly limit' : ''}`,
  ];
  if (retirement) lines.push(`  retiring: ${retirement.summary}. Switch to Microsoft Graph before then:`, ...retirement.switchSteps.map((step, i) => `    ${i + 1}. ${step}`));
  return lines;
}

/** SQLite reads a file lazily: a damaged file, or a WAL index it may not create, shows at the first query. */
function readError(error: unknown, file: string): StoreError {
  // A stopped worker leaves the file in rollback mode (walPolicy.ts) unless Litestream checkpoints: then, with
  // no process holding the database open, its -shm is gone and a reader must create it beside the file.
  if ((error as { code?: string }).code === 'SQLITE_READONLY_DIRECTORY') {
    return new StoreError(
      `Database ${file}: this user may read it but not create ${file}-shm in ${path.dirname(file)}, which SQLite needs to read a WAL database that no process has open (walCheckpoints: external leaves it in WAL mode for Litestream). ` +
        "Run status while the worker or Litestream runs, as the worker's user, or with write access to that directory.",
      { cause: error },
    );
  }
  return storeError(error, file);
}

function age(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const minutes = Math.round((nowMs - Date.parse(iso)) / 60_000);
  return minutes < 120 ? `${minutes} min ago` : minutes < 2880 ? `${Math.round(minutes / 60)} h ago` : `${Math.round(minutes / 1440)} days ago`;
}

/**
 * A pass still running (or one whose process died before the next pass marked it): how far it has read,
 * from what it wrote with its last window.
 */
function runningRun(run: SyncRunRecord, nowMs: number): string {
  const head = `  #${run.id} ${run.started_at} running: ${run.windows} windows, ${run.alerts_received} alerts so far, ${run.requests} requests`;
  const [from, to, through] = [run.span_from, run.span_to, run.read_through].map((text) => parseInstant(text));
  if (from === undefined || to === undefined || through === undefined || !run.last_window_at) return `${head}; no window committed yet`;
  const share = coveredShare(from, through, to);
  // The pass's own estimate, written with its last window (at the pace of its last windows).
  const eta = run.expected_end_at && share < 1 ? `, ETA ${roughDuration(Math.max(0, Date.parse(run.expected_end_at) - nowMs))}` : '';
  const since = roughDuration(Math.max(0, nowMs - Date.parse(run.last_window_at)));
  return `${head}; read through ${run.read_through} of ${run.span_from} to ${run.span_to} (${(share * 100).toFixed(1)}%)${eta}; last window committed ${since} ago`;
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
    const { incidents } = store;
    if (incidents.stored > 0) {
      lines.push(`  ${incidents.stored} incidents (${incidents.merged} merged into others), ${incidents.changes} recorded changes`);
      if (incidents.openBySeverity.length) lines.push(`  open incidents by severity: ${incidents.openBySeverity.map((s) => `${s.severity ?? 'none'} ${s.open_incidents}`).join(', ')}`);
    }
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
      if (run.outcome === 'running') {
        lines.push(runningRun(run, nowMs));
        continue;
      }
      const duration = run.finished_at ? `${((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000).toFixed(1)} s` : '';
      lines.push(
        `  #${run.id} ${run.started_at}${run.stream ? ` ${run.stream}` : ''} ${run.outcome} ${duration}: ${run.alerts_inserted} new, ${run.alerts_updated} updated, ${run.requests} requests` +
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
  lines.push(...formatSource(report.source));
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
