// The local HTTPS stand-in for Entra ID, the Defender for Endpoint API and Microsoft Graph alerts_v2 and
// incidents, used by the tests and by `demo`.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AlertFactory, seededRandom } from './alertFactory.js';
import { AlertsApi, type AlertsApiOptions } from './alertsApi.js';
import { selfSignedCertificate } from './certificate.js';
import { IdentityProvider, sendJson, type IdentityOptions } from './identityProvider.js';
import { IncidentFactory } from './incidentFactory.js';
import { INCIDENT_READ_PERMISSIONS, IncidentsApi, type IncidentsApiOptions } from './incidentsApi.js';

export interface SimulatorOptions {
  port?: number;
  host?: string;
  seed?: number;
  /** The simulated server's clock minus the machine's: to test clock skew. */
  clockOffsetMs?: number;
  identity?: Partial<IdentityOptions>;
  api?: Partial<AlertsApiOptions>;
  /** Alerts already in the tenant when the simulator starts. */
  initialAlerts?: number;
  initialAlertDays?: number;
  incidents?: Partial<IncidentsApiOptions>;
  /**
   * The default user and the application also get SecurityIncident.Read.All (off by default: the tokens of
   * the alert tests carry what they carried before incidents existed).
   */
  grantIncidentPermission?: boolean;
  /** Adds the known alerts the README's example queries find (showcaseAlerts.ts). */
  showcaseAlerts?: boolean;
}

export interface Simulator {
  url: string;
  /** Authority host for MSAL (the tenant is appended by the client). */
  authorityUrl: string;
  apiBaseUrl: string;
  tenantId: string;
  clientId: string;
  caCertificate: string;
  identity: IdentityProvider;
  api: AlertsApi;
  /** Graph's security/incidents, following `api`'s alerts. */
  incidents: IncidentsApi;
  nowMs(): number;
  setClockOffset(ms: number): void;
  /** Writes the CA certificate to a file, for the caFile setting. */
  writeCaFile(file: string): string;
  close(): Promise<void>;
}

const SEEDED_MERGES_AGO_MS = 30 * 60_000;

export const SIMULATOR_TENANT_ID = '8d5c1c5e-0b7a-4c43-9b5f-1f6b2c0de001';
export const SIMULATOR_CLIENT_ID = '3f1e7a52-5c1d-4b8e-a7a0-9c2f6d1e0b77';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const certificate = await selfSignedCertificate();
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  const nowMs = () => Date.now() + clockOffsetMs;
  const random = seededRandom(options.seed ?? 1);
  // Incidents draw from their own stream, so that the alerts of a seed stay what they were.
  const incidentRandom = seededRandom(((options.seed ?? 1) * 7919 + 1021) >>> 0);
  let baseUrl = '';

  const identity = new IdentityProvider(
    {
      tenantId: SIMULATOR_TENANT_ID,
      clientId: SIMULATOR_CLIENT_ID,
      clientSecret: `sim-secret-${Math.floor(random() * 1e12).toString(36)}`,
      accessTokenLifetimeSec: 3600,
      refreshTokenLifetimeSec: 90 * 86_400,
      autoApproveAfterMs: 1000,
      deviceCodeIntervalSec: 1,
      applicationRoles: ['Alert.Read.All', 'SecurityAlert.Read.All'],
      ...options.identity,
    },
    () => baseUrl,
    nowMs,
  );
  identity.addUser({ username: 'analyst@contoso.example', name: 'SOC Analyst' });
  if (options.grantIncidentPermission) {
    identity.defaultUser.permissions.push(INCIDENT_READ_PERMISSIONS[0]!);
    identity.options.applicationRoles = [...identity.options.applicationRoles, INCIDENT_READ_PERMISSIONS[0]!];
  }
  const api = new AlertsApi(identity, new AlertFactory(random, SIMULATOR_TENANT_ID), random, nowMs, {
    callsPerMinute: 100,
    callsPerHour: 1500,
    graphCallsPerMinute: 150,
    audiences: ['https://api.securitycenter.microsoft.com', 'https://api.security.microsoft.com', 'https://api-gcc.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us'],
    graphAudiences: ['https://graph.microsoft.com', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us'],
    ...options.api,
  });
  const incidents = new IncidentsApi(identity, api, new IncidentFactory(incidentRandom, SIMULATOR_TENANT_ID), incidentRandom, nowMs, { callsPerMinute: 150, ...options.incidents });
  if (options.initialAlerts) api.seed(options.initialAlerts, options.initialAlertDays ?? 30);
  if (options.showcaseAlerts) api.seedShowcase();
  const initialMerges = Math.floor((options.incidents?.initialMergedShare ?? 0) * incidents.incidents.size);
  // Seeded merges are history too: after the seeded changes (which end an hour ago) and before a sync's
  // settle lag (10 minutes), so that a first sync finds the alerts they moved.
  if (initialMerges > 0) incidents.mergeIncidents(initialMerges, nowMs() - SEEDED_MERGES_AGO_MS);

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', baseUrl);
    const readBody = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    if (await identity.handle(request, response, url, readBody)) return;
    if (await api.handle(request, response, url)) return;
    if (await incidents.handle(request, response, url)) return;
    if (url.pathname === '/devicelogin') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('mde-alert-sync simulator: device codes are approved automatically by the simulated user.\n');
      return;
    }
    sendJson(response, 404, { error: { code: 'NotFound', message: `No route ${url.pathname}` } });
  };

  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: { code: 'InternalServerError', message: String(error) } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;

  return {
    url: baseUrl,
    authorityUrl: baseUrl,
    apiBaseUrl: baseUrl,
    tenantId: SIMULATOR_TENANT_ID,
    clientId: SIMULATOR_CLIENT_ID,
    caCertificate: certificate.cert,
    identity,
    api,
    incidents,
    nowMs,
    setClockOffset: (ms) => {
      clockOffsetMs = ms;
    },
    writeCaFile(file) {
      writeFileSync(file, certificate.cert);
      return file;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
