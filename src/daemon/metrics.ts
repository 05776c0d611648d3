// Prometheus metrics of the worker (prom-client): what an operator alerts on when a sync stalls.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiCallStats } from '../alertsApi/alertsClient.js';
import { instantToMs } from '../instants.js';
import type { CursorStore } from '../store/cursorStore.js';
import type { PassProgress, ProgressSnapshot } from '../sync/passProgress.js';
import { walBytes, type CheckpointOutcome } from '../store/walCheckpoint.js';
import type { PassObserver, SyncPassResult } from '../sync/syncPass.js';

export type PassOutcome = 'success' | 'failed' | 'signed_out' | 'interrupted';

export class WorkerMetrics implements PassObserver {
  readonly registry = new Registry();
  private readonly passes = new Counter({ name: 'mde_alert_sync_passes_total', help: 'Sync passes by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly alerts = new Counter({ name: 'mde_alert_sync_alerts_written_total', help: 'Alerts written, by kind (inserted, updated)', labelNames: ['kind'], registers: [this.registry] });
  private readonly incidents = new Counter({ name: 'mde_alert_sync_incidents_written_total', help: 'Incidents written, by kind (inserted, updated)', labelNames: ['kind'], registers: [this.registry] });
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
  private readonly passRunning = new Gauge({ name: 'mde_alert_sync_pass_running', help: '1 while a pass runs; the mde_alert_sync_pass_* gauges are its progress (after it, the last pass\'s)', registers: [this.registry] });
  /** The running pass, else the last one: read at each scrape, so requests and the ETA are live. */
  private progress: PassProgress | undefined;
  private running = false;
  private readonly seenStatus: Record<string, number> = {};
  private readonly seen = { retries: 0, throttled: 0 };

  /** The running totals of every stream's client (one API, one quota). */
  private readonly api: ApiCallStats;

  constructor(cursors: CursorStore, streams: readonly string[], apis: readonly ApiCallStats[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mde_alert_sync_' });
    this.passRunning.set(0);
    this.progressGauges();
    new Gauge({
      name: 'mde_alert_sync_cursor_age_seconds',
      help: 'How far the stored cursor of each stream is behind now: grows without bound when syncing it stalls',
      labelNames: ['stream'],
      registers: [this.registry],
      collect() {
        for (const stream of streams) {
          const cursor = cursors.get(stream);
          if (cursor !== undefined) this.set({ stream }, (Date.now() - instantToMs(cursor)) / 1000);
        }
      },
    });
    this.api = sumOfStats(apis);
  }

  /** Gauges of the running pass's progress, each read from its snapshot at scrape time. */
  private progressGauges(): void {
    const gauges: [string, string, (snapshot: ProgressSnapshot) => number | null][] = [
      ['windows', 'Windows (requests of the window reader) of the running pass so far', (p) => p.windows],
      ['requests', 'API requests of the running pass so far', (p) => p.requests],
      ['alerts_received', 'Alerts received in the windows the running pass committed so far', (p) => p.alerts],
      ['covered_ratio', 'Share of the running pass\'s span (from where it started reading to its horizon) read so far, 0 to 1', (p) => p.covered],
      ['eta_seconds', 'How long the rest of the running pass takes, at the pace of its last windows (0 once it ended)', (p) => (this.running ? (p.etaMs === null ? null : p.etaMs / 1000) : 0)],
      ['last_window_timestamp_seconds', 'When the running pass last committed a window (Unix time)', (p) => (p.lastWindowAtMs === null ? null : p.lastWindowAtMs / 1000)],
    ];
    const source = () => this.progress?.snapshot();
    for (const [name, help, value] of gauges) {
      new Gauge({
        name: `mde_alert_sync_pass_${name}`,
        help,
        registers: [this.registry],
        collect() {
          const snapshot = source();
          const measured = snapshot === undefined ? null : value(snapshot);
          if (measured !== null) this.set(measured);
        },
      });
    }
  }

  passStarted(progress: PassProgress): void {
    this.progress = progress;
    this.running = true;
    this.passRunning.set(1);
  }

  passEnded(): void {
    this.running = false;
    this.passRunning.set(0);
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
      this.lastSuccess.set(Date.now() / 1000);
      if (result.tokenExpiresOn) this.tokenExpiry.set(result.tokenExpiresOn.getTime() / 1000);
    }
  }

  /** What one stream's pass wrote (each stream that succeeded, also when another failed). */
  recordsWritten(result: Pick<SyncPassResult, 'entity' | 'counts'>): void {
    const counter = result.entity === 'incidents' ? this.incidents : this.alerts;
    counter.inc({ kind: 'inserted' }, result.counts.inserted);
    counter.inc({ kind: 'updated' }, result.counts.updated);
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

/** A live view of several clients' running totals as one. */
function sumOfStats(stats: readonly ApiCallStats[]): ApiCallStats {
  const total = (key: 'requests' | 'retries' | 'throttled') => stats.reduce((sum, s) => sum + s[key], 0);
  return {
    get requests() {
      return total('requests');
    },
    get retries() {
      return total('retries');
    },
    get throttled() {
      return total('throttled');
    },
    get byStatus() {
      const byStatus: Record<string, number> = {};
      for (const s of stats) for (const [status, n] of Object.entries(s.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
      return byStatus;
    },
  };
}
