import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RewardAccumulator } from './reward-stats.js';

test('RewardAccumulator: population mean, std, min and max, in any order of additions', () => {
  const a = new RewardAccumulator();
  a.add([0.2, 0.4]);
  a.add([0.6, 0.8]);
  const s = a.summary();
  assert.equal(s.count, 4);
  assert.ok(Math.abs(s.mean - 0.5) < 1e-12);
  assert.ok(Math.abs(s.std - Math.sqrt(0.05)) < 1e-12);
  assert.equal(s.min, 0.2);
  assert.equal(s.max, 0.8);
});

test('RewardAccumulator: an empty set summarises to zeros', () => {
  assert.deepEqual(new RewardAccumulator().summary(), { count: 0, mean: 0, std: 0, min: 0, max: 0 });
});
