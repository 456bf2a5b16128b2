import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients, Graph, type HostTensor } from '@rest/runtime';
import { rng } from '@rest/runtime/testing';
import { tokenLogProbs } from './log-probs.js';
import { buildObjective } from './registry.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runGraph,
  runObjective,
  sigma,
  softplus,
  t64,
  values,
  weightedNllGradient,
} from './test-support.js';

// One pair, T = 2: S_w = −3, S_l = −1; S_ref = (−3.5, −1.2).
const pair = {
  token_logp: t64([2, 2], [-1, -2, -0.5, -0.5]),
  mask: maskOf([2, 2], 2),
  reference_seq_logp: t64([2], [-3.5, -1.2]),
};

test('dpo: a hand-computed pair, softplus(−β[(S_w − S_ref,w) − (S_l − S_ref,l)])', async () => {
  const run = await runObjective('dpo', undefined, pair);
  // Δ = 0.1 · ((−3 + 3.5) − (−1 + 1.2)) = 0.03
  assertClose('loss', [run.loss], [Math.log1p(Math.exp(-0.03))]);
  assertClose('metric margin', [run.metrics.margin!], [0.03]);
  assert.equal(run.metrics.reward_accuracy, 1);
  const free = await runObjective('dpo', { referenceFree: true, beta: 0.5 }, pair);
  assertClose('reference-free loss', [free.loss], [Math.log1p(Math.exp(0.5 * 2))]); // Δ = 0.5 · (−3 + 1)
});

test('dpo: gradient equals the weighted NLL with weights ±β σ(−Δ)/P on chosen/rejected rows', async () => {
  const run = await runObjective('dpo', undefined, pair, ['token_logp', 'reference_seq_logp']);
  const c = 0.1 * sigma(-0.03);
  assertClose(
    'd token_logp',
    run.grads.token_logp!,
    await weightedNllGradient(pair.token_logp, [c, c, -c, -c]),
  );
  assertClose('d reference_seq_logp', run.grads.reference_seq_logp!, [0, 0]);
});

/** Float64 reference of DPO from logits [2P, T, V] (plain TypeScript): the loss and dL/dlogits. */
function dpoReference(
  logits: Float64Array,
  labels: readonly number[],
  mask: Float64Array,
  ref: readonly number[] | undefined,
  P: number,
  T: number,
  V: number,
  beta: number,
): { loss: number; dLogits: number[] } {
  const logp: number[] = []; // [2P, T, V]
  for (let row = 0; row < 2 * P * T; row++) {
    const z = Array.from(logits.subarray(row * V, row * V + V));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    logp.push(...z.map((v) => v - lse));
  }
  const S = Array.from({ length: 2 * P }, (_, r) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += mask[r * T + t]! * logp[(r * T + t) * V + labels[r * T + t]!]!;
    return s - (ref?.[r] ?? 0);
  });
  let loss = 0;
  const dS = new Array<number>(2 * P).fill(0);
  for (let i = 0; i < P; i++) {
    const delta = beta * (S[i]! - S[P + i]!);
    loss += softplus(-delta) / P;
    dS[i] = (-beta * sigma(-delta)) / P;
    dS[P + i] = (beta * sigma(-delta)) / P;
  }
  const dLogits: number[] = [];
  for (let r = 0; r < 2 * P; r++)
    for (let t = 0; t < T; t++)
      for (let v = 0; v < V; v++) {
        const k = (r * T + t) * V + v;
        const onehot = labels[r * T + t] === v ? 1 : 0;
        dLogits.push(dS[r]! * mask[r * T + t]! * (onehot - Math.exp(logp[k]!)));
      }
  return { loss, dLogits };
}

for (const referenceFree of [false, true]) {
  test(`dpo: loss and dL/dlogits equal a float64 reference on random logits (referenceFree ${referenceFree})`, async () => {
    const r = rng(referenceFree ? 5 : 4);
    const P = 3;
    const T = 4;
    const V = 5;
    const beta = 0.7;
    const logits = Float64Array.from({ length: 2 * P * T * V }, () => 4 * r() - 2);
    const labels = Array.from({ length: 2 * P * T }, () => Math.floor(r() * V));
    const mask = maskOf([4, 3, 1, 2, 4, 4], T);
    const ref = Array.from({ length: 2 * P }, () => -3 * r());
    const g = new Graph('dpo_logits');
    const z = g.input('logits', 'f64', [2 * P, T, V]);
    const y = g.input('labels', 'i64', [2 * P, T]);
    const inputs = { token_logp: tokenLogProbs(z, y), mask: g.input('mask', 'f64', [2 * P, T]) };
    const { loss } = buildObjective(
      g,
      'dpo',
      referenceFree
        ? inputs
        : { ...inputs, reference_seq_logp: g.input('reference_seq_logp', 'f64', [2 * P]) },
      { beta, referenceFree },
    );
    g.output(loss, 'loss');
    g.output(gradients(loss, [z])[0]!, 'd_logits');
    const feeds: Record<string, HostTensor> = {
      logits: { dtype: 'f64', dims: [2 * P, T, V], data: logits },
      labels: { dtype: 'i64', dims: [2 * P, T], data: BigInt64Array.from(labels.map(BigInt)) },
      mask,
    };
    if (!referenceFree) feeds.reference_seq_logp = t64([2 * P], ref);
    const out = await runGraph(g, feeds);
    const want = dpoReference(logits, labels, mask.data, referenceFree ? undefined : ref, P, T, V, beta);
    assertClose('loss', values(out.loss), [want.loss]);
    assertClose('d_logits', values(out.d_logits), want.dLogits);
  });
}

test('dpo: a margin of −1000 gives a finite loss and a gradient of magnitude β (no softplus overflow)', async () => {
  const run = await runObjective(
    'dpo',
    { beta: 1, referenceFree: true },
    { token_logp: t64([2, 1], [-1000, 0]), mask: maskOf([1, 1], 1) },
    ['token_logp'],
  );
  assertClose('loss', [run.loss], [1000]);
  assertClose('d token_logp', run.grads.token_logp!, [-1, 1]);
});

test('dpo gradient: finite differences', async () => {
  const r = rng(9);
  const lp = t64(
    [4, 3],
    Array.from({ length: 12 }, () => -2 * r()),
  );
  await finiteDifferenceCheck(
    'dpo',
    { beta: 0.5 },
    { token_logp: lp, mask: maskOf([3, 2, 3, 1], 3), reference_seq_logp: t64([4], [-2, -1, -3, -0.5]) },
    ['token_logp'],
  );
});
