// The simulator in its own process for the benchmark, so that serving pages does not share a core or a heap
// with what is measured. Driven over IPC by bench/run.ts.
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import type { OrderByHandling } from '../src/simulator/alertsApi.js';

/** How the alerts of a tenant are spread over its 180 days (the request figures of bench/run.ts). */
export type DensityProfile = 'uniform' | 'denseHour' | 'tie' | 'emptyStretch';

export type SimulatorCommand =
  | { command: 'start'; alerts: number; dir: string; profile?: DensityProfile; orderBy?: OrderByHandling; graphServerPageSize?: number; incidents?: number }
  | { command: 'update'; count: number }
  | { command: 'requests' }
  | { command: 'incidentRequests' }
  | { command: 'token' }
  | { command: 'stop' };

let simulator: Simulator | undefined;

const DAY_MS = 86_400_000;

/** Half the alerts in one hour, 1,200 sharing one instant, or all in the first and last ten days of 180. */
function seedProfile(sim: Simulator, profile: Exclude<DensityProfile, 'uniform'>, alerts: number): void {
  const now = sim.nowMs();
  const start = now - 180 * DAY_MS;
  const at = (from: number, width: number) => ({ atMs: from + Math.floor(Math.random() * width) });
  const tieMs = start + 45 * DAY_MS;
  for (let i = 0; i < alerts; i += 1) {
    if (profile === 'denseHour' && i < alerts / 2) sim.api.createAlerts(1, at(start + 90 * DAY_MS, 3_600_000));
    else if (profile === 'tie' && i < 1200) sim.api.createAlerts(1, { atMs: tieMs, lastUpdateTime: new Date(tieMs).toISOString() });
    else if (profile === 'emptyStretch') sim.api.createAlerts(1, at(Math.random() < 0.5 ? start : now - 11 * DAY_MS, 10 * DAY_MS));
    else sim.api.createAlerts(1, at(start, 179 * DAY_MS));
  }
}
let requestsSeen = 0;
let incidentRequestsSeen = 0;

/** Incidents (one alert each) spread over the 180 days, as the alerts are. */
function seedIncidents(sim: Simulator, incidents: number): void {
  const start = sim.nowMs() - 180 * DAY_MS;
  for (let i = 0; i < incidents; i += 1) sim.incidents.createIncidents(1, { atMs: start + Math.floor(Math.random() * 179 * DAY_MS) });
}

async function handle(message: SimulatorCommand): Promise<unknown> {
  switch (message.command) {
    case 'start': {
      // Realistic history: 180 days (the API's retention), evidence expanded; the quotas lifted so that the
      // benchmark measures the work, not the waiting.
      // With incidents, their quota (150 a minute, as Graph's alerts) is lifted too: a backfill of 100,000 at
      // 50 a page needs 2,000 requests.
      const { profile = 'uniform', incidents = 0 } = message;
      simulator = await startSimulator({ initialAlerts: profile === 'uniform' ? message.alerts : 0, initialAlertDays: 180, identity: { autoApproveAfterMs: 0 }, api: { callsPerMinute: 1e9, callsPerHour: 1e9, graphCallsPerMinute: 1e9 }, ...(incidents > 0 ? { grantIncidentPermission: true, incidents: { callsPerMinute: 1e9 } } : {}) });
      if (profile !== 'uniform') seedProfile(simulator, profile, message.alerts);
      seedIncidents(simulator, incidents);
      simulator.api.orderBy = message.orderBy ?? 'ignored';
      simulator.api.graphServerPageSize = message.graphServerPageSize;
      return {
        tenantId: simulator.tenantId,
        clientId: simulator.clientId,
        authorityUrl: simulator.authorityUrl,
        apiBaseUrl: simulator.apiBaseUrl,
        caFile: simulator.writeCaFile(path.join(message.dir, 'ca.pem')),
      };
    }
    case 'update':
      return simulator!.api.updateAlerts(message.count).length;
    case 'requests': {
      // The requests since the last call: what one pass asked for.
      const requests = simulator!.api.requests.slice(requestsSeen).map(({ filter, top, skip, expand, status, returned }) => ({ filter, top, skip, expand, status, returned }));
      requestsSeen = simulator!.api.requests.length;
      return requests;
    }
    case 'incidentRequests': {
      const requests = simulator!.incidents.requests.slice(incidentRequestsSeen).map(({ filter, skipToken, status, returned }) => ({ filter, skipToken, status, returned }));
      incidentRequestsSeen = simulator!.incidents.requests.length;
      return requests;
    }
    case 'token':
      return simulator!.identity.accessTokenFor();
    case 'stop':
      await simulator?.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (message: SimulatorCommand & { id: number }) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: Error) => process.send!({ id: message.id, error: error.message }),
  );
});
