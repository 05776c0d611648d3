// Corporate networks: an HTTPS proxy (HTTPS_PROXY / NO_PROXY) for both the identity and the API calls, and
// the endpoints each cloud selects.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSettings } from '../src/config/settings.js';
import { selfSignedCertificate } from '../src/simulator/certificate.js';
import { assertStoreEqualsTruth, CLI, createTestBed, runProcess } from './support/harness.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A minimal forward proxy that records the CONNECT targets it tunnels. */
async function connectProxy(): Promise<{ url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createServer((_request, response) => response.writeHead(405).end());
  server.on('connect', (request, client, head) => {
    tunnels.push(request.url ?? '');
    const [host, port] = (request.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels };
}

describe('network', () => {
  it('sends the identity and the API calls through HTTPS_PROXY, trusting the extra CA through the tunnel', async () => {
    const b = await createTestBed({ initialAlerts: 15 });
    const proxy = await connectProxy();
    const env = { HTTPS_PROXY: proxy.url, NO_PROXY: '' };
    assert.equal((await b.cli(['login'], env)).code, 0);
    const sync = await b.cli(['sync'], env);
    assert.equal(sync.code, 0, sync.stderr);
    assertStoreEqualsTruth(b);
    const target = new URL(b.sim.url).host;
    assert.ok(proxy.tunnels.length >= 2 && proxy.tunnels.every((t) => t === target), `tunnels: ${proxy.tunnels.join(', ')}`);

    // NO_PROXY bypasses it.
    const before = proxy.tunnels.length;
    assert.equal((await b.cli(['sync'], { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' })).code, 0);
    assert.equal(proxy.tunnels.length, before);
  });

  it('a certificate the identity provider presents that is not trusted: login, sync and token say which TLS check failed and what to set', async () => {
    const b = await createTestBed({ initialAlerts: 5 });
    const otherCa = path.join(b.dir, 'other-ca.pem');
    writeFileSync(otherCa, (await selfSignedCertificate()).cert);
    const { MDE_ALERT_SYNC_CA_FILE: _ca, ...withoutCaFile } = b.env;
    const authority = new URL(b.sim.url).origin.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const untrusted = new RegExp(`could not reach the identity provider at ${authority}: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN): .*; the server's certificate is not signed by a CA this machine trusts: if a proxy inspects TLS, set caFile to the PEM certificate of its CA`);
    const wrongCa = { MDE_ALERT_SYNC_CA_FILE: otherCa };
    const noCaLogin = await runProcess(process.execPath, [CLI, 'login'], withoutCaFile, b.dir).done;
    const wrongCaLogin = await b.cli(['login'], wrongCa);
    for (const [name, result] of [['login without caFile', noCaLogin], ['login with another caFile', wrongCaLogin]] as const) {
      assert.equal(result.code, 3, `${name}: ${result.stderr}`);
      assert.match(result.stderr, /mde-alert-sync: Sign-in did not complete: endpoints_resolution_error: could not reach/, name);
      assert.match(result.stderr, untrusted, name);
      assert.doesNotMatch(result.stderr, /aka\.ms\/msal/, name);
    }
    assert.equal((await b.cli(['login'])).code, 0);
    for (const command of ['sync', 'token']) {
      const result = await b.cli([command], wrongCa);
      assert.equal(result.code, 1, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /mde-alert-sync: Could not refresh the access token: endpoints_resolution_error: could not reach/, command);
      assert.match(result.stderr, untrusted, command);
    }
    assert.equal(b.sim.api.requests.length, 0);
  });

  it('selects the authority, API host and scope of each cloud from one value', () => {
    const base = { MDE_ALERT_SYNC_TENANT_ID: '11111111-2222-3333-4444-555555555555', MDE_ALERT_SYNC_CLIENT_ID: '66666666-7777-8888-9999-000000000000', MDE_ALERT_SYNC_TOKEN_CACHE_KEY: 'k'.repeat(20) };
    const expected = {
      commercial: ['https://login.microsoftonline.com', 'https://api.security.microsoft.com', 'https://api.securitycenter.microsoft.com/.default'],
      gcc: ['https://login.microsoftonline.com', 'https://api-gcc.securitycenter.microsoft.us', 'https://api-gcc.securitycenter.microsoft.us/.default'],
      'gcc-high': ['https://login.microsoftonline.us', 'https://api-gov.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us/.default'],
      dod: ['https://login.microsoftonline.us', 'https://api-gov.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us/.default'],
    };
    for (const [cloud, [authority, api, scope]] of Object.entries(expected)) {
      const settings = loadSettings({ env: { ...base, MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_CLOUD: cloud }, needsIdentity: true });
      assert.deepEqual([settings.authorityHost, settings.apiBaseUrl, settings.scope], [authority, api, scope], cloud);
    }
    // With no source set (and no database yet), Graph: each cloud's Graph host.
    const graphHosts = { commercial: 'https://graph.microsoft.com', gcc: 'https://graph.microsoft.com', 'gcc-high': 'https://graph.microsoft.us', dod: 'https://dod-graph.microsoft.us' };
    for (const [cloud, host] of Object.entries(graphHosts)) {
      const settings = loadSettings({ env: { ...base, MDE_ALERT_SYNC_CLOUD: cloud }, needsIdentity: true });
      assert.deepEqual([settings.source, settings.authorityHost, settings.apiBaseUrl, settings.scope], ['graph', expected[cloud as keyof typeof expected][0], host, `${host}/.default`], cloud);
    }
    const geo = loadSettings({ env: { ...base, MDE_ALERT_SYNC_API_BASE_URL: 'https://eu.api.security.microsoft.com/' }, needsIdentity: true });
    assert.equal(geo.apiBaseUrl, 'https://eu.api.security.microsoft.com');
    assert.throws(() => loadSettings({ env: { ...base, MDE_ALERT_SYNC_API_BASE_URL: 'http://eu.api.security.microsoft.com' }, needsIdentity: true }), /apiBaseUrl .*must be an https:\/\/ URL/);
  });
});
