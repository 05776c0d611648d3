// The container image, built from the repository and run for real: `npm run test:docker` (CI runs it after
// starting a Docker engine). The simulator runs in this process; containers share the host network.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { count, REPO_ROOT, runProcess, tempDir, waitFor } from '../support/harness.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { serviceSourceOf } from '../../src/simulator/graphAlert.js';
import { DEFAULT_SERVICE_SOURCES } from '../../src/config/settings.js';

const IMAGE = 'mde-alert-sync:test';
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 20 * 60_000 });
// While the simulator serves from this process, docker must not block its event loop.
const dockerAsync = async (...args: string[]) => {
  const result = await runProcess('docker', args, { PATH: process.env.PATH ?? '' }).done;
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
};
const containers: string[] = [];

before(() => {
  const build = docker('build', '--network', 'host', '-t', IMAGE, REPO_ROOT);
  assert.equal(build.status, 0, `docker build failed:\n${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
});
after(() => {
  for (const name of containers) docker('rm', '-f', name);
});

function dataDir(): string {
  const dir = tempDir('docker-');
  chmodSync(dir, 0o777); // the container's user (node, uid 1000) writes there
  return dir;
}

describe('container image', () => {
  it('is small and safe: non-root, no compilers, no dev dependencies, run by default, healthcheck on /readyz', () => {
    const config = JSON.parse(execFileSync('docker', ['image', 'inspect', IMAGE], { encoding: 'utf8' }))[0].Config;
    assert.equal(config.User, 'node');
    assert.deepEqual(config.Cmd, ['run']);
    assert.match(JSON.stringify(config.Healthcheck), /readyz/);
    assert.ok(Object.keys(config.Volumes ?? {}).includes('/data'));
    const probe = docker('run', '--rm', '--network', 'host', '--entrypoint', 'sh', IMAGE, '-c', 'command -v g++ make python3 || true; ls node_modules node_modules/@types | grep -E "^(typescript|tsx|better-sqlite3)$" | grep -v better-sqlite3 || true; test -d node_modules/@types/better-sqlite3 && echo @types/better-sqlite3 || true');
    assert.equal(probe.status, 0, probe.stderr);
    assert.equal(probe.stdout.trim(), '', `found in the final image: ${probe.stdout}`);
  });

  it('runs the demo on a read-only root filesystem and writes the database to the volume', () => {
    const data = dataDir();
    const demo = docker('run', '--rm', '--read-only', '--network', 'host', '-v', `${data}:/data`, IMAGE, 'demo', '--dir', '/data/demo', '--passes', '2', '--interval', '1', '--alerts', '120');
    assert.equal(demo.status, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /Pass 2 \(incremental\)/);
    // The demo reads Graph, which serves the Defender for Endpoint alerts of the simulated tenant by default.
    const held = Number(/The database holds (\d+) alerts/.exec(demo.stdout)?.[1]);
    assert.ok(held > 0, demo.stdout);
    assert.equal(count(path.join(data, 'demo', 'alerts.db'), 'SELECT count(*) FROM alerts'), held);
  });

  describe('against the simulator', () => {
    let sim: Simulator;
    before(async () => {
      // The user may read incidents: a new database syncs Graph, and with it the incidents, by default.
      sim = await startSimulator({ initialAlerts: 150, identity: { autoApproveAfterMs: 0 }, host: '127.0.0.1', grantIncidentPermission: true });
    });
    after(async () => sim.close());
    // No source is set, so a new database syncs Graph: the Defender for Endpoint alerts (serviceSourceFilter's default).
    const served = () => sim.api.truth().filter((alert) => DEFAULT_SERVICE_SOURCES.includes(serviceSourceOf(alert))).length;

    /** The worker's environment (pointing at the simulator) as docker run arguments, with a CA file in `data`. */
    function workerEnvArgs(data: string): string[] {
      sim.writeCaFile(path.join(data, 'ca.pem'));
      return [
        `MDE_ALERT_SYNC_TENANT_ID=${sim.tenantId}`,
        `MDE_ALERT_SYNC_CLIENT_ID=${sim.clientId}`,
        `MDE_ALERT_SYNC_AUTHORITY_URL=${sim.authorityUrl}`,
        `MDE_ALERT_SYNC_API_BASE_URL=${sim.apiBaseUrl}`,
        'MDE_ALERT_SYNC_CA_FILE=/data/ca.pem',
        `MDE_ALERT_SYNC_TOKEN_CACHE_KEY=${randomBytes(32).toString('base64')}`,
        'MDE_ALERT_SYNC_SCHEDULE=*/2 * * * * *',
        `MDE_ALERT_SYNC_HEALTH_PORT=${20_000 + Math.floor(Math.random() * 20_000)}`,
      ].flatMap((e) => ['-e', e]);
    }

    async function signedInVolume(): Promise<{ data: string; env: string[] }> {
      const data = dataDir();
      const env = workerEnvArgs(data);
      const login = await dockerAsync('run', '--rm', '--read-only', '--network', 'host', '-v', `${data}:/data`, ...env, IMAGE, 'login');
      assert.equal(login.status, 0, login.stderr);
      assert.match(login.stdout, /Signed in as analyst@contoso\.example/);
      return { data, env };
    }

    it('signs in, becomes healthy, writes alerts to the mounted volume and stops cleanly on SIGTERM', async () => {
      const { data, env } = await signedInVolume();
      const name = `mde-alert-sync-test-${process.pid}`;
      containers.push(name);
      const started = await dockerAsync('run', '-d', '--name', name, '--read-only', '--network', 'host', '-v', `${data}:/data`, '--health-interval=1s', '--health-start-period=0s', '--health-retries=1', ...env, IMAGE);
      assert.equal(started.status, 0, started.stderr);
      await waitFor('a healthy container', async () => (await dockerAsync('inspect', '--format', '{{.State.Health.Status}}', name)).stdout.trim() === 'healthy', 90_000);
      assert.ok(existsSync(path.join(data, 'alerts.db')));
      await waitFor('alerts in the volume', () => count(path.join(data, 'alerts.db'), 'SELECT count(*) FROM alerts') === served(), 30_000);

      const stop = await dockerAsync('stop', '--time', '30', name);
      assert.equal(stop.status, 0, stop.stderr);
      assert.equal(docker('inspect', '--format', '{{.State.ExitCode}}', name).stdout.trim(), '0');
      assert.match((await dockerAsync('logs', name)).stdout, /"msg":"stopped cleanly"/);
    });

    it('a killed container, started again, takes its own lease over at once (its worker is PID 1 again)', async () => {
      const { data, env } = await signedInVolume();
      const db = path.join(data, 'alerts.db');
      const name = `mde-alert-sync-restart-${process.pid}`;
      containers.push(name);
      const started = await dockerAsync('run', '-d', '--name', name, '--read-only', '--network', 'host', '-v', `${data}:/data`, ...env, IMAGE);
      assert.equal(started.status, 0, started.stderr);
      const allStored = () => {
        try {
          return count(db, 'SELECT count(*) FROM alerts') === served();
        } catch {
          return false; // not created yet
        }
      };
      const running = async () => (await dockerAsync('inspect', '--format', '{{.State.Running}}', name)).stdout.trim() === 'true';
      await waitFor('alerts in the volume', allStored, 90_000);

      assert.equal((await dockerAsync('kill', name)).status, 0); // SIGKILL, as an OOM kill: the lease row stays
      assert.equal(count(db, 'SELECT count(*) FROM worker_lease WHERE pid = 1'), 1);
      // Three new alerts the worker's source serves (Graph by default leaves other services' out).
      for (const before = served(); served() < before + 3; ) sim.api.createAlerts(1);
      const restarted = await dockerAsync('start', name);
      assert.equal(restarted.status, 0, restarted.stderr);
      await waitFor('the restarted worker to store the new alerts, or to end', async () => allStored() || !(await running()), 60_000);
      const logs = await dockerAsync('logs', name);
      assert.ok(await running(), `the restarted worker ended:\n${logs.stderr.slice(-2000)}`);
      assert.match(logs.stdout, /"msg":"took over the writer lease"/);
      assert.match(logs.stdout, /its process ID 1 is now this process \(a restarted container\)/);
      assert.equal((await dockerAsync('stop', '--time', '30', name)).status, 0);
    });
  });
});
