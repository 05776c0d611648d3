// Liveness, readiness and Prometheus metrics over plain HTTP (loopback unless configured otherwise).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError } from '../errors.js';
import type { DaemonHealth } from './syncDaemon.js';

// Probes and scrapes are a few small requests at a time. The cap keeps idle or slow connections (the port may
// be bound to 0.0.0.0) from using up the descriptors the passes need; the timeouts free their slots.
export const MAX_HEALTH_CONNECTIONS = 64;
export const HEALTH_IDLE_TIMEOUT_MS = 5_000;
const SERVER_LIMITS = {
  headersTimeout: HEALTH_IDLE_TIMEOUT_MS,
  requestTimeout: 2 * HEALTH_IDLE_TIMEOUT_MS,
  keepAliveTimeout: HEALTH_IDLE_TIMEOUT_MS,
  connectionsCheckingInterval: 1_000,
};

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, health: () => DaemonHealth, metrics: () => Promise<string>): Promise<HealthServer> {
  const server: Server = createServer(SERVER_LIMITS, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/livez' || path === '/healthz') return json(200, { status: 'alive' });
    if (path === '/readyz') {
      const state = health();
      return json(state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'unready', ...state });
    }
    if (path === '/metrics') {
      metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          response.end(text);
        },
        () => json(500, { status: 'metrics unavailable' }),
      );
      return;
    }
    json(404, { status: 'not found', paths: ['/livez', '/readyz', '/metrics'] });
  });
  server.maxConnections = MAX_HEALTH_CONNECTIONS;
  server.setTimeout(HEALTH_IDLE_TIMEOUT_MS); // a socket silent that long is destroyed
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, host, port)));
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Why the health server cannot listen, in terms of the settings that chose where. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const fix = 'set healthHost to an address of this machine, such as 127.0.0.1 or 0.0.0.0';
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigurationError(`healthPort ${port}: ${host}:${port} is already in use by another program (or another worker): choose another healthPort, or stop that program.`);
    case 'EACCES':
      return new ConfigurationError(`healthPort ${port}: this user may not listen on ${host}:${port} (ports below 1024 need privileges): choose a port of 1024 or above.`);
    case 'EADDRNOTAVAIL':
      return new ConfigurationError(`healthHost ${host} is not an address of this machine (EADDRNOTAVAIL): ${fix}.`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ConfigurationError(`healthHost ${host} does not resolve to an address (${error.code}): ${fix}.`);
    default:
      return error;
  }
}
