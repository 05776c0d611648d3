// The environment a worker process needs to reach a simulator: shared by the test harness and the benchmark
// (which runs its simulator in another process), so both start the CLI the same way.
import { randomBytes } from 'node:crypto';

export interface SimulatorEndpoints {
  tenantId: string;
  clientId: string;
  authorityUrl: string;
  apiBaseUrl: string;
}

/** A clean environment (no inherited MDE_ALERT_SYNC_*), HOME in `dir`, a fresh token cache key. */
export function workerEnv(sim: SimulatorEndpoints, caFile: string, dir: string, dbPath: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    MDE_ALERT_SYNC_TENANT_ID: sim.tenantId,
    MDE_ALERT_SYNC_CLIENT_ID: sim.clientId,
    MDE_ALERT_SYNC_AUTHORITY_URL: sim.authorityUrl,
    MDE_ALERT_SYNC_API_BASE_URL: sim.apiBaseUrl,
    MDE_ALERT_SYNC_CA_FILE: caFile,
    MDE_ALERT_SYNC_DATABASE_PATH: dbPath,
    MDE_ALERT_SYNC_TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
  };
}
