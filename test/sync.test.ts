// End to end: the real CLI process, real HTTPS to the simulator, the real MSAL library, a real SQLite file.
// Every scenario runs against both sources (the Defender API and Graph alerts_v2); what only one API does
// is tested at the end of this file and in graphSource.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { formatODataInstant, instantFromMs, parseInstant } from '../src/instants.js';
import { toGraphAlert } from '../src/simulator/graphAlert.js';
import {
  assertStoreEqualsTruth,
  count,
  createTestBed,
  cursorOf,
  lastRun,
  openDb,
  signedIn,
  bedsFor,
  SOURCES,
  type AlertSource,
  type TestBed,
} from './support/harness.js';

/** What each API names differently, for the scenarios both must pass. */
const API = {
  defender: { path: '/api/alerts', audience: 'https://api.securitycenter.microsoft.com', permission: 'Alert.Read', otherScope: 'https://graph.microsoft.com/.default', otherAudience: 'https://graph.microsoft.com', name: 'the Defender API', unmappedField: 'detectionStatusDetails' },
  graph: { path: '/v1.0/security/alerts_v2', audience: 'https://graph.microsoft.com', permission: 'SecurityAlert.Read.All', otherScope: 'https://api.securitycenter.microsoft.com/.default', otherAudience: 'https://api.securitycenter.microsoft.com', name: 'Microsoft Graph \\(security/alerts_v2\\)', unmappedField: 'alertWebUrl' },
} as const;

/** A user without the read permission (it holds `unreadable`), then one without a role: what each API says. */
const ACCESS = {
  defender: { unreadable: 'Machine.Read', carries: 'Machine\\.Read', grant: 'WindowsDefenderATP → delegated Alert\\.Read', refusedBy: 'The Defender API', forbidden: 'The user does not have the required role', role: 'a Defender role with "View Data"' },
  // Alert.Read is the Defender API's: a Graph token carries none of it.
  graph: { unreadable: 'Alert.Read', carries: 'none', grant: 'Microsoft Graph → delegated SecurityAlert\\.Read\\.All', refusedBy: 'Microsoft Graph \\(security/alerts_v2\\)', forbidden: 'Insufficient privileges', role: 'a Microsoft Defender XDR role' },
} as const;
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const source of SOURCES) scenarios(source);

