// Progress on long work, as the real CLI process shows it while a backfill runs: log lines during the pass,
// `status` and `/metrics` with the same counts, a bar on a terminal, and the container's health probe that
// stays healthy while windows are committed and turns unhealthy when they stop. The simulator holds the
// pass mid-way (its answers wait), so nothing depends on how fast the machine is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { bedsFor, CLI, count, openDb, REPO_ROOT, runProcess, signedIn, SOURCES, startWorker, waitFor, assertStoreEqualsTruth, type AlertSource, type TestBed } from './support/harness.js';

/** A first backfill of many small windows, its progress logged every 200 ms; answers may be held for long. */
const LONG_BACKFILL = { initialAlerts: 1500, initialAlertDays: 90 };
const SETTINGS = { MDE_ALERT_SYNC_PAGE_SIZE: '50', MDE_ALERT_SYNC_PROGRESS_INTERVAL: '200ms', MDE_ALERT_SYNC_REQUEST_TIMEOUT: '10m' };

/** Holds every alerts query from the first one after a window was committed, until released. */
function holdAfterFirstWindow(b: TestBed): { held: Promise<void>; release(): void } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let heldAt: () => void = () => {};
  const held = new Promise<void>((resolve) => (heldAt = resolve));
  let holding = false;
  b.sim.api.beforeQuery = () => {
    // Once a window has moved the pass's reading on (with Graph, a settled window's pages store their alerts as
    // they come, and claim the window only with the last of them).
    if (!holding && count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'running' AND read_through > span_from") > 0) holding = true;
    if (!holding) return undefined;
    heldAt();
    return gate;
  };
  return {
    held,
    release: () => {
      b.sim.api.beforeQuery = undefined;
      release();
    },
  };
}

interface RunningRow {
  id: number;
  windows: number;
  requests: number;
  alerts_received: number;
  span_from: string;
  span_to: string;
  read_through: string;
}

function runningRow(b: TestBed): RunningRow {
  const db = openDb(b.dbPath);
  try {
    return db.prepare("SELECT * FROM sync_runs WHERE outcome = 'running'").get() as RunningRow;
  } finally {
    db.close();
  }
}

const logLines = (text: string) => text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);

/** The HEALTHCHECK command of the Dockerfile, as Docker would run it (exec form). */
function healthcheckCommand(): string[] {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const exec = /^HEALTHCHECK .*?CMD (\[.*\])\s*$/m.exec(dockerfile)?.[1];
  assert.ok(exec, 'the Dockerfile has a HEALTHCHECK in exec form');
  return JSON.parse(exec) as string[];
}

