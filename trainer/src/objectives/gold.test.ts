import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '@rest/runtime';
import { parseObjectiveHyper } from './registry.js';
import type { GoldHyper } from './gold.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  t64,
  weightedNllGradient,
} from './test-support.js';

/** GOLD's per-token weight w_t·Q̂_t, recomputed from ALGORITHMS.md §3.2 in plain float64. */
function goldWeights(mask: HostTensor, lagged: HostTensor, mle: HostTensor, h: GoldHyper): number[] {
  const [B, T] = mask.dims as [number, number];
  const rho = (p: number): number => (h.tokenReward === 'prob' ? p : Math.log(p + 1e-10) - h.logprobOffset);
  const rEnd = Math.max(h.rewardMin, rho(1));
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const r = (t: number): number =>
      t < T && mask.data[b * T + t] === 1
        ? Math.max(h.rewardMin, rho(Math.exp(Number(mle.data[b * T + t]))))
        : rEnd;
    for (let t = 0; t < T; t++) {
      const w = Math.min(Math.max(Math.exp(Number(lagged.data[b * T + t])), h.weightMin), 1);
      let q = 0;
      for (let j = 0; j <= h.lookahead; j++) q += h.discount ** j * r(t + j);
      out.push(w * q);
    }
  }
  return out;
}

function goldLoss(lp: HostTensor, mean: HostTensor, mask: HostTensor, weights: number[], e: number): number {
  const [B] = mask.dims as [number];
  let total = 0;
  weights.forEach((w, i) => {
    const m = Number(mask.data[i]);
    total += m * ((1 - e) * w * -Number(lp.data[i]) + e * -Number(mean.data[i]));
  });
  return total / B;
}

const lp = t64([2, 4], [-0.5, -1.25, -2, -0.1, -0.25, -0.75, -9, -9]);
const mean = t64([2, 4], [-3, -3.5, -4, -2, -2.5, -3.25, -7, -7]);
const mask = maskOf([4, 2], 4);
const lagged = t64([2, 4], [-0.1, -3, -0.7, -1.6, -2.2, -0.05, -1, -1]);
const mle = t64([2, 4], [-0.2, -4, -1.1, -0.6, -0.9, -0.01, -30, -30]);
const feeds = { token_logp: lp, mask, lagged_logp: lagged, mle_logp: mle, mean_logp: mean };

test('gold: a hand-computed case (k = 1, γ = 1, ε = 0)', async () => {
  // π̃ = (0.9, 0.1) → w = (0.9, 0.2); p_MLE = (0.5, 0.05) → r = (0.5, 0.1), end reward max(0.1, 1) = 1;
  // Q̂ = (0.5 + 0.1, 0.1 + 1) = (0.6, 1.1); L = 0.9·0.6·1 + 0.2·1.1·2 = 0.54 + 0.44.
  const run = await runObjective(
    'gold',
    { lookahead: 1, labelSmoothing: 0 },
    {
      token_logp: t64([1, 2], [-1, -2]),
      mask: maskOf([2], 2),
      lagged_logp: t64([1, 2], [Math.log(0.9), Math.log(0.1)]),
      mle_logp: t64([1, 2], [Math.log(0.5), Math.log(0.05)]),
    },
  );
  assertClose('loss', [run.loss], [0.98]);
  assertClose('metric importance_weight', [run.metrics.importance_weight!], [0.55]);
});

for (const hyper of [
  {}, // GOLD-s, the spec's defaults: u 0.2, c 0.1, k 5 (past the tensor end), γ 1, ε 0.1
  { lookahead: 2, discount: 0.9, weightMin: 0 },
  { tokenReward: 'logprob', weightMin: 0, rewardMin: 1, labelSmoothing: 0 }, // GOLD-p option defaults
] as const) {
  const h = parseObjectiveHyper('gold', hyper);
  const label = JSON.stringify(hyper);
  test(`gold: value from the §3.2 formula, ${label}`, async () => {
    const run = await runObjective('gold', h, feeds);
    assertClose(
      'loss',
      [run.loss],
      [goldLoss(lp, mean, mask, goldWeights(mask, lagged, mle, h), h.labelSmoothing)],
    );
  });

  test(`gold: gradient equals the weighted NLL with weights (1 − ε)·w_t·Q̂_t·m/B, ${label}`, async () => {
    const run = await runObjective('gold', h, feeds, ['token_logp', 'lagged_logp', 'mle_logp']);
    const e = h.labelSmoothing;
    const w = goldWeights(mask, lagged, mle, h).map((v, i) => ((1 - e) * v * Number(mask.data[i])) / 2);
    assertClose('d token_logp', run.grads.token_logp!, await weightedNllGradient(lp, w));
    assert.ok(
      run.grads.lagged_logp!.every((v) => v === 0),
      'w is detached',
    );
    assert.ok(
      run.grads.mle_logp!.every((v) => v === 0),
      'Q̂ is detached',
    );
  });
}

test('gold gradient: finite differences', async () => {
  await finiteDifferenceCheck('gold', { lookahead: 2, discount: 0.9 }, feeds, ['token_logp', 'mean_logp']);
});
