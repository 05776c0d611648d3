import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalTimestamp, formatInstant, formatODataInstant, parseInstant } from '../src/instants.js';

describe('instants', () => {
  it('compares timestamps with 0 to 7 fraction digits as instants, not as text', () => {
    const texts = ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.2Z', '2024-05-01T10:00:00.1999999Z', '2024-05-01T10:00:00.0000001Z', '2024-05-01T09:59:59.9999999Z'];
    const sorted = [...texts].sort((a, b) => (parseInstant(a)! < parseInstant(b)! ? -1 : 1));
    assert.deepEqual(sorted, ['2024-05-01T09:59:59.9999999Z', '2024-05-01T10:00:00Z', '2024-05-01T10:00:00.0000001Z', '2024-05-01T10:00:00.1999999Z', '2024-05-01T10:00:00.2Z']);
    // As plain text, "…00.2Z" sorts before "…00Z" was wrongly placed by string comparison in other collectors.
    assert.ok('2024-05-01T10:00:00.2Z' < '2024-05-01T10:00:00Z');
  });

  it('keeps 100 ns resolution and round-trips through the canonical and OData forms', () => {
    const instant = parseInstant('2024-05-01T10:00:48.7657932Z')!;
    assert.equal(formatInstant(instant), '2024-05-01T10:00:48.7657932Z');
    assert.equal(formatInstant(instant + 1n), '2024-05-01T10:00:48.7657933Z');
    assert.equal(formatODataInstant(parseInstant('2024-05-01T10:00:48.2Z')!), '2024-05-01T10:00:48.2Z');
    assert.equal(formatODataInstant(parseInstant('2024-05-01T10:00:48Z')!), '2024-05-01T10:00:48Z');
    assert.equal(canonicalTimestamp('2024-05-01T12:00:00+02:00'), '2024-05-01T10:00:00.0000000Z');
  });

  it('rejects what is not a timestamp with a zone', () => {
    for (const bad of ['', 'yesterday', '2024-05-01T10:00:00', '2024-02-30T10:00:00Z', '2024-05-01T25:00:00Z', 42, null]) {
      assert.equal(parseInstant(bad), undefined, String(bad));
    }
  });
});
