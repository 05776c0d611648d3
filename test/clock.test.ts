// A wrong clock must never lose alerts: the cursor is bounded by both clocks (this machine's and the API's
// Date header), a cursor already in the future is repaired, and `resync --since` re-reads a span on demand.
// The real CLI process against the simulator over HTTPS, for either source.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { formatInstant, instantFromMs, parseInstant } from '../src/instants.js';
import { assertStoreEqualsTruth, bedsFor, count, cursorOf, lastRun, openDb, signedIn, SOURCES, waitFor, type AlertSource, type TestBed } from './support/harness.js';

const YEAR_MS = 365 * 86_400_000;
const SETTLE_LAG_MS = 10 * 60_000; // the default
const cursorMs = (b: TestBed) => Number(parseInstant(cursorOf(b.dbPath))! / 10_000n);

/** Writes a cursor position the way a bad answer of an older version (or a hand edit) leaves it. */
function setCursor(b: TestBed, positionMs: number): void {
  const db = new Database(b.dbPath, { timeout: 5000 });
  try {
    db.prepare('UPDATE sync_cursor SET position = ?').run(formatInstant(instantFromMs(positionMs)));
  } finally {
    db.close();
  }
}

for (const source of SOURCES) clock(source);

function clock(source: AlertSource): void {
  const bedWith = bedsFor(source);
  async function bed(alerts = 20): Promise<TestBed> {
    const b = await bedWith({ initialAlerts: alerts });
    await signedIn(b);
    assert.equal((await b.cli(['sync'])).code, 0);
    return b;
  }

  describe(`a wrong clock (source ${source})`, () => {
    it('an answer dated years ahead does not move the cursor past this machine\'s clock; it is warned about, recorded and shown', async () => {
      const b = await bed();
      b.sim.api.createAlerts(3);
      b.sim.api.faults.push({ kind: 'dateOffset', ms: 3 * YEAR_MS });
      const skewed = await b.cli(['sync']);
      assert.equal(skewed.code, 0, skewed.stderr);
      assert.match(skewed.stderr, /the API's clock \(Date header\) is 3\.0 years ahead of this machine's, more than clockSkewTolerance \(5m\): the cursor follows the earlier clock/);
      assert.equal(skewed.stderr.match(/clockSkewTolerance/g)!.length, 1, 'warned once for the pass');
      assert.ok(cursorMs(b) <= Date.now() - SETTLE_LAG_MS, 'the cursor stays a settle lag behind this machine\'s clock');
      const skew = Number(lastRun(b.dbPath).clock_skew_ms);
      assert.ok(Math.abs(skew - 3 * YEAR_MS) < 5000, `the run records the skew (${skew} ms)`);
      const status = await b.cli(['status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /the API's clock was 3\.0 years ahead of this machine's/);

      // Alerts created after the bad answer still arrive on the following passes.
      b.sim.api.createAlerts(4);
      b.sim.api.updateAlerts(3);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('an answer dated years behind only makes that pass re-read; nothing is lost', async () => {
      const b = await bed();
      const cursor = cursorOf(b.dbPath);
      b.sim.api.createAlerts(3);
      b.sim.api.faults.push({ kind: 'dateOffset', ms: -3 * YEAR_MS });
      const skewed = await b.cli(['sync']);
      assert.equal(skewed.code, 0, skewed.stderr);
      assert.match(skewed.stderr, /the API's clock \(Date header\) is 3\.0 years behind this machine's/);
      assert.equal(cursorOf(b.dbPath), cursor, 'the cursor does not move back, nor forward past the earlier clock');
      b.sim.api.createAlerts(2);
      assert.equal((await b.cli(['sync'])).code, 0);
      assertStoreEqualsTruth(b);
    });

    it('an answer dated years behind, on a pass with more than a page to read: that pass still stores every new alert', async () => {
      const b = await bedWith({ initialAlerts: 20 }, { MDE_ALERT_SYNC_PAGE_SIZE: '5' });
      await signedIn(b);
      assert.equal((await b.cli(['sync'])).code, 0);
      const cursor = cursorOf(b.dbPath);
      b.sim.api.createAlerts(12);
      b.sim.api.faults.push({ kind: 'dateOffset', ms: -3 * YEAR_MS });
      const skewed = await b.cli(['sync']);
      assert.equal(skewed.code, 0, skewed.stderr);
      // Windows are read up to the later clock; only the cursor waits for the clocks to agree.
      assertStoreEqualsTruth(b);
      assert.equal(cursorOf(b.dbPath), cursor, 'the cursor does not move past the earlier clock');
    });

    it('a cursor already in the future is moved back at the next pass, with a warning and a note, and the span is read', async () => {
      const b = await bed();
      const good = cursorMs(b);
      const created = b.sim.api.createAlerts(5);
      setCursor(b, Date.now() + 2 * YEAR_MS);
      const repaired = await b.cli(['sync']);
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /the cursor of .* \(\d{4}-.*Z\) is ahead of this machine's clock: moved back to \d{4}-.*Z \(the last cursor a pass recorded that is not in the future\)/);
      const run = lastRun(b.dbPath);
      assert.match(String(run.note), /cursor was \d{4}-.*Z, ahead of this machine's clock; moved back to/);
      const from = Number(parseInstant(run.cursor_before)! / 10_000n);
      assert.ok(from <= good && from > good - 60_000, 'back to the last good cursor');
      assert.ok(cursorMs(b) <= Date.now() - SETTLE_LAG_MS);
      assert.ok(created.filter((alert) => b.serves(alert)).length > 0);
      assertStoreEqualsTruth(b);
    });

    it('a future cursor with no good one recorded goes back to the look-back', async () => {
      const b = await bed();
      const db = new Database(b.dbPath, { timeout: 5000 });
      db.prepare('DELETE FROM sync_runs').run();
      db.close();
      setCursor(b, Date.now() + YEAR_MS);
      const repaired = await b.cli(['sync']);
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /moved back to \d{4}-.*Z \(the look-back, 180d\)/);
      assertStoreEqualsTruth(b);
    });
  });

  describe(`resync --since (source ${source})`, () => {
    it('moves the cursor back, records who and when, refuses forward moves, and the next pass re-reads without new history', async () => {
      const b = await bed(40);
      const cursor = cursorOf(b.dbPath)!;
      const alerts = count(b.dbPath, 'SELECT count(*) FROM alerts');
      const changes = count(b.dbPath, 'SELECT count(*) FROM alert_changes');

      const forward = await b.cli(['resync', '--since', new Date(Date.now() + 3_600_000).toISOString()]);
      assert.equal(forward.code, 2);
      assert.match(forward.stderr, /would move the cursor of .* forward \(from .*Z to .*Z\); resync only moves it back\. Nothing was changed\./);
      const elsewhere = await b.cli(['resync', '--since', '1d'], { MDE_ALERT_SYNC_DATABASE_PATH: `${b.dir}/absent.db` });
      assert.equal(elsewhere.code, 2);
      assert.match(elsewhere.stderr, /There is no database at .*absent\.db yet/);
      assert.equal(existsSync(`${b.dir}/absent.db`), false, 'resync creates no database');
      const garbled = await b.cli(['resync', '--since', 'last tuesday']);
      assert.equal(garbled.code, 2);
      assert.match(garbled.stderr, /--since: "last tuesday" is neither an ISO-8601 time with a zone .* nor a duration/);
      assert.equal(cursorOf(b.dbPath), cursor);

      const moved = await b.cli(['resync', '--since', '7d'], { SUDO_USER: 'alice' });
      assert.equal(moved.code, 0, moved.stderr);
      const since = cursorMs(b);
      assert.ok(Math.abs(since - (Date.now() - 7 * 86_400_000)) < 60_000, 'the cursor is 7 days back');
      assert.match(moved.stdout, new RegExp(`Moved the cursor of .* back from ${cursor.replace(/\./g, '\\.')} to \\d{4}-.*Z`));
      const db = openDb(b.dbPath);
      const reset = db.prepare('SELECT * FROM cursor_resets').get() as Record<string, unknown>;
      db.close();
      assert.equal(reset.previous_position, cursor);
      assert.equal(reset.new_position, cursorOf(b.dbPath));
      assert.equal(reset.os_user, userInfo().username);
      assert.equal(reset.sudo_user, 'alice');
      assert.match(String(reset.stream), source === 'graph' ? /^graph:/ : /^defender:/);
      assert.ok(Math.abs(Date.parse(String(reset.reset_at)) - Date.now()) < 60_000);
      const status = await b.cli(['status']);
      assert.match(status.stdout, /cursor moved back by resync .* by .* \(sudo by alice\)/);

      const requestsBefore = b.sim.api.requests.length;
      const reread = await b.cli(['sync']);
      assert.equal(reread.code, 0, reread.stderr);
      const first = b.sim.api.requests[requestsBefore]!;
      const from = parseInstant(new RegExp(`${b.updateField} ge (\\S+)`).exec(first.filter ?? '')?.[1]);
      assert.ok(from !== undefined && from <= instantFromMs(since), 'the pass reads from the resync point');
      const run = lastRun(b.dbPath);
      assert.equal(run.alerts_inserted, 0);
      assert.equal(run.alerts_updated, 0);
      assert.ok(Number(run.alerts_unchanged) > 0, 'the span was read again');
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alerts'), alerts);
      assert.equal(count(b.dbPath, 'SELECT count(*) FROM alert_changes'), changes, 'no history is lost or added for unchanged alerts');
      assertStoreEqualsTruth(b);
    });

    it('needs the writer lease: refused with exit 6 while the worker runs', async () => {
      const b = await bed();
      const worker = b.spawnCli(['run'], { MDE_ALERT_SYNC_SCHEDULE: '0 0 1 1 *' });
      await waitFor('the worker\'s first pass', () => count(b.dbPath, "SELECT count(*) FROM sync_runs WHERE outcome = 'success'") >= 2);
      const cursor = cursorOf(b.dbPath);
      const refused = await b.cli(['resync', '--since', '1d']);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
      assert.equal(refused.code, 6, refused.stderr);
      assert.match(refused.stderr, /Another mde-alert-sync run .* is writing to/);
      assert.equal(cursorOf(b.dbPath), cursor);
    });
  });
}
