import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareSteps, parseMetricKey, stepLabel } from './metric-keys.js';

describe('metric keys', () => {
  it('parseMetricKey: every key of the run conventions, and unknown ones as other', () => {
    assert.deepEqual(parseMetricKey('g0/i0/eval'), { kind: 'eval', grow: 0, improve: 0 });
    assert.deepEqual(parseMetricKey('g2/i13/filter'), { kind: 'filter', grow: 2, improve: 13 });
    assert.deepEqual(parseMetricKey('g1/i3/train'), { kind: 'train', grow: 1, improve: 3 });
    assert.deepEqual(parseMetricKey('g1/grow'), { kind: 'grow', grow: 1 });
    assert.deepEqual(parseMetricKey('g3/grow/shard/17'), { kind: 'grow-shard', grow: 3, shard: 17 });
    assert.deepEqual(parseMetricKey('test/eval'), { kind: 'test' });
    for (const key of ['g1/i1/evaluate', 'gx/grow', 'g1/grow/shard/', 'eval']) {
      assert.deepEqual(parseMetricKey(key), { kind: 'other' }, key);
    }
  });

  it('stepLabel and compareSteps: base first, then by Grow and Improve step', () => {
    const steps = [
      { grow: 2, improve: 1 },
      { grow: 1, improve: 2 },
      { grow: 0, improve: 0 },
      { grow: 1, improve: 1 },
    ];
    assert.deepEqual(
      steps.sort(compareSteps).map((s) => stepLabel(s.grow, s.improve)),
      ['base', 'g1/i1', 'g1/i2', 'g2/i1'],
    );
  });
});
