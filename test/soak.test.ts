// A short soak (see test/soak/soakRun.ts): a thousand passes back to back by the real worker process, half
// of them while alerts change. The long one: `npm run test:soak`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSoak, runSoak } from './soak/soakRun.js';
import { SOURCES } from './support/harness.js';

describe('soak', () => {
  for (const source of SOURCES) it(`a thousand passes (source ${source}): no failed pass, heap and open files flat, the database grows only by the run records`, async (t) => {
    const figures = await runSoak(1000, source);
    for (const line of formatSoak(figures).split('\n')) t.diagnostic(line);
    assert.equal(figures.passes, 1000);
    assert.equal(figures.failures, 0);
    // Flat, with room for GC noise: a leak of 1 KB per pass would add 0.75 MB over these 750 passes... and
    // one of 10 KB, 7.5 MB. The long run (docs/reliability.md) gives the finer figure.
    assert.ok(figures.heapEndBytes - figures.heapWarmBytes < 4 * 1_048_576, `heap grew ${figures.heapEndBytes - figures.heapWarmBytes} bytes`);
    assert.ok(figures.openFilesMax - figures.openFilesMin <= 2, `open files ranged ${figures.openFilesMin} to ${figures.openFilesMax}`);
    assert.ok(figures.quietBytesPerPass < 1024, `${figures.quietBytesPerPass} bytes per unchanged pass`);
    assert.ok(figures.walMaxBytes < 16 * 1_048_576, 'the WAL is checkpointed');
  });
});
