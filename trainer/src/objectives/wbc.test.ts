import { test } from 'node:test';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  t64,
  weightedNllGradient,
} from './test-support.js';

const lp = t64([2, 3], [-0.5, -1.25, -2, -0.25, -0.75, -9]);
const mask = maskOf([3, 2], 3);
const reward = t64([2], [0.8, 0.3]);

test('wbc: value is mean_b R_b · (−S_b)', async () => {
  const run = await runObjective('wbc', undefined, { token_logp: lp, mask, reward });
  assertClose('loss', [run.loss], [(0.8 * 3.75 + 0.3 * 1) / 2]);
});

test('wbc: gradient equals the weighted-NLL gradient with weights R_b·m/B', async () => {
  const run = await runObjective('wbc', undefined, { token_logp: lp, mask, reward }, [
    'token_logp',
    'reward',
  ]);
  const w = Array.from(mask.data, (m, i) => (m * [0.8, 0.3][Math.floor(i / 3)]!) / 2);
  assertClose('d token_logp', run.grads.token_logp!, await weightedNllGradient(lp, w));
  assertClose('d reward (detached)', run.grads.reward!, [0, 0]);
});

test('wbc gradient: finite differences', async () => {
  await finiteDifferenceCheck('wbc', undefined, { token_logp: lp, mask, reward }, ['token_logp']);
});
