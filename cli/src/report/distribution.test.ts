import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { histogram, rewardDomain, summarize } from './distribution.js';

describe('distribution', () => {
  it('histogram: counts sum to the values; the last bin is closed; outliers go to the end bins', () => {
    const bins = histogram([0, 0.1, 0.25, 0.5, 0.99, 1, -0.2, 1.7], [0, 1], 4);
    assert.deepEqual(
      bins.map((b) => b.count),
      [3, 1, 1, 3],
    );
    assert.deepEqual(
      bins.map((b) => [b.from, b.to]),
      [
        [0, 0.25],
        [0.25, 0.5],
        [0.5, 0.75],
        [0.75, 1],
      ],
    );
  });

  it('histogram: rejects zero bins and an empty domain', () => {
    assert.throws(() => histogram([1], [0, 1], 0), RangeError);
    assert.throws(() => histogram([1], [1, 1], 3), RangeError);
  });

  it('rewardDomain: [0, 1] for clipped01 rewards, else the data range, a unit range around one value', () => {
    assert.deepEqual(rewardDomain([0.2, 0.4], 'clipped01'), [0, 1]);
    assert.deepEqual(rewardDomain([-1.5, 2], 'zscore'), [-1.5, 2]);
    assert.deepEqual(rewardDomain([3, 3], 'raw'), [2.5, 3.5]);
    assert.deepEqual(rewardDomain([], undefined), [0, 1]);
  });

  it('summarize: mean, population std, min, max; NaN for no values', () => {
    assert.deepEqual(summarize([1, 2, 3, 4]), { count: 4, mean: 2.5, std: Math.sqrt(1.25), min: 1, max: 4 });
    assert.ok(Number.isNaN(summarize([]).mean));
  });
});
