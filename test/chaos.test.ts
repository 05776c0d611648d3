// The short chaos profile (see test/chaos/chaosRun.ts): faults, SIGKILLs and a reader in another process,
// and at the end a database equal to the service's truth, for each source. The long profile:
// `npm run test:chaos` (add `--set SOURCE=graph` for Graph).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFigures, PROFILES, runChaos } from './chaos/chaosRun.js';

describe('chaos', () => {
  for (const source of ['defender', 'graph'] as const) {
    it(`loses nothing through faults, access-token expiry and SIGKILLs, while a reader queries the views (source ${source})`, async (t) => {
      const figures = await runChaos(source === 'graph' ? { ...PROFILES.short, settings: { SOURCE: 'graph' } } : PROFILES.short);
      for (const line of formatFigures(figures).split('\n')) t.diagnostic(line);
      assert.equal(figures.mismatches, 0, figures.mismatchSamples.join('\n'));
      assert.equal(figures.integrity, 'ok');
      assert.equal(figures.cursorRegressions + figures.reader.cursorRegressions, 0, 'the cursor never moves back');
      assert.equal(figures.cursorsAheadOfClock, 0, "the cursor never passes this machine's clock minus the settle lag");
      assert.equal(figures.reader.errors, 0, figures.reader.errorSamples.join('\n'));
      assert.equal(figures.reader.busy, 0);
      assert.equal(figures.secretsLeaked, 0);
      // The run exercised what it claims to: kills, kills inside a pass, and faults of several kinds.
      assert.ok(figures.kills >= 3, `${figures.kills} kills`);
      assert.ok(figures.killsDuringPass >= 1, 'at least one kill landed inside a pass');
      assert.ok(Object.keys(figures.faults).length >= 5, `fault kinds: ${Object.keys(figures.faults).join(', ')}`);
      for (const clockFault of ['dateAhead', 'dateBehind', 'noDate']) assert.ok(figures.faults[clockFault]! >= 1, `the ${clockFault} fault was served`);
      assert.ok(figures.reader.queries > 100);
      // With Graph the incidents are synced beside the alerts, and compared with the service's too.
      if (source === 'graph') assert.ok(figures.incidents > 0, 'the incidents were part of the end state');
    });
  }
});
