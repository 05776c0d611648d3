// The systemd install as the README writes it: the shipped unit verifies, the README's steps install what the
// unit points at and create what `login` needs before the first start, and the paths and modes the README,
// the unit and the code use agree.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DATABASE_FILE_MODE, DATABASE_FOLDER_MODE, TOKEN_CACHE_FOLDER_MODE } from '../src/config/localFolders.js';
import { CLI, createTestBed, OTHER_UID, REPO_ROOT, runAsUser, tempDir } from './support/harness.js';

const UNIT_FILE = path.join(REPO_ROOT, 'config/systemd/mde-alert-sync.service');
const unit = readFileSync(UNIT_FILE, 'utf8');
const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

/** Every value of `key=` in the unit. */
const unitValues = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!.trim());
const unitValue = (key: string) => unitValues(key)[0]!;
const unitEnv = (name: string) => unitValues('Environment').find((value) => value.startsWith(`${name}=`))!.slice(name.length + 1);

/** The shell block of the README's section "Running as a service (systemd)", one command a line. */
function readmeSteps(): string[] {
  const section = readme.split('## Running as a service (systemd)')[1]!.split('\n## ')[0]!;
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter((line) => line && !line.startsWith('#'));
}

const stateDirectory = () => path.join('/var/lib', unitValue('StateDirectory'));

describe('systemd install', () => {
  it('the shipped unit passes systemd-analyze verify without a warning', () => {
    // The unit runs /usr/bin/node; where node lives elsewhere on this machine it is verified with that path.
    const dir = tempDir('mde-unit-');
    const copy = path.join(dir, 'mde-alert-sync.service');
    writeFileSync(copy, existsSync('/usr/bin/node') ? unit : unit.replaceAll('/usr/bin/node', process.execPath));
    const result = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(result.error, undefined, 'systemd-analyze is installed (.ci/run installs it)');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), '', 'no warnings (an unknown key is only a warning)');
  });

  it("the README's steps copy what Documentation= names, and create the state directory with the unit's owner and mode", () => {
    const steps = readmeSteps();
    const documentation = unitValue('Documentation');
    assert.match(documentation, /^file:\/\/\/opt\/mde-alert-sync\//);
    const copied = steps.find((line) => /^sudo cp -r .* \/opt\/mde-alert-sync\/$/.test(line))!.split(/\s+/).slice(3, -1);
    const documented = documentation.slice('file:///opt/mde-alert-sync/'.length).split('/')[0]!;
    assert.ok(copied.includes(documented), `the README copies ${documented} to /opt/mde-alert-sync (it copies ${copied.join(' ')})`);
    assert.ok(existsSync(path.join(REPO_ROOT, documented)));
    const install = steps.find((line) => line.startsWith('sudo install -d ') && line.endsWith(` ${stateDirectory()}`));
    assert.ok(install, `the README creates ${stateDirectory()} before login`);
    assert.match(install, new RegExp(`-m 0?${unitValue('StateDirectoryMode').replace(/^0/, '')}\\b`));
    assert.match(install, new RegExp(`-o ${unitValue('User')} -g ${unitValue('Group')}\\b`));
    const login = steps.find((line) => line.includes(' login'))!;
    assert.ok(login.startsWith(`sudo -u ${unitValue('User')} `), 'login runs as the service user');
    assert.ok(login.includes(`MDE_ALERT_SYNC_DATABASE_PATH=${unitEnv('MDE_ALERT_SYNC_DATABASE_PATH')}`), 'login and the unit use the same database path');
    assert.equal(path.dirname(unitEnv('MDE_ALERT_SYNC_DATABASE_PATH')), stateDirectory());
  });

  it('the unit, the code and the README agree on the reader model: folder 0750, database 0640 under the UMask, token cache folder 0700', () => {
    assert.equal(Number.parseInt(unitValue('StateDirectoryMode'), 8), DATABASE_FOLDER_MODE);
    const umask = Number.parseInt(unitValue('UMask'), 8);
    assert.equal(DATABASE_FILE_MODE & ~umask, DATABASE_FILE_MODE, 'the UMask keeps the group read bit');
    assert.equal(umask & 0o007, 0o007, 'others get nothing');
    const section = readme.split('## Reading the database')[1]?.split('\n## ')[0] ?? '';
    for (const mode of ['0750', '0640', '0700', '0600']) assert.ok(section.includes(mode), `"Reading the database" states ${mode}`);
    assert.equal(TOKEN_CACHE_FOLDER_MODE, 0o700);
  });

  it("login as the service user before the first start works after the README's steps, and fails with exit 7 without them", async () => {
    const b = await createTestBed({ initialAlerts: 1 });
    chmodSync(b.dir, 0o711);
    chmodSync(path.join(b.dir, 'ca.pem'), 0o644);
    const root = path.join(b.dir, 'root');
    mkdirSync(path.join(root, 'var/lib'), { recursive: true, mode: 0o755 });
    execFileSync('chmod', ['-R', '0755', root]);
    const database = path.join(root, unitEnv('MDE_ALERT_SYNC_DATABASE_PATH'));
    const login = () => runAsUser(OTHER_UID, process.execPath, [CLI, 'login'], { ...b.env, MDE_ALERT_SYNC_DATABASE_PATH: database }, b.dir).done;
    const before = await login();
    assert.equal(before.code, 7, before.stderr);
    assert.equal(b.sim.identity.deviceCodes.size, 0);
    // The README's step, run here with the machine's unprivileged user as the service user, under a test root.
    const install = readmeSteps().find((line) => line.startsWith('sudo install -d ') && line.endsWith(` ${stateDirectory()}`))!;
    const command = install
      .replace(/^sudo /, '')
      .replace(` ${stateDirectory()}`, ` ${path.join(root, stateDirectory())}`)
      .replace(`-o ${unitValue('User')} -g ${unitValue('Group')}`, `-o ${OTHER_UID} -g ${OTHER_UID}`);
    execFileSync('sh', ['-c', command]);
    const after = await login();
    assert.equal(after.code, 0, after.stderr);
    const cacheFolder = path.join(path.dirname(database), 'token-cache');
    assert.equal((statSync(cacheFolder).mode & 0o777).toString(8), '700');
    assert.equal(statSync(cacheFolder).uid, OTHER_UID);
    assert.equal((statSync(path.dirname(database)).mode & 0o777).toString(8), '750');
  });
});
