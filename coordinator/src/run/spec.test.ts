import { test } from 'node:test';
import assert from 'node:assert/strict';
import { improveLearningRate, RUN_SPEC_DEFAULTS, type OptimizerSpec } from './spec.js';

const optimizer: OptimizerSpec = {
  ...RUN_SPEC_DEFAULTS.optimizer,
  lrSchedule: 'constant',
  warmupSteps: 0,
  weightDecay: 0,
  maxGradNorm: undefined,
};

test('improveLearningRate: halves the peak learning rate per Improve step by default', () => {
  assert.equal(improveLearningRate(optimizer, 1), 1e-4);
  assert.equal(improveLearningRate(optimizer, 3), 1e-4 * 0.25);
});

test('improveLearningRate: throws RangeError for step 0', () => {
  assert.throws(() => improveLearningRate(optimizer, 0), RangeError);
});
