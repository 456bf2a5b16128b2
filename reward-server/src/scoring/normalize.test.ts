import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meanStd, normalize } from './normalize.js';
import type { ScorerInfo } from './types.js';

const INFO: ScorerInfo = {
  name: 'x',
  kind: 'metric',
  version: 'v',
  description: '',
  requiresReference: true,
  higherIsBetter: true,
  rawMin: 0,
  rawMax: 100,
  calibration: { mean: 40, std: 10, origin: 'test' },
};
const TER: ScorerInfo = { ...INFO, higherIsBetter: false };

describe('normalize', () => {
  it('normalize: raw is untouched; clipped01 maps the range onto [0, 1] and clips', () => {
    assert.equal(normalize(250, INFO, 'raw'), 250);
    assert.equal(normalize(25, INFO, 'clipped01'), 0.25);
    assert.equal(normalize(-5, INFO, 'clipped01'), 0);
    assert.equal(normalize(120, INFO, 'clipped01'), 1);
  });

  it('normalize: a lower-is-better score (TER) is inverted: 1 - TER/100 clipped, (mean - TER)/std', () => {
    assert.equal(normalize(25, TER, 'clipped01'), 0.75);
    assert.equal(normalize(150, TER, 'clipped01'), 0);
    assert.equal(normalize(20, TER, 'zscore'), 2);
    assert.equal(normalize(60, INFO, 'zscore'), 2);
    assert.ok(Object.is(normalize(40, TER, 'zscore'), 0), 'the mean scores +0');
  });

  it('meanStd: population statistics; refuses fewer than 2 or constant scores', () => {
    assert.deepEqual(meanStd([1, 3]), { mean: 2, std: 1 });
    assert.throws(() => meanStd([1]), RangeError);
    assert.throws(() => meanStd([2, 2, 2]), /all equal/);
  });
});
