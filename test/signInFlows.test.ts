// The other ways a tenant authenticates: username/password (ROPC) and application context, for either source.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { bedsFor, lastRun, SOURCES, type AlertSource } from './support/harness.js';

/** What the application flow names differently per source. */
const APPLICATION = {
  defender: { role: 'Alert.Read.All', otherRole: 'Machine.Read.All', missing: 'WindowsDefenderATP → application Alert\\.Read\\.All' },
  graph: { role: 'SecurityAlert.Read.All', otherRole: 'User.Read.All', missing: 'Microsoft Graph → application SecurityAlert\\.Read\\.All' },
} as const;
const PASSWORD = 'correct horse battery staple';
const passwordFlow = { MDE_ALERT_SYNC_AUTH_FLOW: 'password', MDE_ALERT_SYNC_USERNAME: 'analyst@contoso.example', MDE_ALERT_SYNC_PASSWORD: PASSWORD };

for (const source of SOURCES) signInFlows(source);

function signInFlows(source: AlertSource): void {
  const bed = (settings: Record<string, string>, identity = {}) => bedsFor(source)({ initialAlerts: 12, identity }, settings);
  const application = APPLICATION[source];

  describe(`username and password (ROPC) (source ${source})`, () => {
    it('signs in, syncs, warns that the flow is deprecated, and signs itself in again when the refresh token is revoked', async () => {
      const b = await bed(passwordFlow, { accessTokenLifetimeSec: 60 });
      const login = await b.cli(['login']);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, /authFlow password \(ROPC\) is deprecated/);
      assert.equal((await b.cli(['sync'])).code, 0);
      b.sim.identity.revokeRefreshTokens();
      const again = await b.cli(['sync']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(b.sim.identity.tokenRequests.filter((r) => r.grantType === 'password' && r.status === 200).length, 2);
      assert.equal(b.sim.identity.tokenRequests.filter((r) => r.grantType === 'refresh_token' && r.status === 400).length, 1, 'the revoked token was sent once');
    });

    it('names the AADSTS cause when MFA blocks it or the password is wrong', async () => {
      const b = await bed(passwordFlow);
      b.sim.identity.defaultUser.mfaRequired = true;
      const mfa = await b.cli(['login']);
      assert.equal(mfa.code, 3);
      assert.match(mfa.stderr, /Password sign-in of analyst@contoso\.example failed: .*AADSTS50076.*use authFlow deviceCode/);
      b.sim.identity.defaultUser.mfaRequired = false;
      const wrong = await b.cli(['login'], { MDE_ALERT_SYNC_PASSWORD: 'not the password' });
      assert.equal(wrong.code, 3);
      assert.match(wrong.stderr, /AADSTS50126.*Check the username and the password/);
    });

    it('records which user signed in and warns when the user changes', async () => {
      const b = await bed(passwordFlow);
      b.sim.identity.addUser({ username: 'second.analyst@contoso.example' });
      assert.equal((await b.cli(['login'])).code, 0);
      const first = await b.cli(['sync']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(lastRun(b.dbPath).signed_in_user, 'analyst@contoso.example');
      assert.doesNotMatch(first.stderr, /signed-in user changed/);

      const second = { MDE_ALERT_SYNC_USERNAME: 'second.analyst@contoso.example' };
      assert.equal((await b.cli(['logout'])).code, 0);
      assert.equal((await b.cli(['login'], second)).code, 0);
      const changed = await b.cli(['sync'], second);
      assert.equal(changed.code, 0, changed.stderr);
      assert.equal(lastRun(b.dbPath).signed_in_user, 'second.analyst@contoso.example');
      assert.match(changed.stderr, /"level":40.*the signed-in user changed: a delegated token sees only the alerts of its user's device groups/);
      assert.match(changed.stderr, /previousUser.*analyst@contoso\.example/);
    });

    it('never takes the password from the configuration file', async () => {
      const b = await bed({});
      const file = path.join(b.dir, 'config.yaml');
      writeFileSync(file, `authFlow: password\nusername: analyst@contoso.example\npassword: ${PASSWORD}\n`);
      const result = await b.cli(['--config', file, 'login']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /password \(in .*\): secrets are never read from the configuration file; use MDE_ALERT_SYNC_PASSWORD or passwordFile/);
      assert.match(result.stderr, /MDE_ALERT_SYNC_PASSWORD: authFlow password needs the password/);
    });
  });

  describe(`application context (client credentials) (source ${source})`, () => {
    it('syncs with a client secret, stores no token, and shows application roles', async () => {
      const b = await bed({ MDE_ALERT_SYNC_AUTH_FLOW: 'clientCredentials' });
      const env = { MDE_ALERT_SYNC_CLIENT_SECRET: b.sim.identity.options.clientSecret };
      const sync = await b.cli(['sync'], env);
      assert.equal(sync.code, 0, sync.stderr);
      assert.equal(lastRun(b.dbPath).signed_in_user, `application ${b.sim.clientId}`);
      assert.equal(existsSync(path.join(b.dir, 'token-cache')) || existsSync(path.join(b.dir, 'token-cache.json')), false);
      const token = await b.cli(['token'], env);
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout, new RegExp(`Permissions: +${application.role} \\(application roles\\)`));
      const wrong = await b.cli(['sync'], { MDE_ALERT_SYNC_CLIENT_SECRET: 'a-wrong-secret-value' });
      assert.equal(wrong.code, 3);
      assert.match(wrong.stderr, /application credentials were refused: .*AADSTS7000215/);
      assert.equal(b.sim.identity.tokenRequests.filter((r) => r.status === 401).length, 1, 'a refused secret is not retried');
    });

    it('names the missing application role before any API call', async () => {
      const b = await bed({ MDE_ALERT_SYNC_AUTH_FLOW: 'clientCredentials' });
      // Roles that cannot read alerts: Machine.Read.All is the Defender API's, User.Read.All Graph's.
      b.sim.identity.options.applicationRoles = ['Machine.Read.All', 'User.Read.All'];
      const sync = await b.cli(['sync'], { MDE_ALERT_SYNC_CLIENT_SECRET: b.sim.identity.options.clientSecret });
      assert.equal(sync.code, 4);
      assert.match(sync.stderr, new RegExp(`the token lacks the application role ${application.role.replace(/\./g, '\\.')} \\(it carries: ${application.otherRole.replace(/\./g, '\\.')}\\): in the app registration add ${application.missing}`));
      assert.equal(b.sim.api.requests.length, 0);
    });

    it('syncs with a certificate', async () => {
      const b = await bed({ MDE_ALERT_SYNC_AUTH_FLOW: 'clientCredentials' });
      const pems = await generate([{ name: 'commonName', value: 'mde-alert-sync test app' }], { keyType: 'rsa', keySize: 2048 });
      const file = path.join(b.dir, 'app.pem');
      writeFileSync(file, `${pems.cert}\n${pems.private}`, { mode: 0o600 });
      const sync = await b.cli(['sync'], { MDE_ALERT_SYNC_CLIENT_CERTIFICATE_FILE: file });
      assert.equal(sync.code, 0, sync.stderr);
      assert.match(sync.stdout, new RegExp(`${b.sim.api.truth().filter((alert) => b.serves(alert)).length} new`));
    });
  });
}
