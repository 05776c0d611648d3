// The simulator in its own process for the benchmark, so that serving pages does not share a core or a heap
// with what is measured. Driven over IPC by bench/run.ts.
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';

export type SimulatorCommand =
  | { command: 'start'; alerts: number; dir: string }
  | { command: 'update'; count: number }
  | { command: 'requests' }
  | { command: 'token' }
  | { command: 'stop' };

let simulator: Simulator | undefined;
let requestsSeen = 0;

async function handle(message: SimulatorCommand): Promise<unknown> {
  switch (message.command) {
    case 'start': {
      // Realistic history: 180 days (the API's retention), evidence expanded; the quotas lifted so that the
      // benchmark measures the work, not the waiting.
      simulator = await startSimulator({ initialAlerts: message.alerts, initialAlertDays: 180, identity: { autoApproveAfterMs: 0 }, api: { callsPerMinute: 1e9, callsPerHour: 1e9, graphCallsPerMinute: 1e9 } });
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