function scenarios(source: AlertSource): void {
  const bed = bedsFor(source);
  const api = API[source];
  const access = ACCESS[source];
  const served = (b: TestBed) => b.sim.api.truth().filter((alert) => b.serves(alert));

  describe(`first backfill and incremental passes (source ${source})`, () => {
    it('backfills every alert with typed columns, evidence, raw JSON as received, and records the run', async () => {
      const b = await bed({ initialAlerts: 400, initialAlertDays: 60 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      const alerts = served(b);
      assert.ok(alerts.length > 300, 'most of the tenant\'s alerts are served by either API');
      assert.match(result.stdout, new RegExp(`Synced as analyst@contoso\\.example: ${alerts.length} new`));
      assertStoreEqualsTruth(b);

      const db = openDb(b.dbPath);
      const sample = alerts[0]!;
      const row = db.prepare('SELECT * FROM alerts WHERE id = ?').get(sample.id) as Record<string, unknown>;
      assert.equal(row.severity, sample.severity);
      assert.equal(row.status, sample.status);
      assert.equal(row.machine_id, sample.machineId);
      assert.equal(row.computer_dns_name, sample.computerDnsName);
      assert.equal(row.detection_source, sample.detectionSource, 'in the Defender spelling whatever the source');
      assert.equal(parseInstant(row.last_update_time), parseInstant(sample.lastUpdateTime));
      assert.match(String(row.last_update_time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      assert.ok(api.unmappedField in JSON.parse(String(row.raw_json)), 'fields without a column are kept in raw_json');
      const evidence = db.prepare('SELECT count(*) AS n FROM alert_evidence WHERE alert_id = ?').get(sample.id) as { n: number };
      const servedEvidence = source === 'graph' ? toGraphAlert(sample).evidence : sample.evidence;
      assert.equal(evidence.n, (servedEvidence as unknown[]).length);
      const techniques = db.prepare('SELECT technique FROM alert_mitre_techniques WHERE alert_id = ?').all(sample.id);
      assert.deepEqual(techniques.map((t) => (t as { technique: string }).technique), sample.mitreTechniques);
      db.close();

      const run = lastRun(b.dbPath);
      assert.equal(run.outcome, 'success');
      assert.equal(run.alerts_inserted, alerts.length);
      assert.equal(run.signed_in_user, 'analyst@contoso.example');
      assert.ok(Number(run.requests) >= 4, 'a 100-row page size needs several windows for 400 alerts');
      assert.ok(b.sim.api.requests.every((r) => r.path === api.path && r.top === 100), 'every request asks for $top=100');
      // Evidence: the Defender API sends it only with $expand; Graph sends it inline and knows no $expand.
      assert.ok(b.sim.api.requests.every((r) => r.expand === (source === 'defender')));
    });

    it('an incremental pass picks up new and changed alerts, records what changed, and writes nothing for unchanged alerts', async () => {
      const b = await bed({ initialAlerts: 200 });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const changesAfterFirst = count(b.dbPath, 'SELECT count(*) FROM alert_changes');

      // Nothing changed: one request, no alert rows written.
      const requestsBefore = b.sim.api.requests.length;
      const idle = await b.cli(['sync']);
      assert.equal(idle.code, 0, idle.stderr);
      assert.equal(b.sim.api.requests.length - requestsBefore, 1, 'an unchanged pass makes one request');
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alert_changes'), changesAfterFirst);
      assert.equal(count(b.dbPath, 'SELECT max(versions_seen) FROM alerts'), 1);

      const changed = b.sim.api.updateAlerts(30).filter((alert) => b.serves(alert));
      const created = b.sim.api.createAlerts(7).filter((alert) => b.serves(alert));
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`${created.length} new, ${changed.length} updated`));
      assertStoreEqualsTruth(b);

      const db = openDb(b.dbPath);
      const history = db.prepare("SELECT * FROM alert_changes WHERE alert_id = ? AND change = 'updated'").get(changed[0]!.id) as Record<string, unknown>;
      const fields = JSON.parse(String(history.changed_fields)) as Record<string, { old: unknown; new: unknown }>;
      assert.ok(fields[b.updateField], `the change lists ${b.updateField}`);
      assert.equal(fields[b.updateField]!.new, changed[0]!.lastUpdateTime);
      assert.ok(Object.keys(fields).some((f) => ['status', 'comments', 'classification', 'assignedTo'].includes(f)));
      assert.throws(() => db.prepare('DELETE FROM alert_changes').run(), /readonly|append-only/);
      db.close();
    });
  });

  describe(`correctness without order, nextLink or a stable $skip (source ${source})`, () => {
    it('loses nothing when alerts change during the scan, where a naive $skip pager loses rows', async () => {
      const b = await bed({ initialAlerts: 600 }, { MDE_ALERT_SYNC_PAGE_SIZE: '100' });
      await signedIn(b);

      // The same scenario first against a naive pager: $skip over one open query, alerts changing meanwhile.
      const churn = (index: number) => {
        if (index > 0 && index < 5) b.sim.api.updateAlerts(60);
      };
      b.sim.api.beforeQuery = churn;
      const token = [...b.sim.identity.accessTokens.keys()].at(-1)!;
      const seen = new Set<string>();
      const naiveScanStart = served(b).map((a) => a.id);
      const agent = new Agent({ connect: { ca: b.sim.caCertificate } });
      for (let skip = 0; ; skip += 100) {
        const url = `${b.sim.apiBaseUrl}${api.path}?%24top=100&%24skip=${skip}&%24filter=${encodeURIComponent(`${b.updateField} ge 2000-01-01T00:00:00Z`)}`;
        const response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
        assert.equal(response.statusCode, 200);
        const page = ((await response.body.json()) as { value: { id: string }[] }).value;
        for (const alert of page) seen.add(alert.id);
        if (page.length < 100) break;
      }
      await agent.close();
      const naiveLost = naiveScanStart.filter((id) => !seen.has(id));
      assert.ok(naiveLost.length > 0, 'the scenario makes a naive $skip pager lose alerts');

      // Now ours, with the same kind of churn during its scan. (The server's Date has 1 s resolution: alerts
      // changed in the second the pass starts are left to the next pass, so the naive churn must be older.)
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const start = b.sim.api.requests.length;
      const changedDuringScan = new Set<string>();
      b.sim.api.beforeQuery = (index) => {
        if (index >= start + 2 && index < start + 6) for (const alert of b.sim.api.updateAlerts(60)) changedDuringScan.add(alert.id);
      };
      const beforeOurs = served(b);
      const first = await b.cli(['sync']);
      assert.equal(first.code, 0, first.stderr);
      assert.ok(changedDuringScan.size > 150, 'alerts changed while our scan was under way');
      // Every alert that stayed put during the scan is stored at that version; those that moved on (to a
      // lastUpdateTime past this pass's horizon) are the next pass's, which then must make the store complete.
      const stored = new Map((openDb(b.dbPath).prepare('SELECT id, raw_json FROM alerts').all() as { id: string; raw_json: string }[]).map((r) => [r.id, JSON.parse(r.raw_json)[b.updateField]]));
      const skipped = beforeOurs.filter((a) => !changedDuringScan.has(a.id) && stored.get(a.id) !== a.lastUpdateTime).map((a) => a.id);
      assert.deepEqual(skipped, [], 'no unchanged alert is skipped during a changing scan');
      b.sim.api.beforeQuery = undefined;
      // Alerts changed in the second the next pass starts would be the pass after's (the Date's resolution).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('splits a full window until each is read whole, and keeps alerts that share a timestamp at a window edge', async () => {
      const b = await bed({}, { MDE_ALERT_SYNC_PAGE_SIZE: '20' });
      const now = b.sim.nowMs();
      // 45 alerts on one exact instant (more than two pages), plus neighbours 100 ns either side.
      const tieInstant = instantFromMs(now - 3_600_000) + 1234567n;
      const tie = formatODataInstant(tieInstant);
      b.sim.api.createAlerts(45, { lastUpdateTime: tie });
      b.sim.api.createAlerts(3, { lastUpdateTime: formatODataInstant(tieInstant - 1n) });
      b.sim.api.createAlerts(3, { lastUpdateTime: formatODataInstant(tieInstant + 1n) });
      b.sim.api.seed(150, 10);
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assertStoreEqualsTruth(b);
      const filters = b.sim.api.requests.map((r) => r.filter ?? '');
      assert.ok(filters.some((f) => f.includes(' lt ')), 'bounded windows were read after the open one came back full');
      assert.ok(b.sim.api.requests.some((r) => r.skip > 0), 'the 45 alerts of one instant were paged within that instant');
      assert.ok(b.sim.api.requests.filter((r) => r.status === 200).every((r) => r.returned <= 20));
    });
  });

  describe(`faults on the API path (source ${source})`, () => {
    it('splits a window whose answer exceeds the response size cap instead of failing', async () => {
      const b = await bed({ initialAlerts: 1200 }, { MDE_ALERT_SYNC_MAX_RESPONSE_MEGABYTES: '1' });
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assertStoreEqualsTruth(b);
      assert.ok(b.sim.api.requests.length > 2, 'the 1 MB cap forced smaller windows');
    });


    it('waits for Retry-After on 429 and retries 5xx, timeouts, resets and malformed bodies until success', async () => {
      const b = await bed({ initialAlerts: 50 });
      await signedIn(b);
      b.sim.api.faults.push(
        { kind: 'status', status: 429, retryAfter: '1' },
        { kind: 'status', status: 503 },
        { kind: 'reset' },
        { kind: 'truncated' },
        { kind: 'html', status: 502 },
        { kind: 'empty', status: 500 },
        { kind: 'wrongShape' },
      );
      const result = await b.cli(['sync'], { MDE_ALERT_SYNC_MAX_RETRIES: '8' });
      assert.equal(result.code, 0, result.stderr);
      assertStoreEqualsTruth(b);
      const [throttled, retried] = b.sim.api.requests;
      assert.equal(throttled!.status, 429);
      assert.ok(retried!.atMs - throttled!.atMs >= 1000, `the retry came ${retried!.atMs - throttled!.atMs} ms after a 429 with Retry-After: 1`);
      const run = lastRun(b.dbPath);
      assert.equal(run.retries, 7);
      assert.equal(run.throttled, 1);
      assert.match(result.stderr, /HTML page/);
    });

    it('a stalled response times out and is retried', async () => {
      const b = await bed({ initialAlerts: 20 });
      await signedIn(b);
      b.sim.api.faults.push({ kind: 'stall', ms: 2500 });
      const result = await b.cli(['sync'], { MDE_ALERT_SYNC_REQUEST_TIMEOUT: '1s' });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /no complete answer within 1000 ms/);
      assertStoreEqualsTruth(b);
    });

    it('when retries run out, the pass fails with a clear message, exit 1, and keeps what was stored and the cursor', async () => {
      const b = await bed({ initialAlerts: 30 });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursor = cursorOf(b.dbPath);
      b.sim.api.createAlerts(5);
      const stored = count(b.dbPath, 'SELECT count(*) FROM alerts');
      for (let i = 0; i < 10; i += 1) b.sim.api.faults.push({ kind: 'html', status: 502 });
      const result = await b.cli(['sync'], { MDE_ALERT_SYNC_MAX_RETRIES: '2' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /mde-alert-sync: Reading alerts failed after 3 attempts: .*HTML page.*The cursor was kept/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(cursorOf(b.dbPath), cursor);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), stored);
      assert.equal(lastRun(b.dbPath).outcome, 'failed');
      b.sim.api.faults.length = 0;
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('names a missing permission before any API call, and stops at once on a 403 from the API', async () => {
      const b = await bed({ initialAlerts: 5 });
      b.sim.identity.defaultUser.permissions = [access.unreadable];
      await signedIn(b);
      const result = await b.cli(['sync']);
      assert.equal(result.code, 4);
      assert.match(result.stderr, new RegExp(`cannot read alerts: the token lacks the permission ${escaped(api.permission)} \\(it carries: ${access.carries}\\): in the app registration add ${access.grant}`));
      assert.equal(b.sim.api.requests.length, 0, 'no API call with a token that cannot read alerts');

      // With the permission but without a role, the API answers 403: not retried, the role is named.
      b.sim.identity.defaultUser.permissions = [api.permission];
      assert.equal((await b.cli(['logout'])).code, 0);
      await signedIn(b);
      b.sim.api.faults.push({ kind: 'status', status: 403, body: `{"error":{"code":"Forbidden","message":"${access.forbidden}"}}` });
      const forbidden = await b.cli(['sync']);
      assert.equal(forbidden.code, 4);
      assert.match(forbidden.stderr, new RegExp(`${access.refusedBy} refused access \\(HTTP 403 Forbidden: ${access.forbidden}\\)\\. The token carries ${escaped(api.permission)}, so the signed-in user lacks ${access.role}`));
      assert.equal(b.sim.api.requests.length, 1, '403 is not retried');
    });

    it('token (whoami) shows the account, tenant, audience, expiry and permissions, and fails when they cannot read alerts', async () => {
      const b = await bed();
      await signedIn(b);
      const ok = await b.cli(['whoami']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Account: +analyst@contoso\.example/);
      assert.match(ok.stdout, new RegExp(`Tenant: +${b.sim.tenantId}`));
      assert.match(ok.stdout, new RegExp(`Audience: +${api.audience}\n`));
      assert.match(ok.stdout, /Expires: +\d{4}-.*refreshed silently/);
      assert.match(ok.stdout, new RegExp(`Permissions: +${api.permission} \\(delegated scp\\)`));
      assert.match(ok.stdout, new RegExp(`This token can read alerts from ${api.name}`));
      for (const secret of b.sim.identity.issuedSecrets()) assert.ok(!ok.stdout.includes(secret));

      // A token for the other API (the scope of the wrong source) is refused before it is sent to the API.
      const otherScope = { MDE_ALERT_SYNC_SCOPE: api.otherScope };
      assert.equal((await b.cli(['logout'])).code, 0);
      assert.equal((await b.cli(['login'], otherScope)).code, 0);
      const wrong = await b.cli(['token'], otherScope);
      assert.equal(wrong.code, 4);
      assert.match(wrong.stderr, new RegExp(`audience is ${api.otherAudience}, not ${api.name}`));
      assert.equal((await b.cli(['sync'], otherScope)).code, 4);
      assert.equal(b.sim.api.requests.length, 0);
    });

    it('a 400 is not retried', async () => {
      const b = await bed({ initialAlerts: 5 });
      await signedIn(b);
      b.sim.api.faults.push({ kind: 'status', status: 400, body: '{"error":{"code":"BadRequest","message":"Invalid filter clause"}}' });
      const result = await b.cli(['sync']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /refused the request \(HTTP 400 BadRequest: Invalid filter clause\); not retried/);
      assert.equal(b.sim.api.requests.length, 1);
    });
  });

  describe(`tokens (source ${source})`, () => {
    it('refreshes an expired access token silently between runs with the persisted refresh token', async () => {
      // MSAL renews tokens that expire within 5 minutes: a 4-minute lifetime makes every run refresh.
      const b = await bed({ initialAlerts: 10, identity: { accessTokenLifetimeSec: 240 } });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      assert.equal((await b.cli(['sync'])).code, 0);
      const refreshes = b.sim.identity.tokenRequests.filter((r) => r.grantType === 'refresh_token' && r.status === 200);
      assert.ok(refreshes.length >= 2, 'each run redeemed the refresh token from the cache on disk');
      const users = new Set(b.sim.api.requests.map((r) => r.username));
      assert.deepEqual([...users], ['analyst@contoso.example']);
    });

    it('gets one forced refresh after a 401 and retries once', async () => {
      const b = await bed({ initialAlerts: 10 });
      await signedIn(b);
      b.sim.api.faults.push({ kind: 'status', status: 401, body: '{"error":{"code":"Unauthorized","message":"token revoked"}}' });
      const result = await b.cli(['sync']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(b.sim.identity.tokenRequests.filter((r) => r.grantType === 'refresh_token').length, 1);
      assertStoreEqualsTruth(b);
    });

    it('a revoked refresh token gives the sign-in message, signs out, and is never sent again', async () => {
      const b = await bed({ initialAlerts: 10, identity: { accessTokenLifetimeSec: 60 } });
      await signedIn(b);
      b.sim.identity.revokeRefreshTokens();
      const first = await b.cli(['sync']);
      assert.equal(first.code, 3);
      assert.match(first.stderr, /AADSTS50173.*Run "mde-alert-sync login" to sign in again/s);
      const second = await b.cli(['sync']);
      assert.equal(second.code, 3);
      assert.match(second.stderr, /No account is signed in\. Run "mde-alert-sync login"/);
      assert.equal(b.sim.identity.tokenRequests.filter((r) => r.grantType === 'refresh_token').length, 1, 'the dead refresh token was sent once');
      assert.equal(b.sim.api.requests.length, 0);
      const status = await b.cli(['status']);
      assert.match(status.stdout, /nobody is signed in/);
      assert.match(status.stdout, /failed/);
    });

    it('every invalid_grant cause (700082 inactivity, 50173 revoked, 70043 sign-in frequency) signs out with the login message', async () => {
      for (const [code, suberror] of [[700082, 'bad_token'], [50173, undefined], [70043, 'bad_token']] as const) {
        const b = await bed({ initialAlerts: 3, identity: { accessTokenLifetimeSec: 60 } });
        await signedIn(b);
        b.sim.identity.faults.push({ status: 400, error: 'invalid_grant', code, grantTypes: ['refresh_token'], ...(suberror ? { suberror } : {}) });
        const result = await b.cli(['sync']);
        assert.equal(result.code, 3, `AADSTS${code}`);
        assert.match(result.stderr, new RegExp(`AADSTS${code}.*Run "mde-alert-sync login" to sign in again`, 's'));
        assert.match((await b.cli(['status'])).stdout, /nobody is signed in/, 'the dead account is gone from the cache on disk');
      }
    });

    it('sync without login says to sign in; logout removes the session', async () => {
      const b = await bed({ initialAlerts: 3 });
      const before = await b.cli(['sync']);
      assert.equal(before.code, 3);
      assert.match(before.stderr, /No account is signed in\. Run "mde-alert-sync login"/);
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const out = await b.cli(['logout']);
      assert.equal(out.code, 0);
      assert.match(out.stdout, /Signed out analyst@contoso\.example/);
      assert.equal((await b.cli(['sync'])).code, 3);
    });

    it('a declined device code ends login with a clear message', async () => {
      const b = await bed({ identity: { autoApproveAfterMs: null } });
      const login = b.spawnCli(['login']);
      while (b.sim.identity.approveDeviceCodes('declined') === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      const result = await login.done;
      assert.equal(result.code, 3);
      assert.match(result.stdout, /enter the code [0-9A-F]+ to authenticate/);
      assert.match(result.stderr, /Sign-in did not complete: .*authorization_declined/);
    });
  });

  describe(`crash and resume (source ${source})`, () => {
    it('a process killed mid-backfill resumes where it stopped, with nothing lost or duplicated', async () => {
      // Pages of 20: with Graph, a settled window of up to 32 pages is one commit, and the backfill needs several.
      const b = await bed({ initialAlerts: 1500, initialAlertDays: 90 }, { MDE_ALERT_SYNC_PAGE_SIZE: '20' });
      await signedIn(b);
      const run = b.spawnCli(['sync']);
      let killedAt = -1;
      // Killed once a window has moved the cursor (with Graph, the pages of a settled window move it only when
      // the last of them is read): what was committed is kept, the rest is read again.
      const lookBack = () => parseInstant(b.sim.api.requests[0]!.filter!.split(' ')[2]);
      b.sim.api.beforeQuery = (index) => {
        if (index < 12 || killedAt >= 0) return;
        const cursor = parseInstant(cursorOf(b.dbPath));
        if (cursor !== undefined && cursor > lookBack()!) {
          killedAt = index;
          run.child.kill('SIGKILL');
        }
      };
      const killed = await run.done;
      assert.equal(killed.signal, 'SIGKILL');
      const partial = count(b.dbPath, 'SELECT count(*) FROM alerts');
      assert.ok(partial > 0 && partial < served(b).length, `some windows were committed before the kill (${partial})`);
      const cursorAfterKill = cursorOf(b.dbPath);
      assert.ok(cursorAfterKill, 'the cursor moved with the committed windows');
      b.sim.api.beforeQuery = undefined;

      const resumed = await b.cli(['sync']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assertStoreEqualsTruth(b);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM alert_changes WHERE change = 'created'"), served(b).length, 'each alert created exactly once');
      const resumedFilters = b.sim.api.requests.slice(killedAt + 1).map((r) => r.filter ?? '');
      const resumedFrom = new RegExp(`${b.updateField} ge (\\S+)`).exec(resumedFilters[0]!)![1]!;
      assert.ok(parseInstant(resumedFrom)! > parseInstant(b.sim.api.requests[0]!.filter!.split(' ')[2])!, 'the resumed pass starts from the cursor, not from the look-back');
      assert.ok(parseInstant(cursorOf(b.dbPath))! >= parseInstant(cursorAfterKill)!, 'the cursor never moves back');
      const runs = openDb(b.dbPath).prepare('SELECT outcome FROM sync_runs ORDER BY id').all() as { outcome: string }[];
      assert.deepEqual(runs.map((r) => r.outcome), ['interrupted', 'success']);
    });
  });

  describe(`time (source ${source})`, () => {
    it('reads alerts indexed late (timestamps already behind the horizon) thanks to the settle lag', async () => {
      const scenario = async (settleLag: string) => {
        const b = await bed({ initialAlerts: 20 }, { MDE_ALERT_SYNC_OVERLAP: '0', MDE_ALERT_SYNC_SETTLE_LAG: settleLag });
        await signedIn(b);
        // Stamped 3 minutes ago, but the service shows them only after the next pass: that pass cannot see them.
        const late = b.sim.api.createAlerts(4, { atMs: b.sim.nowMs() - 180_000, unindexed: true });
        assert.equal((await b.cli(['sync'])).code, 0);
        b.sim.api.index(late.map((a) => a.id));
        assert.equal((await b.cli(['sync'])).code, 0);
        const ids = new Set((openDb(b.dbPath).prepare('SELECT id FROM alerts').all() as { id: string }[]).map((r) => r.id));
        return { b, found: late.filter((a) => ids.has(a.id)).length, served: late.filter((a) => b.serves(a)).length };
      };
      const withLag = await scenario('10m');
      assert.ok(withLag.served > 0);
      assert.equal(withLag.found, withLag.served);
      assertStoreEqualsTruth(withLag.b);
      // Control: without settle lag or overlap the same alerts are lost, so the lag is what saves them.
      assert.equal((await scenario('0')).found, 0);
    });

    it("uses the server's clock, not the machine's, for the cursor", async () => {
      const skewMs = -3 * 3_600_000; // the server is three hours behind this machine
      const b = await bed({ initialAlerts: 30, clockOffsetMs: skewMs });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursorMs = Number(parseInstant(cursorOf(b.dbPath))! / 10_000n);
      const serverNow = b.sim.nowMs();
      assert.ok(cursorMs <= serverNow - 10 * 60_000 + 1000, 'the cursor stays a settle lag behind the server clock');
      assert.ok(cursorMs > serverNow - 11 * 60_000, 'and follows the server clock, not the local one');
      b.sim.api.createAlerts(5);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });
  });
}

describe('the Defender API only (Graph: graphSource.test.ts)', () => {
  const bed = createTestBed;

  it('follows an @odata.nextLink on the API host, and refuses one to another host or one that loops', async () => {
    const b = await bed({ initialAlerts: 40 });
    await signedIn(b);
    b.sim.api.faults.push({ kind: 'nextLink', pageSize: 15 });
    const paged = await b.cli(['sync']);
    assert.equal(paged.code, 0, paged.stderr);
    assertStoreEqualsTruth(b);
    assert.deepEqual(b.sim.api.requests.slice(0, 2).map((r) => [r.skip, r.returned]), [[0, 15], [15, 25]], 'the link was followed to the rest of the answer');
    assert.ok(b.sim.api.requests.length > 2, 'an answer in several pages (each with a live $skip) was read again in smaller windows');

    b.sim.api.createAlerts(30);
    const cursor = cursorOf(b.dbPath);
    const before = b.sim.api.requests.length;
    b.sim.api.faults.push({ kind: 'nextLink', pageSize: 10, host: 'collector.attacker.example' });
    const foreign = await b.cli(['sync']);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /@odata\.nextLink to another host \(https:\/\/collector\.attacker\.example:\d+\); not followed, so the access token is not sent there/);
    assert.equal(b.sim.api.requests.length, before + 1, 'nothing was sent anywhere after the first answer');
    assert.equal(cursorOf(b.dbPath), cursor, 'a partial answer does not move the cursor');

    b.sim.api.faults.push({ kind: 'nextLink', pageSize: 10, loop: true });
    const loop = await b.cli(['sync']);
    assert.equal(loop.code, 1);
    assert.match(loop.stderr, /@odata\.nextLink it had already given \(a paging loop\)/);
    assert.equal(cursorOf(b.dbPath), cursor);

    assert.equal((await b.cli(['sync'])).code, 0);
    assertStoreEqualsTruth(b);
  });
});
