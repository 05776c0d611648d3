// Prometheus metrics of the worker (prom-client): what an operator alerts on when a sync stalls.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiCallStats } from '../alertsApi/alertsClient.js';
import { instantToMs } from '../instants.js';
import type { CursorStore } from '../store/cursorStore.js';
import { walBytes, type CheckpointOutcome } from '../store/walCheckpoint.js';
import type { PassObserver, SyncPassResult } from '../sync/syncPass.js';

export type PassOutcome = 'success' | 'failed' | 'signed_out' | 'interrupted';

export class WorkerMetrics implements PassObserver {
  readonly registry = new Registry();
  private readonly passes = new Counter({ name: 'mde_alert_sync_passes_total', help: 'Sync passes by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly alerts = new Counter({ name: 'mde_alert_sync_alerts_written_total', help: 'Alerts written, by kind (inserted, updated)', labelNames: ['kind'], registers: [this.registry] });
  private readonly httpRequests = new Counter({ name: 'mde_alert_sync_api_requests_total', help: 'Alerts API requests by HTTP status', labelNames: ['status'], registers: [this.registry] });
  private readonly retries = new Counter({ name: 'mde_alert_sync_api_retries_total', help: 'Alerts API requests retried', registers: [this.registry] });
  private readonly throttled = new Counter({ name: 'mde_alert_sync_api_throttled_total', help: 'Alerts API answers 429 (quota exceeded)', registers: [this.registry] });
  private readonly skipped = new Counter({ name: 'mde_alert_sync_skipped_ticks_total', help: 'Scheduled ticks skipped, by reason (pass_running, signed_out)', labelNames: ['reason'], registers: [this.registry] });
  private readonly lastSuccess = new Gauge({ name: 'mde_alert_sync_last_success_timestamp_seconds', help: 'End of the last successful pass (Unix time)', registers: [this.registry] });
  private readonly tokenExpiry = new Gauge({ name: 'mde_alert_sync_token_expiry_timestamp_seconds', help: 'Expiry of the current access token (Unix time)', registers: [this.registry] });
  private readonly signedIn = new Gauge({ name: 'mde_alert_sync_signed_in', help: '1 while the worker holds a usable sign-in, 0 when `login` is needed', registers: [this.registry] });
  private readonly failures = new Gauge({ name: 'mde_alert_sync_consecutive_failures', help: 'Passes failed in a row', registers: [this.registry] });
  private readonly clockSkewSeconds = new Gauge({ name: 'mde_alert_sync_clock_skew_seconds', help: "The API's clock (HTTP Date) minus this machine's, at the last pass's first answer", registers: [this.registry] });
  private readonly skewedPasses = new Counter({ name: 'mde_alert_sync_clock_skew_passes_total', help: 'Passes whose two clocks disagreed by more than clockSkewTolerance (the cursor followed the earlier one)', registers: [this.registry] });
  private readonly cursorRepairs = new Counter({ name: 'mde_alert_sync_cursor_repairs_total', help: 'Cursors found ahead of the clock and moved back at the start of a pass', registers: [this.registry] });
  private readonly seenStatus: Record<string, number> = {};
  private readonly seen = { retries: 0, throttled: 0 };

  constructor(
    cursors: CursorStore,
    stream: string,
    private readonly api: ApiCallStats,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mde_alert_sync_' });
    new Gauge({
      name: 'mde_alert_sync_cursor_age_seconds',
      help: 'How far the stored cursor is behind now: grows without bound when syncing stalls',
      registers: [this.registry],
      collect() {
        const cursor = cursors.get(stream);
        if (cursor !== undefined) this.set((Date.now() - instantToMs(cursor)) / 1000);
      },
    });
  }

  /** API counters follow the client's running totals, so a scrape never misses a request. */
  private collectApi(): void {
    for (const [status, total] of Object.entries(this.api.byStatus)) {
      const delta = total - (this.seenStatus[status] ?? 0);
      if (delta > 0) this.httpRequests.inc({ status }, delta);
      this.seenStatus[status] = total;
    }
    if (this.api.retries > this.seen.retries) this.retries.inc(this.api.retries - this.seen.retries);
    if (this.api.throttled > this.seen.throttled) this.throttled.inc(this.api.throttled - this.seen.throttled);
    this.seen.retries = this.api.retries;
    this.seen.throttled = this.api.throttled;
  }

  passFinished(outcome: PassOutcome, result?: SyncPassResult, consecutiveFailures = 0): void {
    this.collectApi();
    this.passes.inc({ outcome });
    this.failures.set(consecutiveFailures);
    this.signedIn.set(outcome === 'signed_out' ? 0 : 1);
    if (result) {
      this.alerts.inc({ kind: 'inserted' }, result.counts.inserted);
      this.alerts.inc({ kind: 'updated' }, result.counts.updated);
      this.lastSuccess.set(Date.now() / 1000);
      if (result.tokenExpiresOn) this.tokenExpiry.set(result.tokenExpiresOn.getTime() / 1000);
    }
  }

  /** The configured source stops working at this time (the Defender API: MC1220762): alert well before. */
  sourceRetires(source: string, atMs: number): void {
    new Gauge({ name: 'mde_alert_sync_source_retirement_timestamp_seconds', help: 'When the configured alerts API stops working (Unix time); absent for a source with no announced end', labelNames: ['source'], registers: [this.registry] }).set({ source }, atMs / 1000);
  }

  clockSkew(skewMs: number, beyondTolerance: boolean): void {
    this.clockSkewSeconds.set(skewMs / 1000);
    if (beyondTolerance) this.skewedPasses.inc();
  }

  cursorRepaired(): void {
    this.cursorRepairs.inc();
  }

  tickSkipped(reason: 'pass_running' | 'signed_out'): void {
    this.skipped.inc({ reason });
  }

  // The WAL (walCheckpoint.ts): its size, and the checkpoints after passes (busy: a reader held a snapshot).
  private walCheckpoints: Counter | undefined;

  watchWal(file: string): void {
    new Gauge({
      name: 'mde_alert_sync_wal_bytes',
      help: "Size of the database's WAL file: back within walSizeLimitMegabytes after a pass once readers let go",
      registers: [this.registry],
      collect() {
        this.set(walBytes(file));
      },
    });
    this.walCheckpoints = new Counter({ name: 'mde_alert_sync_wal_checkpoints_total', help: 'Checkpoints after passes, by outcome (truncated; busy: a reader held an old snapshot)', labelNames: ['outcome'], registers: [this.registry] });
  }

  walCheckpointed(outcome: CheckpointOutcome): void {
    this.walCheckpoints?.inc({ outcome });
  }

  async text(): Promise<string> {
    this.collectApi();
    return this.registry.metrics();
  }
}
