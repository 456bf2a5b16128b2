import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lengthGroups, RUN_OVERHEAD_TOKENS } from './length-groups.js';

const cost = (lengths: number[], groups: number[][]): number =>
  groups.reduce((a, g) => a + RUN_OVERHEAD_TOKENS + g.length * Math.max(...g.map((i) => lengths[i]!)), 0);

test('lengthGroups: similar lengths stay in one run', () => {
  assert.deepEqual(lengthGroups([7, 9, 8, 8]), [[0, 2, 3, 1]]);
  assert.deepEqual(lengthGroups([]), []);
});

test('lengthGroups: short and long sources are split when padding costs more than a run', () => {
  const lengths = [...Array.from({ length: 20 }, () => 60), ...Array.from({ length: 20 }, () => 4)];
  const groups = lengthGroups(lengths);
  assert.equal(groups.length, 2);
  assert.deepEqual(
    groups.flat().sort((a, b) => a - b),
    lengths.map((_, i) => i),
  );
  assert.ok(cost(lengths, groups) < cost(lengths, [lengths.map((_, i) => i)]));
});

test('lengthGroups: every row once, runs sorted by length, no worse than one run', () => {
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 20; trial++) {
    const lengths = Array.from({ length: 1 + Math.floor(next() * 80) }, () => 1 + Math.floor(next() * 50));
    const groups = lengthGroups(lengths);
    assert.deepEqual(
      groups.flat().sort((a, b) => a - b),
      lengths.map((_, i) => i),
    );
    for (const g of groups)
      for (let i = 1; i < g.length; i++) assert.ok(lengths[g[i - 1]!]! <= lengths[g[i]!]!);
    assert.ok(cost(lengths, groups) <= cost(lengths, [lengths.map((_, i) => i)]));
  }
});
