// Liveness, readiness and Prometheus metrics over plain HTTP (loopback unless configured otherwise).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DaemonHealth } from './syncDaemon.js';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, health: () => DaemonHealth, metrics: () => Promise<string>): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
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
