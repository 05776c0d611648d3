// Builds the parts one process needs from its settings, in the direction the data flows:
// settings -> HTTP layer -> session (token) -> API client; the store is opened separately, on demand.
import type { Dispatcher } from 'undici';
import { ApplicationSession } from '../auth/applicationSession.js';
import { DelegatedSession, type Session } from '../auth/delegatedSession.js';
import { maxResponseMegabytes, type Settings } from '../config/settings.js';
import { AlertsClient, type AlertsClientOptions } from '../alertsApi/alertsClient.js';
import { createDispatcher } from '../http/httpLayer.js';
import { DEFENDER_PROFILE } from '../alertsApi/defenderProfile.js';
import { GRAPH_PROFILE } from '../alertsApi/graphProfile.js';
import type { AlertsApiProfile } from '../alertsApi/alertsApiProfile.js';
import { callQuotaFor, quotaGate } from '../alertsApi/callQuota.js';
import { GRAPH_INCIDENTS_PROFILE } from '../alertsApi/incidentsProfile.js';
import type { RecordStreamProfile } from '../alertsApi/recordStreamProfile.js';
import type { Logger } from '../logger.js';
import { USER_AGENT } from '../version.js';
import { holdWriterLease } from '../daemon/lease.js';
import { AlertStore } from '../store/alertStore.js';
import { RUNNING_BUSY_TIMEOUT_MS, setBusyTimeout } from '../store/database.js';
import { walPolicy } from '../store/walPolicy.js';

export interface Worker {
  dispatcher: Dispatcher;
  session: Session;
  /** The alerts' client. */
  client: AlertsClient;
  /** A client per stream a pass syncs, in order: the alerts', then (setting `incidents`) the incidents'. */
  streams: AlertsClient[];
  close(): Promise<void>;
}

export function createWorker(settings: Settings, logger: Logger, timing: Pick<AlertsClientOptions, 'quotaIntervals'> = {}): Worker {
  const dispatcher = createDispatcher({ caFile: settings.caFile });
  const session: Session = settings.authFlow === 'clientCredentials' ? new ApplicationSession(settings, logger, dispatcher) : new DelegatedSession(settings, logger, dispatcher);
  const profile = alertsApiProfile(settings.source);
  const quota = callQuotaFor(profile, settings);
  // The streams of one API share its request limit: Graph's is one for security detections and incidents.
  const gate = quotaGate({ perMinute: quota.perMinute, perHour: quota.perHour, ...(timing.quotaIntervals ? { minuteMs: timing.quotaIntervals.minuteMs, hourMs: timing.quotaIntervals.hourMs } : {}) });
  const clientFor = (stream: RecordStreamProfile) =>
    new AlertsClient(
      {
        profile: stream,
        apiBaseUrl: settings.apiBaseUrl,
        userAgent: USER_AGENT,
        requestTimeoutMs: settings.requestTimeout,
        maxResponseBytes: maxResponseMegabytes(settings) * 1_048_576,
        maxRetries: settings.maxRetries,
        retryMinDelayMs: settings.retryMinDelay,
        retryMaxDelayMs: settings.retryMaxDelay,
        maxRetryAfterMs: settings.maxRetryAfter,
        callsPerMinute: quota.perMinute,
        callsPerHour: quota.perHour,
        ...timing,
        quota: gate,
      },
      session,
      dispatcher,
      logger.child({ component: 'api', stream: stream.entity }),
    );
  const client = clientFor(profile);
  const streams = [client, ...(settings.incidents ? [clientFor(GRAPH_INCIDENTS_PROFILE)] : [])];
  return { dispatcher, session, client, streams, close: () => dispatcher.close() };
}

/** Opens the store as its only writer: holds the lease until `close`. */
export function openStoreAsWriter(settings: Settings, command: string, logger: Logger, onLeaseLost: (error: Error) => void): { store: AlertStore; close(): void } {
  const store = AlertStore.open(settings.databasePath, walPolicy(settings));
  try {
    const lease = holdWriterLease(store, command, logger, onLeaseLost);
    // From here on writes are retried asynchronously; each synchronous wait for a lock stays short.
    setBusyTimeout(store.db, RUNNING_BUSY_TIMEOUT_MS);
    return {
      store,
      close() {
        lease.release();
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** The API a source reads alerts from. */
export function alertsApiProfile(source: Settings['source']): AlertsApiProfile {
  return source === 'graph' ? GRAPH_PROFILE : DEFENDER_PROFILE;
}
