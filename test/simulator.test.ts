// The simulator behaves like the reference describes the real API, rough edges included.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { SHOWCASE } from '../src/simulator/showcaseAlerts.js';

let sim: Simulator;
let agent: Agent;
let token: string;

async function get(path: string, bearer: string | null = token) {
  const response = await request(`${sim.apiBaseUrl}${path}`, { dispatcher: agent, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : null };
}

before(async () => {
  sim = await startSimulator({ initialAlerts: 120, api: { callsPerMinute: 12 } });
  agent = new Agent({ connect: { ca: sim.caCertificate } });
  const form = new URLSearchParams({ grant_type: 'password', client_id: sim.clientId, username: 'analyst@contoso.example', password: 'correct horse battery staple', scope: 'https://api.securitycenter.microsoft.com/.default offline_access' });
  const response = await request(`${sim.authorityUrl}/${sim.tenantId}/oauth2/v2.0/token`, { dispatcher: agent, method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  token = ((await response.body.json()) as { access_token: string }).access_token;
});
after(async () => {
  await agent.close();
  await sim.close();
});

describe('simulated alerts API', () => {
  it('answers like the real API: OData envelope, Date header, realistic alerts, evidence only when expanded', async () => {
    const plain = await get('/api/alerts?$top=50');
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /^application\/json; odata\.metadata=minimal/);
    assert.ok(plain.headers.date);
    assert.equal(plain.body!['@odata.context'], 'https://api.securitycenter.microsoft.com/api/$metadata#Alerts');
    assert.equal(plain.body!.value.length, 50);
    assert.ok(plain.body!.value.every((a: { evidence: unknown[] }) => a.evidence.length === 0), 'evidence is [] without $expand');
    const expanded = await get('/api/alerts?$top=50&$expand=evidence');
    assert.ok(expanded.body!.value.some((a: { evidence: unknown[] }) => a.evidence.length > 0));
    const stamps = expanded.body!.value.map((a: { lastUpdateTime: string }) => a.lastUpdateTime);
    assert.ok(stamps.some((s: string) => /\.\d{7}Z$/.test(s)), 'some timestamps have 7 fraction digits');
    assert.ok(stamps.some((s: string) => !/\.\d{7}Z$/.test(s)), 'and some fewer');
    assert.ok('loggedOnUsers' in expanded.body!.value[0] && 'detectionStatusDetails' in expanded.body!.value[0], 'undocumented fields');
    assert.ok(!('@odata.nextLink' in expanded.body!), 'no nextLink with $top');
  });

  it('filters, rejects $top above 10,000 and bad filters, and refuses requests without a valid token', async () => {
    const high = await get(`/api/alerts?$filter=${encodeURIComponent("severity eq 'High' and (status eq 'New' or status eq 'InProgress')")}`);
    assert.ok(high.body!.value.length > 0);
    assert.ok(high.body!.value.every((a: { severity: string; status: string }) => a.severity === 'High' && a.status !== 'Resolved'));
    const tooMany = await get('/api/alerts?$top=10001');
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body!.error.message, /Maximum page size is 10000/);
    const badFilter = await get(`/api/alerts?$filter=${encodeURIComponent('colour eq 1')}`);
    assert.equal(badFilter.status, 400);
    assert.equal((await get('/api/alerts', null)).status, 401);
    assert.equal((await get('/api/alerts', 'forged.token.')).status, 401);
  });

  it('orders results arbitrarily and lets $skip shift when alerts change', async () => {
    const first = await get('/api/alerts?$top=120');
    const times = first.body!.value.map((a: { alertCreationTime: string }) => Date.parse(a.alertCreationTime));
    assert.notDeepEqual(times, [...times].sort((a: number, b: number) => a - b), 'not in creation order');
    const pageTwo = (await get('/api/alerts?$top=20&$skip=20')).body!.value.map((a: { id: string }) => a.id);
    sim.api.updateAlerts(first.body!.value.slice(0, 20).map((a: { id: string }) => a.id));
    const pageTwoAfter = (await get('/api/alerts?$top=20&$skip=20')).body!.value.map((a: { id: string }) => a.id);
    assert.notDeepEqual(pageTwoAfter, pageTwo, 'the same $skip now returns other alerts');
  });

  it('answers 429 with Retry-After past the call quota', async () => {
    let throttled;
    for (let i = 0; i < 15 && !throttled; i += 1) {
      const response = await get('/api/alerts?$top=1');
      if (response.status === 429) throttled = response;
    }
    assert.ok(throttled, 'the quota of 12 calls a minute was enforced');
    assert.match(String(throttled!.headers['retry-after']), /^\d+$/);
    assert.match(throttled!.body!.error.message, /API calls quota exceeded/);
  });
});

describe('simulated Microsoft Graph alerts_v2 and the retired Defender API', () => {
  let graphSim: Simulator;
  let graphAgent: Agent;
  const tokens: Record<string, string> = {};
  const call = async (path: string, resource: 'graph' | 'defender') => {
    const response = await request(`${graphSim.apiBaseUrl}${path}`, { dispatcher: graphAgent, headers: { authorization: `Bearer ${tokens[resource]}` } });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : null };
  };

  before(async () => {
    graphSim = await startSimulator({ initialAlerts: 60, api: { graphCallsPerMinute: 5, graphServerPageSize: 7 } });
    graphAgent = new Agent({ connect: { ca: graphSim.caCertificate } });
    for (const [resource, scope] of [['graph', 'https://graph.microsoft.com/.default'], ['defender', 'https://api.securitycenter.microsoft.com/.default']] as const) {
      const form = new URLSearchParams({ grant_type: 'password', client_id: graphSim.clientId, username: 'analyst@contoso.example', password: 'correct horse battery staple', scope: `${scope} offline_access` });
      const response = await request(`${graphSim.authorityUrl}/${graphSim.tenantId}/oauth2/v2.0/token`, { dispatcher: graphAgent, method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      tokens[resource] = ((await response.body.json()) as { access_token: string }).access_token;
    }
  });
  after(async () => {
    await graphAgent.close();
    await graphSim.close();
  });

  it('cuts $top silently to the server page size (graphServerPageSize) and gives an @odata.nextLink to the rest', async () => {
    const page = await call('/v1.0/security/alerts_v2?$top=50', 'graph');
    assert.equal(page.status, 200);
    assert.equal(page.body!.value.length, 7);
    assert.equal(new URL(page.body!['@odata.nextLink']).searchParams.has('$skiptoken'), true);
  });

  it("throttles Graph per app per tenant by its own limit (150 a minute by default), with Retry-After, apart from the Defender API's quota", async () => {
    let throttled;
    for (let i = 0; i < 6 && !throttled; i += 1) {
      const response = await call('/v1.0/security/alerts_v2?$top=1', 'graph');
      if (response.status === 429) throttled = { at: i, response };
    }
    assert.ok(throttled, 'the Graph limit was enforced');
    assert.equal(throttled.at, 4, 'after the 5 calls a minute this simulator allows (the first test made one)');
    assert.match(String(throttled.response.headers['retry-after']), /^\d+$/);
    assert.equal(throttled.response.body!.error.code, 'TooManyRequests');
    assert.equal((await call('/api/alerts?$top=1', 'defender')).status, 200, "Graph's calls do not count against the Defender API's quota");
    const defaults = await startSimulator();
    try {
      assert.equal(defaults.api.options.graphCallsPerMinute, 150);
      assert.equal(defaults.api.options.graphCallsPerHour, undefined, 'Graph documents no hourly limit for alerts');
    } finally {
      await defaults.close();
    }
  });

  it('answers like the retired Defender API when told to (410 by default, or 404 / 400 with a message)', async () => {
    graphSim.api.retiredDefenderApi = { status: 410 };
    try {
      const gone = await call('/api/alerts?$top=1', 'defender');
      assert.equal(gone.status, 410);
      assert.match(gone.body!.error.message, /retired/);
      graphSim.api.retiredDefenderApi = { status: 404, message: 'This API has been retired.' };
      const notFound = await call('/api/alerts?$top=1', 'defender');
      assert.equal(notFound.status, 404);
      assert.equal(notFound.body!.error.message, 'This API has been retired.');
    } finally {
      graphSim.api.retiredDefenderApi = undefined;
    }
  });
});

describe('showcase alerts', () => {
  it('serves the known alerts of the README examples, and random churn leaves them as they are', async () => {
    const showcase = await startSimulator({ initialAlerts: 5, showcaseAlerts: true });
    try {
      const before = showcase.api.truth().filter((alert) => showcase.api.pinned.has(alert.id));
      assert.deepEqual(before.map((alert) => alert.id).sort(), [SHOWCASE.alertId, SHOWCASE.resolvedAlertId].sort());
      const open = before.find((alert) => alert.id === SHOWCASE.alertId)!;
      assert.deepEqual([open.severity, open.status], ['High', 'New']);
      for (const alert of before) assert.ok((alert.evidence as { sha256: unknown }[]).some((item) => item.sha256 === SHOWCASE.sha256));
      const changed = showcase.api.updateAlerts(100);
      assert.equal(changed.length, 5, 'every other alert was changed');
      assert.deepEqual(showcase.api.truth().filter((alert) => showcase.api.pinned.has(alert.id)), before);
    } finally {
      await showcase.close();
    }
  });

  it('puts both in one open, high-severity incident with a known id, which random merges and analysts leave alone', async () => {
    const showcase = await startSimulator({ initialAlerts: 20, showcaseAlerts: true, incidents: { initialMergedShare: 0.5 } });
    try {
      const incident = () => showcase.incidents.truth().find((i) => i.id === SHOWCASE.incidentId);
      const before = incident();
      assert.deepEqual([before?.severity, before?.status], ['high', 'active']);
      assert.deepEqual(showcase.incidents.alertIdsOf(SHOWCASE.incidentId).sort(), [SHOWCASE.alertId, SHOWCASE.resolvedAlertId].sort());
      assert.ok(showcase.incidents.truth().some((i) => i.status === 'redirected'), 'the seeded history has merged incidents');
      showcase.incidents.mergeIncidents(100);
      showcase.incidents.updateIncidents(100);
      assert.deepEqual(incident(), before);
    } finally {
      await showcase.close();
    }
  });
});
