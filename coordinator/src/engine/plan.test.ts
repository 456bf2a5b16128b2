import assert from 'node:assert/strict';
import { test } from 'node:test';
import { common } from '@rest/proto';
import { RUN_SPEC_DEFAULTS } from '../run/spec.js';
import {
  decodingToWire,
  deriveSeed,
  growShards,
  metricKeys,
  rewardStats,
  stepPolicyId,
  withoutGain,
} from './plan.js';

test('growShards: contiguous ranges of perShard sources covering every source once', () => {
  assert.deepEqual(growShards(10, 4), [
    { n: 0, start: 0, end: 4 },
    { n: 1, start: 4, end: 8 },
    { n: 2, start: 8, end: 10 },
  ]);
  assert.deepEqual(
    growShards(8, 4).map((s) => s.end - s.start),
    [4, 4],
  );
  assert.deepEqual(growShards(0, 4), []);
  assert.throws(() => growShards(10, 0), RangeError);
});

test('deriveSeed: a pure function of the run seed and the path, 63 bits', () => {
  const a = deriveSeed(42n, 'grow', 1, 'shard', 0);
  assert.equal(a, deriveSeed(42n, 'grow', 1, 'shard', 0));
  assert.notEqual(a, deriveSeed(42n, 'grow', 1, 'shard', 1));
  assert.notEqual(a, deriveSeed(43n, 'grow', 1, 'shard', 0));
  assert.notEqual(deriveSeed(1n, 'grow', 12, 'shard', 3), deriveSeed(1n, 'grow', 1, 'shard', 23));
  for (let n = 0; n < 100; n++) {
    const s = deriveSeed(7n, 'x', n);
    assert.ok(s >= 0n && s < 2n ** 63n);
  }
});

test('rewardStats: population statistics; zeros when empty', () => {
  const s = rewardStats([0.2, 0.4, 0.9]);
  assert.equal(s.count, 3);
  assert.ok(Math.abs(s.mean - 0.5) < 1e-12);
  const variance = ((0.2 - 0.5) ** 2 + (0.4 - 0.5) ** 2 + (0.9 - 0.5) ** 2) / 3;
  assert.ok(Math.abs(s.std - Math.sqrt(variance)) < 1e-12);
  assert.equal(s.min, 0.2);
  assert.equal(s.max, 0.9);
  assert.deepEqual(rewardStats([]), { count: 0, mean: 0, std: 0, min: 0, max: 0 });
  assert.equal(rewardStats([0.3, 0.3]).std, 0);
});

test('decodingToWire: resolved decoding on the wire, beams only for beam search, the seed when given', () => {
  const sample = { ...RUN_SPEC_DEFAULTS.growDecoding, numReturnSequences: 8 };
  const w = decodingToWire(sample, 5n);
  assert.equal(w.strategy, common.DecodingStrategy.DECODING_STRATEGY_SAMPLE);
  assert.equal(w.temperature, 0.8);
  assert.equal(w.numBeams, 0);
  assert.equal(w.numReturnSequences, 8);
  assert.equal(w.seed, 5n);
  const beam = decodingToWire({ ...RUN_SPEC_DEFAULTS.evalDecoding, numReturnSequences: 1 });
  assert.equal(beam.strategy, common.DecodingStrategy.DECODING_STRATEGY_BEAM);
  assert.equal(beam.numBeams, 4);
  assert.equal(beam.lengthPenalty, 0.6);
  assert.equal(beam.seed, undefined);
});

test('metric keys and step policy ids follow the documented names', () => {
  assert.equal(metricKeys.eval(0, 0), 'g0/i0/eval');
  assert.equal(metricKeys.shard(2, 7), 'g2/grow/shard/7');
  assert.equal(metricKeys.filter(1, 3), 'g1/i3/filter');
  assert.equal(stepPolicyId('r1', 2, 3), 'r1.g2.i3');
});

test('withoutGain: a step is without gain unless its best validation reward is above its parent', () => {
  assert.equal(withoutGain({ valid_reward_mean: 0.54, valid_reward_initial: 0.53 }), false);
  assert.equal(withoutGain({ valid_reward_mean: 0.53, valid_reward_initial: 0.53 }), true, 'a tie');
  assert.equal(withoutGain({ valid_reward_mean: 0.52, valid_reward_initial: 0.53 }), true);
  // Without the trainer's validations (no valid sentences) nothing says the step lost.
  assert.equal(withoutGain({ valid_reward_mean: 0.52 }), false);
  assert.equal(withoutGain({ valid_reward_initial: 0.53 }), false);
  assert.equal(withoutGain({ steps: 30 }), false);
});
