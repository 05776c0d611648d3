import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CONFIG_KEYS, envName, loadSettings, maxResponseMegabytes } from '../src/config/settings.js';
import { ConfigurationError } from '../src/errors.js';
import { CLI, runProcess, tempDir } from './support/harness.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = '66666666-7777-8888-9999-000000000000';
const dir = tempDir('config-');
after(() => undefined);

function messageOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigurationError, String(error));
    return error.message;
  }
  assert.fail('no ConfigurationError');
}

describe('configuration', () => {
  it('reads the example file, lets MDE_ALERT_SYNC_<KEY> override it, and derives endpoints from the cloud', () => {
    const file = path.join(dir, 'a.yaml');
    writeFileSync(file, `tenantId: ${TENANT}\nclientId: ${CLIENT}\ncloud: gcc-high\npageSize: 500\nseverityFilter: [High, Medium]\nlookback: 30d\n`);
    const settings = loadSettings({ configPath: file, env: { MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_PAGE_SIZE: '250', MDE_ALERT_SYNC_STATUS_FILTER: 'New,InProgress', MDE_ALERT_SYNC_TOKEN_CACHE_KEY: 'k'.repeat(20) }, needsIdentity: true });
    assert.equal(settings.pageSize, 250);
    assert.deepEqual(settings.severityFilter, ['High', 'Medium']);
    assert.deepEqual(settings.statusFilter, ['New', 'InProgress']);
    assert.equal(settings.lookback, 30 * 86_400_000);
    assert.equal(settings.authorityHost, 'https://login.microsoftonline.us');
    assert.equal(settings.apiBaseUrl, 'https://api-gov.securitycenter.microsoft.us');
    assert.equal(settings.scope, 'https://api-gov.securitycenter.microsoft.us/.default');
    const example = loadSettings({ configPath: 'config/mde-alert-sync.example.yaml', env: { MDE_ALERT_SYNC_TOKEN_CACHE_KEY: 'x'.repeat(32) }, needsIdentity: true });
    assert.equal(example.cloud, 'commercial');
    assert.equal(example.source, 'graph', 'the example configuration reads Microsoft Graph');
  });

  it('names every bad key and why in one message', () => {
    const env = {
      MDE_ALERT_SYNC_TENANT_ID: 'not a tenant',
      MDE_ALERT_SYNC_PAGE_SIZE: '20000',
      MDE_ALERT_SYNC_CLOUD: 'mars',
      MDE_ALERT_SYNC_API_BASE_URL: 'http://insecure.example',
      MDE_ALERT_SYNC_LOOKBACK: 'forever',
      MDE_ALERT_SYNC_SEVERITY_FILTER: 'High,Critical',
      MDE_ALERT_SYNC_CA_FILE: '/nonexistent/ca.pem',
      MDE_ALERT_SYNC_EXPAND_EVIDENCE: 'perhaps',
      MDE_ALERT_SYNC_PAGESIZE: '10',
      MDE_ALERT_SYNC_SCHEDULE: 'every five minutes',
      MDE_ALERT_SYNC_HEALTH_PORT: '70000',
      MDE_ALERT_SYNC_OVERLAP: '-5m',
      MDE_ALERT_SYNC_DATABASE_PATH: '',
    };
    let message = '';
    try {
      loadSettings({ env, needsIdentity: true });
    } catch (error) {
      assert.ok(error instanceof ConfigurationError);
      message = error.message;
    }
    for (const expected of [
      /tenantId \(from MDE_ALERT_SYNC_TENANT_ID\): must be the directory \(tenant\) GUID/,
      /pageSize \(from MDE_ALERT_SYNC_PAGE_SIZE\): must be at most 10000/,
      /cloud .*: must be one of commercial, gcc, gcc-high, dod/,
      /apiBaseUrl .*: must be an https:\/\/ URL/,
      /lookback .*: must be a duration/,
      /severityFilter\[1\] .*: unknown value "Critical"/,
      /caFile .*: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
      /expandEvidence .*: must be true or false/,
      /MDE_ALERT_SYNC_PAGESIZE: unknown environment variable/,
      /clientId: required/,
      /schedule .*: must be a cron expression such as "\*\/5 \* \* \* \*"/,
      /healthPort .*: must be at most 65535/,
      /overlap .*: must be a duration such as "90s"/,
      /databasePath .*: must not be empty/,
    ]) {
      assert.match(message, expected);
    }
  });

  it('rejects unknown keys in the file with a suggestion, and unreadable or malformed files clearly', () => {
    const typo = path.join(dir, 'typo.yaml');
    writeFileSync(typo, `tenantid: ${TENANT}\n`);
    assert.throws(() => loadSettings({ configPath: typo, env: {} }), /tenantid \(in .*\): unknown key; did you mean tenantId\?/);
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'tenantId: [unclosed\n');
    assert.throws(() => loadSettings({ configPath: broken, env: {} }), /is not valid YAML/);
    assert.throws(() => loadSettings({ configPath: path.join(dir, 'missing.yaml'), env: {} }), /Cannot read the configuration file .*ENOENT/);
    const list = path.join(dir, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    assert.throws(() => loadSettings({ configPath: list, env: {} }), /must hold "key: value" lines, not a list/);
  });

  it('reports keys named like JavaScript object properties (constructor, toString, __proto__) as unknown keys', () => {
    const file = path.join(dir, 'prototype.yaml');
    writeFileSync(file, 'constructor: 1\ntoString: x\n__proto__: {pageSize: 5}\nhasOwnProperty: 2\n');
    const message = messageOf(() => loadSettings({ configPath: file, env: {} }));
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) assert.match(message, new RegExp(`- ${key} \\(in .*\\): unknown key$`, 'm'));
    assert.doesNotMatch(message, /native code|\[object Object\]|secrets are never read/);
  });

  it('refuses a configuration file that is not a regular file, or larger than 1 MiB, without reading it whole', () => {
    assert.throws(() => loadSettings({ configPath: '/dev/zero', env: {} }), /The configuration file \/dev\/zero is not a regular file \(a character device\): give the path of a YAML file/);
    assert.throws(() => loadSettings({ configPath: dir, env: {} }), /is not a regular file \(a directory\)/);
    const large = path.join(dir, 'large.yaml');
    writeFileSync(large, `# ${'x'.repeat(1_048_576)}\n`);
    assert.throws(() => loadSettings({ configPath: large, env: {} }), /The configuration file .*large\.yaml is larger than 1 MiB: it is not a configuration file/);
  });

  it('expands ~/ in databasePath and tokenCachePath to the home directory, and refuses ~user', () => {
    const settings = loadSettings({ env: { MDE_ALERT_SYNC_DATABASE_PATH: '~/alerts.db', MDE_ALERT_SYNC_TOKEN_CACHE_PATH: '~/cache/token.json' } });
    assert.equal(settings.databasePath, path.join(homedir(), 'alerts.db'));
    assert.equal(settings.tokenCachePath, path.join(homedir(), 'cache', 'token.json'));
    assert.equal(loadSettings({ env: { MDE_ALERT_SYNC_DATABASE_PATH: '~/x/a.db' } }).tokenCachePath, path.join(homedir(), 'x', 'token-cache', 'token-cache.json'));
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_DATABASE_PATH: '~bob/alerts.db' } }), /databasePath \(from MDE_ALERT_SYNC_DATABASE_PATH\): only "~\/" \(your home directory\) is expanded: write the path of ~bob out in full/);
  });

  it('refuses a databasePath that exists but is not a regular file', () => {
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_DATABASE_PATH: '/dev/null' } }), /databasePath \(from MDE_ALERT_SYNC_DATABASE_PATH\): \/dev\/null is a character device, not a database file: give the path of a SQLite file \(or of one to create\)/);
    const folder = path.join(dir, 'a-directory');
    mkdirSync(folder, { recursive: true });
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_DATABASE_PATH: folder } }), /databasePath .*: .*a-directory is a directory, not a database file/);
  });

  it('states duration ranges in whole units', () => {
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_REQUEST_TIMEOUT: '2h' } }), /requestTimeout \(from MDE_ALERT_SYNC_REQUEST_TIMEOUT\): requestTimeout must be between 100ms and 1h$/m);
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_LOOKBACK: '400d' } }), /lookback must be between 1m and 365d/);
  });

  it('refuses a caFile whose certificate blocks cannot be parsed', () => {
    const garbled = path.join(dir, 'garbled-ca.pem');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    assert.throws(() => loadSettings({ env: { MDE_ALERT_SYNC_CA_FILE: garbled } }), /caFile \(from MDE_ALERT_SYNC_CA_FILE\): .*garbled-ca\.pem: certificate 1 of 1 cannot be parsed \(.*\): give the PEM certificate of the CA/);
  });

  it('caps a response at a quarter of the heap limit unless maxResponseMegabytes is set', () => {
    const MB = 1_048_576;
    assert.equal(maxResponseMegabytes({}, 4144 * MB), 512, 'at most 512 on a large heap');
    assert.equal(maxResponseMegabytes({}, 240 * MB), 60, 'the image caps old space at 192 MB: a heap limit of about 240 MB');
    assert.equal(maxResponseMegabytes({ maxResponseMegabytes: 900 }, 240 * MB), 900, 'an explicit setting wins');
  });

  it('syncs incidents by default with source graph, not with defender, and refuses incidents: true with defender', () => {
    const env = (more: Record<string, string>) => ({ MDE_ALERT_SYNC_TOKEN_CACHE_KEY: 'k'.repeat(20), MDE_ALERT_SYNC_TENANT_ID: TENANT, MDE_ALERT_SYNC_CLIENT_ID: CLIENT, ...more });
    assert.equal(loadSettings({ env: env({ MDE_ALERT_SYNC_SOURCE: 'graph' }) }).incidents, true);
    assert.equal(loadSettings({ env: env({}) }).incidents, true, 'a new database syncs Graph, with its incidents');
    assert.equal(loadSettings({ env: env({ MDE_ALERT_SYNC_SOURCE: 'graph', MDE_ALERT_SYNC_INCIDENTS: 'false' }) }).incidents, false);
    assert.equal(loadSettings({ env: env({ MDE_ALERT_SYNC_SOURCE: 'defender' }) }).incidents, false, 'the Defender API has no incidents endpoint here');
    const message = messageOf(() => loadSettings({ env: env({ MDE_ALERT_SYNC_SOURCE: 'defender', MDE_ALERT_SYNC_INCIDENTS: 'true' }) }));
    assert.match(message, /incidents \(from MDE_ALERT_SYNC_INCIDENTS\): incidents are read from Microsoft Graph \(security\/incidents\); with source defender set source: graph, or remove incidents/);
  });

  it('documents every key in the README and the example file', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync('README.md', 'utf8');
    const example = readFileSync('config/mde-alert-sync.example.yaml', 'utf8');
    for (const key of CONFIG_KEYS) {
      assert.ok(readme.includes(`\`${key}\``) && readme.includes(envName(key)), `README documents ${key} and ${envName(key)}`);
      assert.ok(new RegExp(`^#? ?${key}:`, 'm').test(example), `the example file shows ${key}`);
    }
  });

  it('never prints the value of a variable that names a secret file (a secret pasted there by mistake), from the environment or the file', async () => {
    const emptyFile = path.join(dir, 'empty-secret-file');
    writeFileSync(emptyFile, '');
    for (const key of ['tokenCacheKeyFile', 'passwordFile', 'clientSecretFile', 'clientCertificateFile'] as const) {
      for (const where of ['environment', 'file'] as const) {
        for (const value of [`Sup3r~Secr3t.Value_${key}_xyz`, emptyFile]) {
          const env: Record<string, string> = { PATH: process.env.PATH ?? '', MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'never.db') };
          const args = ['status'];
          if (where === 'environment') env[envName(key)] = value;
          else {
            const file = path.join(dir, `secret-in-${key}.yaml`);
            writeFileSync(file, `${key}: ${JSON.stringify(value)}\n`);
            args.unshift('--config', file);
          }
          const result = await runProcess(process.execPath, [CLI, ...args], env).done;
          const what = `${key} from the ${where}, ${value === emptyFile ? 'an empty file' : 'a pasted secret'}`;
          assert.equal(result.code, 2, what);
          assert.ok(!`${result.stdout}${result.stderr}`.includes(value), `${what}: the value was printed: ${result.stderr}`);
          assert.match(result.stderr, where === 'environment' ? new RegExp(`${key} \\(from ${envName(key)}\\): the file it names`) : new RegExp(`${key} \\(in .*\\): the file it names`), what);
          if (value !== emptyFile) assert.match(result.stderr, /cannot be read \(ENOENT\): it must hold the path of a file containing the .*, not the .* itself/, what);
        }
      }
    }
  });

  it('reads the secret files with the same 1 MiB and regular-file limits: /dev/zero as a key file is refused at once', async () => {
    for (const key of ['tokenCacheKeyFile', 'passwordFile', 'clientSecretFile', 'clientCertificateFile'] as const) {
      const env = { PATH: process.env.PATH ?? '', MDE_ALERT_SYNC_DATABASE_PATH: path.join(dir, 'never.db'), [envName(key)]: '/dev/zero' };
      const result = await runProcess(process.execPath, [CLI, 'status'], env).done;
      assert.equal(result.code, 2, key);
      assert.match(result.stderr, new RegExp(`${key} \\(from ${envName(key)}\\): the file it names is not a regular file \\(a character device\\)`), key);
    }
  });

  it('the CLI stops on bad configuration with exit 2, no stack trace, and writes nothing', async () => {
    const database = path.join(dir, 'never.db');
    const result = await runProcess(process.execPath, [CLI, 'sync'], {
      PATH: process.env.PATH ?? '',
      MDE_ALERT_SYNC_TENANT_ID: TENANT,
      MDE_ALERT_SYNC_CLIENT_ID: CLIENT,
      MDE_ALERT_SYNC_PAGE_SIZE: '0',
      MDE_ALERT_SYNC_DATABASE_PATH: database,
    }).done;
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Invalid configuration; nothing was done:\n {2}- pageSize \(from MDE_ALERT_SYNC_PAGE_SIZE\): must be at least 1/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(existsSync(database), false);
    assert.equal(existsSync(path.dirname(database) + '/token-cache'), false);
  });
});
