import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { internAll, NgramTable } from './ngram-table.js';

function matches(table: NgramTable, hyp: number[]): number[] {
  const out = new Float64Array(table.maxOrder);
  table.addMatches(Int32Array.from(hyp), hyp.length, out);
  return [...out];
}

describe('NgramTable', () => {
  it('NgramTable: clips hypothesis counts by reference counts per order', () => {
    const t = new NgramTable(2).build([Int32Array.from([1, 2, 1, 2])]);
    // hyp 1 2 1 2 1 2: unigrams 1×3 vs 2, 2×3 vs 2 → 4; bigrams (1 2)×3 vs 2, (2 1)×2 vs 1 → 3
    assert.deepEqual(matches(t, [1, 2, 1, 2, 1, 2]), [4, 3]);
    assert.deepEqual(matches(t, [1, 2, 1, 2, 1, 2]), [4, 3], 'scratch is reset between calls');
    assert.deepEqual(matches(t, [3, -1, 1]), [1, 0]);
  });

  it('NgramTable: merges several references by the maximum count of each n-gram', () => {
    const t = new NgramTable(1).build([Int32Array.from([5, 5]), Int32Array.from([5, 6, 6, 6])]);
    assert.deepEqual(matches(t, [5, 5, 5, 6, 6, 6, 6]), [5]);
  });

  it('NgramTable.build: reuse for other references forgets the previous ones', () => {
    const t = new NgramTable(3).build([Int32Array.from(Array.from({ length: 500 }, (_, i) => i))]);
    t.build([Int32Array.from([7, 8, 9])]);
    assert.equal(t.size, 6);
    assert.deepEqual(matches(t, [7, 8, 9, 1, 2, 3]), [3, 2, 1]);
  });

  it('internAll: gives equal items equal ids in first-seen order', () => {
    const vocab = new Map<string, number>();
    assert.deepEqual([...internAll(vocab, ['a', 'b', 'a'])], [0, 1, 0]);
    assert.deepEqual([...internAll(vocab, ['c', 'b'])], [2, 1]);
  });
});
