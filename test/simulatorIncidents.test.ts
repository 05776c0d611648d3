// The simulator's Microsoft Graph security/incidents behaves like Microsoft's "List incidents" page and the
// live service describe it, rough edges included, and stays consistent with the simulator's alerts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { parseInstant } from '../src/instants.js';
import { startSimulator, type SimulatorOptions } from '../src/simulator/simulator.js';

type Body = Record<string, any>;
const INCIDENTS = '/v1.0/security/incidents';
const ALERTS = '/v1.0/security/alerts_v2';
const PASSWORD = 'correct horse battery staple';

/** A simulator over real HTTPS with a Graph token for its default user (who may read incidents). */
async function incidentSimulator(options: SimulatorOptions = {}) {
  const sim = await startSimulator({ initialAlerts: 130, grantIncidentPermission: true, ...options });
  const agent = new Agent({ connect: { ca: sim.caCertificate } });
  const tokenFor = async (username: string) => {
    const form = new URLSearchParams({ grant_type: 'password', client_id: sim.clientId, username, password: PASSWORD, scope: 'https://graph.microsoft.com/.default offline_access' });
    const response = await request(`${sim.authorityUrl}/${sim.tenantId}/oauth2/v2.0/token`, { dispatcher: agent, method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await response.body.json()) as { access_token: string }).access_token;
  };
  const token = await tokenFor('analyst@contoso.example');
  const get = async (pathOrUrl: string, bearer = token) => {
    const url = pathOrUrl.startsWith('https://') ? pathOrUrl : `${sim.apiBaseUrl}${pathOrUrl}`;
    const response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${bearer}` } });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body: (text ? JSON.parse(text) : null) as Body };
  };
  /** Every incident of a query, following @odata.nextLink; the pages' sizes too. */
  const all = async (path: string) => {
    const items: Body[] = [];
    const sizes: number[] = [];
    for (let next: string | undefined = path; next; ) {
      const page = await get(next);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      items.push(...page.body.value);
      sizes.push(page.body.value.length);
      next = page.body['@odata.nextLink'];
    }
    return { items, sizes };
  };
  const close = async () => {
    await agent.close();
    await sim.close();
  };
  return { sim, agent, token, tokenFor, get, all, close };
}

type Bed = Awaited<ReturnType<typeof incidentSimulator>>;
const q = (options: Record<string, string>) => `${INCIDENTS}?${new URLSearchParams(options).toString()}`;
const instant = (text: unknown) => parseInstant(text)!;

describe('simulated Graph incidents: shape, paging and query options', () => {
  let bed: Bed;
  before(async () => {
    bed = await incidentSimulator();
  });
  after(() => bed.close());

  it("serves the incident resource's documented properties, one incident for every alert's incidentId", async () => {
    const { items } = await bed.all(INCIDENTS);
    const documented = ['id', 'tenantId', 'status', 'severity', 'classification', 'determination', 'assignedTo', 'createdDateTime', 'lastUpdateDateTime', 'redirectIncidentId', 'displayName', 'incidentWebUrl', 'customTags', 'systemTags', 'description', 'summary', 'comments', 'lastModifiedBy', 'resolvingComment'];
    for (const incident of items) for (const field of documented) assert.ok(field in incident, `${field} in incident ${incident.id}`);
    assert.equal(items[0]!['@odata.type'], '#microsoft.graph.security.incident');
    assert.ok(items.every((i) => typeof i.id === 'string' && /^\d+$/.test(i.id)), 'ids are strings of digits, as alerts_v2 gives incidentId');
    assert.ok(items.every((i) => !('alerts' in i)), 'alerts only when expanded');
    const ids = new Set(items.map((i) => i.id));
    assert.equal(ids.size, items.length, 'each incident once');
    const alerts = (await bed.get(`${ALERTS}?$top=1000`)).body.value as Body[];
    assert.equal(alerts.length, 130);
    const orphans = alerts.filter((a) => !ids.has(a.incidentId));
    assert.deepEqual(orphans.map((a) => a.id), [], "every alert's incident is served");
    for (const incident of items) {
      const its = alerts.filter((a) => a.incidentId === incident.id);
      assert.ok(its.length > 0, `incident ${incident.id} has alerts`);
      assert.ok(its.every((a) => instant(a.lastUpdateDateTime) <= instant(incident.lastUpdateDateTime)), 'an incident is updated no earlier than its alerts');
    }
  });

  it('pages by @odata.nextLink with an opaque $skiptoken: 50 at most without $top, cut below $top by the server page size', async () => {
    const { items, sizes } = await bed.all(INCIDENTS);
    assert.ok(sizes.length > 2 && sizes.slice(0, -1).every((n) => n === 50), `pages of 50 before the last: ${sizes.join(',')}`);
    assert.equal(items.length, bed.sim.incidents.truth().length);
    const first = await bed.get(q({ $top: '20' }));
    assert.equal(first.body.value.length, 20);
    const link = new URL(first.body['@odata.nextLink']);
    assert.ok(link.searchParams.has('$skiptoken') && !link.searchParams.has('$skip'));
    bed.sim.incidents.serverPageSize = 7;
    try {
      const cut = await bed.all(q({ $top: '50' }));
      assert.equal(cut.sizes[0], 7, 'the server answers fewer than $top, with a nextLink');
      assert.deepEqual(new Set(cut.items.map((i) => i.id)), new Set(items.map((i) => i.id)), 'following the links loses nothing');
    } finally {
      bed.sim.incidents.serverPageSize = undefined;
    }
    const forged = await bed.get(`${INCIDENTS}?$skiptoken=not-a-token`);
    assert.equal(forged.status, 400);
  });

  it("answers $top above 50 with the live service's 400, and $count=true with @odata.count of everything that matches", async () => {
    const tooMany = await bed.get(q({ $top: '51' }));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.code, 'BadRequest');
    assert.match(tooMany.body.error.message, /The limit of '50' for Top query has been exceeded/);
    assert.equal((await bed.get(q({ $top: '50' }))).status, 200);
    const counted = await bed.get(q({ $count: 'true', $top: '5' }));
    assert.equal(counted.body['@odata.count'], bed.sim.incidents.truth().length);
    assert.equal(counted.body.value.length, 5);
    assert.ok(!('@odata.count' in (await bed.get(q({ $top: '5' }))).body), 'no count unless asked');
    assert.equal((await bed.get(q({ $count: 'maybe' }))).status, 400);
  });

  it('filters on lastUpdateDateTime, createdDateTime, status and severity, and refuses other properties with 400', async () => {
    const truth = bed.sim.incidents.truth();
    const times = truth.map((i) => instant(i.lastUpdateDateTime)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const middle = truth.find((i) => instant(i.lastUpdateDateTime) === times[Math.floor(times.length / 2)])!.lastUpdateDateTime;
    const since = await bed.all(q({ $filter: `lastUpdateDateTime ge ${middle}` }));
    const expected = truth.filter((i) => instant(i.lastUpdateDateTime) >= instant(middle)).map((i) => i.id).sort();
    assert.deepEqual(since.items.map((i) => i.id).sort(), expected);
    const high = await bed.all(q({ $filter: "severity eq 'high' and (status eq 'active' or status eq 'inProgress')" }));
    assert.ok(high.items.length > 0);
    assert.ok(high.items.every((i) => i.severity === 'high' && (i.status === 'active' || i.status === 'inProgress')));
    const created = truth.map((i) => i.createdDateTime).sort((a, b) => (instant(a) < instant(b) ? -1 : 1))[10]!;
    const older = await bed.all(q({ $filter: `createdDateTime lt ${created}` }));
    assert.equal(older.items.length, 10);
    const refused = await bed.get(q({ $filter: "displayName eq 'x'" }));
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /displayName/);
  });

  it('honours, ignores or refuses $orderby as told', async () => {
    const ordered = async () => ((await bed.get(q({ $top: '50', $orderby: 'lastUpdateDateTime asc' }))).body.value as Body[]).map((i) => instant(i.lastUpdateDateTime));
    const sorted = (list: bigint[]) => [...list].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const ignored = await ordered();
    assert.notDeepEqual(ignored, sorted(ignored), 'by default the order is the server’s own');
    bed.sim.incidents.orderBy = 'honoured';
    try {
      const honoured = await ordered();
      assert.deepEqual(honoured, sorted(honoured));
      bed.sim.incidents.orderBy = 'refused';
      const refused = await bed.get(q({ $orderby: 'lastUpdateDateTime asc' }));
      assert.equal(refused.status, 400);
      assert.match(refused.body.error.message, /OrderBy/);
    } finally {
      bed.sim.incidents.orderBy = 'ignored';
    }
  });

  it("expands alerts on request, the incident's own alerts, and with expandAlertsFails answers 500 on every try while the plain list works", async () => {
    const expanded = await bed.all(q({ $expand: 'alerts' }));
    assert.ok(expanded.items.length > 0);
    for (const incident of expanded.items) {
      assert.ok(Array.isArray(incident.alerts) && incident.alerts.length > 0);
      assert.ok(incident.alerts.every((a: Body) => a.incidentId === incident.id && a['@odata.type'] === '#microsoft.graph.security.alert'));
    }
    bed.sim.incidents.expandAlertsFails = true;
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const failed = await bed.get(q({ $expand: 'alerts', $top: '10' }));
        assert.equal(failed.status, 500);
        assert.equal(failed.body.error.code, 'InternalServerError');
      }
      assert.equal((await bed.get(q({ $top: '10' }))).status, 200, 'without $expand the list is read');
    } finally {
      bed.sim.incidents.expandAlertsFails = false;
    }
    assert.equal((await bed.get(q({ $expand: 'evidence' }))).status, 400, 'incidents expand alerts only');
  });

  it('takes the faults the alerts endpoints take, from its own queue', async () => {
    bed.sim.incidents.faults.push({ kind: 'status', status: 503, retryAfter: '1' }, { kind: 'truncated' });
    assert.equal((await bed.get(q({ $top: '5' }))).status, 503);
    const truncated = await request(`${bed.sim.apiBaseUrl}${q({ $top: '5' })}`, { dispatcher: bed.agent, headers: { authorization: `Bearer ${bed.token}` } });
    const text = await truncated.body.text();
    assert.throws(() => JSON.parse(text) as unknown, 'a truncated body is not JSON');
    assert.deepEqual(bed.sim.incidents.requests.slice(-2).map((r) => r.fault), ['status', 'truncated']);
    assert.equal(bed.sim.api.faults.length, 0);
  });
});

describe('simulated Graph incidents follow their alerts, change, merge and show up late', () => {
  let bed: Bed;
  before(async () => {
    bed = await incidentSimulator({ initialAlerts: 40 });
  });
  after(() => bed.close());

  const incident = async (id: string) => ((await bed.all(q({ $expand: 'alerts' }))).items.find((i) => i.id === id));

  it('an incident changes when one of its alerts does: a later lastUpdateDateTime, found by the cursor filter', async () => {
    const [target] = bed.sim.incidents.truth().filter((i) => i.status !== 'redirected');
    const before = target!.lastUpdateDateTime;
    const [alertId] = bed.sim.incidents.alertIdsOf(target!.id);
    const [changed] = bed.sim.api.updateAlerts([alertId!]);
    const after = await incident(target!.id);
    assert.ok(instant(after!.lastUpdateDateTime) > instant(before), 'the incident moved forward');
    assert.ok(instant(after!.lastUpdateDateTime) >= instant(changed!.lastUpdateTime));
    const found = await bed.all(q({ $filter: `lastUpdateDateTime gt ${before}` }));
    assert.ok(found.items.some((i) => i.id === target!.id));
    const status = (await bed.get(`${ALERTS}?$top=1000`)).body.value.find((a: Body) => a.id === alertId).status;
    assert.deepEqual(after!.alerts.find((a: Body) => a.id === alertId).status, status, 'the expanded alert is the current one');
  });

  it('a merge makes the incident redirected, naming the one it went into, and moves its alerts there', async () => {
    const [first, second] = bed.sim.incidents.createIncidents(2, { alertsEach: 2 });
    const movedIds = bed.sim.incidents.alertIdsOf(first!.id);
    assert.equal(movedIds.length, 2);
    const targetBefore = (await incident(second!.id))!;
    bed.sim.incidents.mergeIncident(first!.id, second!.id);
    const source = (await incident(first!.id))!;
    const target = (await incident(second!.id))!;
    assert.equal(source.status, 'redirected');
    assert.equal(source.redirectIncidentId, second!.id);
    assert.deepEqual(source.alerts, [], 'the merged incident keeps its row but no alerts');
    assert.deepEqual(target.alerts.map((a: Body) => a.id).sort(), bed.sim.incidents.alertIdsOf(second!.id).sort());
    assert.equal(target.alerts.length, 4);
    assert.ok(movedIds.every((id) => target.alerts.some((a: Body) => a.id === id)), 'the moved alerts are in the target');
    assert.ok(instant(target.lastUpdateDateTime) > instant(targetBefore.lastUpdateDateTime), 'the target changed with its new alerts');
    const alerts = (await bed.get(`${ALERTS}?$top=1000`)).body.value as Body[];
    assert.deepEqual(alerts.filter((a) => movedIds.includes(a.id)).map((a) => a.incidentId), [second!.id, second!.id], 'the alerts themselves name their new incident');
    const redirected = await bed.all(q({ $filter: "status eq 'redirected'" }));
    assert.ok(redirected.items.some((i) => i.id === first!.id));
    assert.throws(() => bed.sim.incidents.mergeIncident(first!.id, second!.id), /cannot merge/);
    const [late] = bed.sim.api.createAlerts(1, { incidentId: Number(first!.id) });
    assert.equal(bed.sim.api.alerts.get(late!.id)!.alert.incidentId, Number(second!.id), 'an alert correlated with the merged incident goes to the one it went into');
    assert.ok(bed.sim.incidents.alertIdsOf(second!.id).includes(late!.id));
    assert.deepEqual(bed.sim.incidents.alertIdsOf(first!.id), []);
  });

  it('merges a share of the seeded incidents when told (initialMergedShare)', async () => {
    const merged = await incidentSimulator({ initialAlerts: 60, incidents: { initialMergedShare: 0.1 } });
    try {
      const { items } = await merged.all(INCIDENTS);
      const redirected = items.filter((i) => i.status === 'redirected');
      assert.equal(redirected.length, Math.floor(0.1 * merged.sim.incidents.incidents.size));
      assert.ok(redirected.length >= 5);
      const ids = new Set(items.map((i) => i.id));
      assert.ok(redirected.every((i) => ids.has(i.redirectIncidentId) && i.redirectIncidentId !== i.id));
      const alerts = (await merged.get(`${ALERTS}?$top=1000`)).body.value as Body[];
      assert.ok(alerts.every((a) => !redirected.some((i) => i.id === a.incidentId)), 'no alert is left in a redirected incident');
      // Seeded history, not changes of now: a first sync, which leaves the last 10 minutes to settle, finds them all.
      const settled = new Date(merged.sim.nowMs() - 10 * 60_000).toISOString();
      assert.ok(redirected.every((i) => String(i.lastUpdateDateTime) < settled), 'the seeded merges are older than the settle lag');
      assert.ok(alerts.every((a) => String(a.lastUpdateDateTime) < settled), 'so are the alerts they moved');
    } finally {
      await merged.close();
    }
  });

  it('serves ties: incidents sharing one lastUpdateDateTime are all found', async () => {
    const stamp = new Date(bed.sim.nowMs() - 60_000).toISOString().replace('Z', '0000Z');
    const tied = bed.sim.incidents.createIncidents(3, { lastUpdateTime: stamp });
    const found = await bed.all(q({ $filter: `lastUpdateDateTime eq ${stamp}` }));
    assert.deepEqual(found.items.map((i) => i.id).sort(), tied.map((i) => i.id).sort());
    assert.ok(found.items.every((i) => i.lastUpdateDateTime === stamp));
  });

  it('shows a new incident only some minutes after its creation time (visibleAfterMs, indexedAfterMs, unindexed)', async () => {
    bed.sim.incidents.visibleAfterMs = 5 * 60_000;
    try {
      const [alert] = bed.sim.api.createAlerts(1);
      const id = String(alert!.incidentId);
      const visibleIds = async () => new Set((await bed.all(INCIDENTS)).items.map((i) => i.id));
      assert.ok(!(await visibleIds()).has(id), 'not visible yet');
      assert.ok((await bed.get(`${ALERTS}?$top=1000`)).body.value.some((a: Body) => a.id === alert!.id), 'while its alert is');
      bed.sim.setClockOffset(6 * 60_000);
      const [late] = (await bed.all(INCIDENTS)).items.filter((i) => i.id === id);
      assert.ok(late, 'visible once the delay has passed');
      assert.ok(instant(late.createdDateTime) < instant(new Date(bed.sim.nowMs() - 5 * 60_000).toISOString()), 'with its creation time in the past');
    } finally {
      bed.sim.setClockOffset(0);
      bed.sim.incidents.visibleAfterMs = 0;
    }
    const [hidden] = bed.sim.incidents.createIncidents(1, { unindexed: true });
    assert.ok(!(await bed.all(INCIDENTS)).items.some((i) => i.id === hidden!.id));
    bed.sim.incidents.index([hidden!.id]);
    assert.ok((await bed.all(INCIDENTS)).items.some((i) => i.id === hidden!.id));
  });

  it('creates incidents under new ids only, as many as asked, at the time asked', async () => {
    const before = new Set(bed.sim.incidents.incidents.keys());
    const atMs = bed.sim.nowMs() - 3 * 86_400_000;
    const created = bed.sim.incidents.createIncidents(200, { alertsEach: 2, atMs });
    assert.equal(new Set(created.map((i) => i.id)).size, 200);
    assert.ok(created.every((i) => !before.has(i.id) && bed.sim.incidents.alertIdsOf(i.id).length === 2));
    assert.ok(created.every((i) => Math.abs(Date.parse(i.createdDateTime) - atMs) < 1000), 'created when asked');
    assert.equal(bed.sim.incidents.incidents.size, before.size + 200);
  });

  it('analysts work on incidents: every change is a new version with a later lastUpdateDateTime', async () => {
    const changed = bed.sim.incidents.updateIncidents(5);
    assert.equal(changed.length, 5);
    for (const next of changed) {
      const versions = bed.sim.incidents.versions.get(next.id)!;
      assert.equal(versions.at(-1), next);
      assert.ok(instant(next.lastUpdateDateTime) > instant(versions.at(-2)!.lastUpdateDateTime));
    }
  });
});

describe('simulated Graph incidents: permission and throttling', () => {
  let bed: Bed;
  before(async () => {
    bed = await incidentSimulator({ initialAlerts: 10, incidents: { callsPerMinute: 4 } });
    bed.sim.identity.addUser({ username: 'alerts-only@contoso.example', permissions: ['SecurityAlert.Read.All'] });
  });
  after(() => bed.close());

  it("answers 403 with Graph's error body naming SecurityIncident.Read.All to a token without it, while its alerts are read", async () => {
    const alertsOnly = await bed.tokenFor('alerts-only@contoso.example');
    const refused = await bed.get(q({ $top: '5' }), alertsOnly);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'Forbidden');
    assert.match(refused.body.error.message, /SecurityIncident\.Read\.All/);
    assert.equal((await bed.get(`${ALERTS}?$top=5`, alertsOnly)).status, 200);
    assert.equal((await bed.get(q({ $top: '5' }), 'forged')).status, 401);
  });

  it('an application needs the role too, and without grantIncidentPermission the simulated tenant grants none', async () => {
    const plain = await startSimulator({ initialAlerts: 3 });
    const agent = new Agent({ connect: { ca: plain.caCertificate } });
    try {
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: plain.clientId, client_secret: plain.identity.options.clientSecret, scope: 'https://graph.microsoft.com/.default' });
      const tokenAnswer = await request(`${plain.authorityUrl}/${plain.tenantId}/oauth2/v2.0/token`, { dispatcher: agent, method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const appToken = ((await tokenAnswer.body.json()) as { access_token: string }).access_token;
      const answer = await request(`${plain.apiBaseUrl}${INCIDENTS}`, { dispatcher: agent, headers: { authorization: `Bearer ${appToken}` } });
      assert.equal(answer.statusCode, 403);
      assert.match(await answer.body.text(), /SecurityIncident\.Read\.All/);
    } finally {
      await agent.close();
      await plain.close();
    }
  });

  it('throttles incidents with 429 and Retry-After past its per-minute limit, apart from the alerts', async () => {
    let throttled;
    for (let i = 0; i < 6 && !throttled; i += 1) {
      const answer = await bed.get(q({ $top: '1' }));
      if (answer.status === 429) throttled = { at: i, answer };
    }
    assert.ok(throttled, 'the limit was enforced');
    assert.equal(throttled.at, 4, 'after the 4 calls a minute this simulator allows (refused calls do not count)');
    assert.match(String(throttled.answer.headers['retry-after']), /^\d+$/);
    assert.equal(throttled.answer.body.error.code, 'TooManyRequests');
    assert.equal((await bed.get(`${ALERTS}?$top=1`)).status, 200, "incidents' calls do not count against the alerts'");
  });
});