async function healthcheckExit(url: string): Promise<number | null> {
  const [command, ...args] = healthcheckCommand();
  assert.equal(command, 'node');
  const port = new URL(url).port;
  return (await runProcess(process.execPath, args, { PATH: process.env.PATH ?? '/usr/bin:/bin', MDE_ALERT_SYNC_HEALTH_PORT: port }).done).code;
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

for (const source of SOURCES) progress(source);

function progress(source: AlertSource): void {
  const bed = bedsFor(source);
  // Graph in pages of 20: a settled window of up to 32 pages is read before it is committed, and the pass should
  // commit several (the Defender API's 100 calls a minute keep it at 50).
  const settings = source === 'graph' ? { ...SETTINGS, MDE_ALERT_SYNC_PAGE_SIZE: '20' } : SETTINGS;

  describe(`progress of a long pass (source ${source})`, () => {
    it('sync logs progress lines during the pass, before its end line, and status shows the running counts', async () => {
      const b = await bed(LONG_BACKFILL, settings);
      await signedIn(b);
      const hold = holdAfterFirstWindow(b);
      const sync = b.spawnCli(['sync']);
      await hold.held;
      // A line from after the window the pass is held behind (pages stored before it are counted too).
      const line = await waitFor('a progress line', () => logLines(sync.output().stderr).find((entry) => entry.msg === 'sync pass progress' && Number(entry.alerts) > 0 && typeof entry.readThrough === 'string' && entry.readThrough > String(entry.spanFrom)));
      const row = runningRow(b);
      assert.ok(row, 'the pass has its sync_runs row while it runs');
      assert.equal(line.alerts, row.alerts_received, 'alerts so far');
      assert.ok(Number(line.windows) >= row.windows && row.windows > 0, 'windows read');
      assert.ok(Number(line.requests) >= row.requests && row.requests > 0, 'requests');
      assert.equal(line.spanFrom, row.span_from);
      assert.equal(line.spanTo, row.span_to);
      assert.equal(line.readThrough, row.read_through);
      assert.ok(row.span_from < row.read_through && row.read_through < row.span_to, 'the stretch read lies inside the span');
      assert.ok(Number(line.percent) > 0 && Number(line.percent) < 100, `percent of the span covered (${line.percent})`);
      assert.equal(typeof line.etaSeconds, 'number', 'an ETA once a window is committed');
      assert.equal(line.level, 30, 'at info');

      const status = await b.cli(['status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stdout,
        new RegExp(`#${row.id} \\S+ running: ${row.windows} windows, ${row.alerts_received} alerts so far, ${row.requests} requests; read through ${row.read_through} of ${row.span_from} to ${row.span_to} \\(\\d+(\\.\\d)?%\\)(, ETA [^;]+)?; last window committed \\d+ s ago`),
      );
      const json = JSON.parse((await b.cli(['status', '--json'])).stdout) as { store: { runs: RunningRow[] } };
      assert.equal(json.store.runs[0]!.read_through, row.read_through);

      hold.release();
      const result = await sync.done;
      assert.equal(result.code, 0, result.stderr);
      const messages = logLines(result.stderr).map((entry) => entry.msg);
      assert.ok(messages.indexOf('sync pass progress') < messages.indexOf('sync pass finished'), 'progress is logged before the end line');
      assert.doesNotMatch(result.stderr, /\r|\x1b\[/, 'no bar when stderr is not a terminal');
      assertStoreEqualsTruth(b);
    });

    it('run: /metrics shows the running pass, and /readyz and the HEALTHCHECK stay healthy while windows are committed', async () => {
      const b = await bed(LONG_BACKFILL, settings);
      await signedIn(b);
      const hold = holdAfterFirstWindow(b);
      const { worker, url, get } = await startWorker(b);
      await hold.held;
      const row = runningRow(b);
      const metrics = (await get('/metrics')).text;
      assert.equal(metric(metrics, 'mde_alert_sync_pass_running'), 1);
      assert.equal(metric(metrics, 'mde_alert_sync_pass_alerts_received'), row.alerts_received);
      assert.ok(metric(metrics, 'mde_alert_sync_pass_windows') >= row.windows && row.windows > 0);
      assert.ok(metric(metrics, 'mde_alert_sync_pass_requests') >= row.requests && row.requests > 0);
      const covered = metric(metrics, 'mde_alert_sync_pass_covered_ratio');
      assert.ok(covered > 0 && covered < 1, `covered ratio ${covered}`);
      assert.ok(metric(metrics, 'mde_alert_sync_pass_eta_seconds') >= 0);
      assert.ok(metric(metrics, 'mde_alert_sync_pass_last_window_timestamp_seconds') > 0);

      const ready = await get('/readyz');
      assert.equal(ready.status, 200, ready.text);
      assert.match(ready.text, /"passRunning":true/);
      assert.equal(await healthcheckExit(url), 0, 'the container is healthy while the first backfill commits windows');

      hold.release();
      await waitFor('the pass to end', async () => metric((await get('/metrics')).text, 'mde_alert_sync_pass_running') === 0);
      assert.equal(count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'"), 1);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('run: a pass that commits no window for longer than readyMaxAge is unready, and the HEALTHCHECK fails', async () => {
      const b = await bed(LONG_BACKFILL, { ...settings, MDE_ALERT_SYNC_READY_MAX_AGE: '1s' });
      await signedIn(b);
      const hold = holdAfterFirstWindow(b);
      const { worker, url, get } = await startWorker(b);
      await hold.held;
      const stuck = await waitFor('unready while no window is committed', async () => {
        const response = await get('/readyz');
        return response.status === 503 && /no window committed for \d+ s/.test(response.text) && response;
      });
      assert.match(stuck.text, /no successful pass yet/);
      assert.equal(await healthcheckExit(url), 1, 'the container is unhealthy while the pass is stuck');
      hold.release();
      await waitFor('ready once the pass has ended', async () => (await get('/readyz')).status === 200);
      assert.equal(await healthcheckExit(url), 0);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
    });

    it('sync on a terminal draws a progress bar with the same counts, and clears it at the end', async () => {
      const b = await bed(LONG_BACKFILL, settings);
      await signedIn(b);
      const hold = holdAfterFirstWindow(b);
      // script(1) gives the CLI a terminal (a pty) on stdout and stderr.
      const sync = runProcess('script', ['-qfec', `"${process.execPath}" "${CLI}" sync`, '/dev/null'], b.env, b.dir);
      await hold.held;
      const row = runningRow(b);
      const lastFrame = () => [...sync.output().stdout.matchAll(/\r\x1b\[2Ksyncing \[[#-]{20}\] +(\d+)% read to ([^,\s]+), (\d+) alerts, ETA /g)].at(-1);
      const frame = await waitFor('a bar frame with the counts of the held pass', () => lastFrame()?.[3] === String(row.alerts_received) && lastFrame());
      assert.equal(frame[2], row.read_through.slice(0, 10), 'the date read to');
      assert.ok(Number(frame[1]) < 100);
      hold.release();
      const result = await sync.done;
      assert.equal(result.code, 0, result.stdout);
      const tail = result.stdout.slice(result.stdout.lastIndexOf('\r\x1b[2K'));
      assert.doesNotMatch(tail, /\[[#-]{20}\]/, 'the bar is cleared at the end');
      assert.match(tail, /Synced as analyst@contoso\.example: \d+ new/);
      assert.doesNotMatch(result.stdout, /sync pass progress/, 'the bar replaces the progress lines on a terminal');
    });
  });
}
