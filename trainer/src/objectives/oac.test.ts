import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '@rest/runtime';
import { ADVANTAGE_STD_EPS } from './oac.js';
import { parseObjectiveHyper } from './registry.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  t64,
  weightedNllGradient,
} from './test-support.js';

/** OAC's token weights Â_t + α_BC (ALGORITHMS.md §3.3) in plain float64. */
function oacWeights(
  mask: HostTensor,
  reward: readonly number[],
  value: HostTensor,
  h: { discount: number; bcWeight: number; advantageScaling: boolean },
): number[] {
  const [B, T] = mask.dims as [number, number];
  const adv: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      let after = 0;
      for (let s = t + 1; s < T; s++) after += Number(mask.data[b * T + s]);
      const m = Number(mask.data[b * T + t]);
      adv.push(m * (reward[b]! * h.discount ** after - Number(value.data[b * T + t])));
    }
  const ms = Array.from(mask.data as Float64Array);
  const n = ms.reduce((a, v) => a + v, 0);
  const mu = adv.reduce((a, v, i) => a + v * ms[i]!, 0) / n;
  const std = Math.sqrt(adv.reduce((a, v, i) => a + ms[i]! * (v - mu) ** 2, 0) / n);
  return adv.map((a) => (h.advantageScaling ? a / (std + ADVANTAGE_STD_EPS) : a) + h.bcWeight);
}

const lp = t64([2, 3], [-0.5, -1.25, -2, -0.25, -0.75, -9]);
const mask = maskOf([3, 2], 3);
const reward = t64([2], [0.9, 0.4]);
const value = t64([2, 3], [0.5, 0.7, 0.95, 0.1, 0.6, 3]);

test('oac: a hand-computed case (γ = 0.5, no scaling)', async () => {
  // Row 0 (2 tokens): G = (0.5, 1)·1, A = (0.5 − 0.6, 1 − 0.8); row 1 (1 token): G = 0.5, A = 0.5 − 0.2.
  const run = await runObjective(
    'oac',
    { discount: 0.5, advantageScaling: false },
    {
      token_logp: t64([2, 2], [-1, -2, -3, -4]),
      mask: maskOf([2, 1], 2),
      reward: t64([2], [1, 0.5]),
      value: t64([2, 2], [0.6, 0.8, 0.2, 9]),
    },
  );
  assertClose('loss', [run.loss], [(-0.1 * 1 + 0.2 * 2 + 0.3 * 3) / 2]);
});

for (const hyper of [{}, { discount: 0.8, bcWeight: 0.5 }, { advantageScaling: false }] as const) {
  const h = parseObjectiveHyper('oac', hyper);
  const label = JSON.stringify(hyper);
  const feeds = { token_logp: lp, mask, reward, value };
  test(`oac: value and gradient equal the weighted NLL with weights (Â_t + α_BC)·m/B, ${label}`, async () => {
    const run = await runObjective('oac', h, feeds, ['token_logp', 'value', 'reward']);
    const w = oacWeights(mask, [0.9, 0.4], value, h).map((v, i) => (v * Number(mask.data[i])) / 2);
    const loss = w.reduce((a, v, i) => a - v * Number(lp.data[i]), 0);
    assertClose('loss', [run.loss], [loss]);
    assertClose('d token_logp', run.grads.token_logp!, await weightedNllGradient(lp, w));
    assert.ok(
      [...run.grads.value!, ...run.grads.reward!].every((v) => v === 0),
      'advantages are detached',
    );
  });
}

test('oac gradient: finite differences', async () => {
  await finiteDifferenceCheck('oac', { bcWeight: 0.3 }, { token_logp: lp, mask, reward, value }, [
    'token_logp',
  ]);
});
