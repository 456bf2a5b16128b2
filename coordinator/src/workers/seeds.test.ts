import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkSeed, chunks, seedFromText } from './seeds.js';

test('chunkSeed: deterministic uint64, distinct across chunks and shard seeds', () => {
  const seen = new Set<bigint>();
  for (const seed of [0n, 1n, 42n, (1n << 64n) - 1n]) {
    for (let c = 0; c < 50; c++) {
      const s = chunkSeed(seed, c);
      assert.equal(s, chunkSeed(seed, c));
      assert.ok(s >= 0n && s < 1n << 64n);
      seen.add(s);
    }
  }
  assert.equal(seen.size, 200);
});

test('seedFromText: the same text gives the same seed, another text another', () => {
  assert.equal(seedFromText('r/g1/grow/shard/3'), seedFromText('r/g1/grow/shard/3'));
  assert.notEqual(seedFromText('r/g1/grow/shard/3'), seedFromText('r/g1/grow/shard/4'));
});

test('chunks: consecutive pieces of at most size items, the last one shorter', () => {
  assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(chunks([], 3), []);
});
