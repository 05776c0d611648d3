// `mde-alert-sync simulator`: the simulator on its own, for trying the real commands against it.
import path from 'node:path';
import { startSimulator } from '../simulator/simulator.js';

export async function simulatorCommand(options: { port: number; host: string; alerts: number; caFile: string; churnSeconds: number }, print: (line: string) => void): Promise<() => Promise<void>> {
  const simulator = await startSimulator({ port: options.port, host: options.host, initialAlerts: options.alerts, grantIncidentPermission: true });
  const caFile = simulator.writeCaFile(path.resolve(options.caFile));
  const churn = options.churnSeconds > 0
    ? setInterval(() => {
        simulator.api.createAlerts(2);
        simulator.api.updateAlerts(3);
      }, options.churnSeconds * 1000)
    : undefined;
  print(`Simulator listening at ${simulator.url} with ${options.alerts} alerts. Point mde-alert-sync at it with:`);
  print(`  MDE_ALERT_SYNC_TENANT_ID=${simulator.tenantId}`);
  print(`  MDE_ALERT_SYNC_CLIENT_ID=${simulator.clientId}`);
  print(`  MDE_ALERT_SYNC_AUTHORITY_URL=${simulator.authorityUrl}`);
  print(`  MDE_ALERT_SYNC_API_BASE_URL=${simulator.apiBaseUrl}`);
  print(`  MDE_ALERT_SYNC_CA_FILE=${caFile}`);
  return async () => {
    if (churn) clearInterval(churn);
    await simulator.close();
  };
}
