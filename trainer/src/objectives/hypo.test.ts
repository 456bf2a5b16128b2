import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, gather, gradients, Graph, reshape, unsqueeze, type HostTensor } from '@rest/runtime';
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
  t64,
  values,
  weightedNllGradient,
} from './test-support.js';

// The DPO pair of dpo.test.ts (Δ = 0.03) and Q = 4 online samples of U = 2 tokens, k = 2 per prompt.
const pair = {
  token_logp: t64([2, 2], [-1, -2, -0.5, -0.5]),
  mask: maskOf([2, 2], 2),
  reference_seq_logp: t64([2], [-3.5, -1.2]),
};
const onlineLogp = t64([4, 2], [-0.5, -0.25, -1, -2, -0.2, -7, -0.1, -0.3]);
const onlineMask = maskOf([2, 2, 1, 2], 2);
const onlineS = [-0.75, -3, -0.2, -0.4];
const onlineRef = t64([4], [-1.75, -2, -0.7, -0.2]); // ρ = S − S_ref = (1, −1, 0.5, −0.2)
const online = { online_logp: onlineLogp, online_mask: onlineMask, online_reference_seq_logp: onlineRef };
const dpoLoss = Math.log1p(Math.exp(-0.03));

/** Leave-one-out advantages clip(ρ_j − b_j, ±c) of ALGORITHMS.md §3.7, by hand from ρ. */
function looAdvantages(rho: readonly number[], k: number, c = 20): number[] {
  return rho.map((p, j) => {
    const g = Math.floor(j / k) * k;
    const others = rho.slice(g, g + k).reduce((a, v) => a + v, 0) - p;
    const b = k === 1 ? 0 : others / (k - 1);
    return Math.min(Math.max(p - b, -c), c);
  });
}

test('hypo: a hand-computed case, DPO + λ · mean_j (ρ_j − b_j) S_j (k = 2)', async () => {
  const run = await runObjective('hypo', { klWeight: 0.5 }, { ...pair, ...online });
  // k = 2: ρ − b = (1 − (−1), −1 − 1, 0.5 − (−0.2), −0.2 − 0.5) = (2, −2, 0.7, −0.7)
  const surrogate = (2 * -0.75 + -2 * -3 + 0.7 * -0.2 + -0.7 * -0.4) / 4;
  assertClose('loss', [run.loss], [dpoLoss + 0.5 * surrogate]);
  assertClose('metric kl_estimate', [run.metrics.kl_estimate!], [(1 - 1 + 0.5 - 0.2) / 4]);
  assertClose('metric dpo_loss', [run.metrics.dpo_loss!], [dpoLoss]);
});

for (const [k, clamp] of [
  [1, 20],
  [2, 20],
  [4, 20],
  [2, 0.6],
] as const) {
  test(`hypo: value and gradients equal the weighted NLL with detached weights (k = ${k}, clamp ${clamp})`, async () => {
    const lambda = 0.3;
    const run = await runObjective(
      'hypo',
      { klWeight: lambda, onlineSamples: k, advantageClamp: clamp },
      { ...pair, ...online },
      ['token_logp', 'online_logp', 'online_reference_seq_logp', 'reference_seq_logp'],
    );
    const adv = looAdvantages([1, -1, 0.5, -0.2], k, clamp);
    const surrogate = adv.reduce((a, v, j) => a + v * onlineS[j]!, 0) / 4;
    assertClose('loss', [run.loss], [dpoLoss + lambda * surrogate]);
    // L_on = (1/Q) Σ_j a_j S_j is a weighted log-likelihood: NLL weights −λ a_j m / Q.
    const w = Array.from(onlineMask.data, (m, i) => (-lambda * adv[Math.floor(i / 2)]! * m) / 4);
    assertClose('d online_logp', run.grads.online_logp!, await weightedNllGradient(onlineLogp, w));
    const c = 0.1 * sigma(-0.03);
    assertClose(
      'd token_logp',
      run.grads.token_logp!,
      await weightedNllGradient(pair.token_logp, [c, c, -c, -c]),
    );
    assertClose('d online_reference_seq_logp', run.grads.online_reference_seq_logp!, [0, 0, 0, 0]);
  });
}

test('hypo gradient: finite differences (the DPO part; the online part is a surrogate, checked below)', async () => {
  await finiteDifferenceCheck('hypo', { klWeight: 0.5 }, { ...pair, ...online }, ['token_logp']);
});

// ---- Unbiasedness of the online reverse-KL gradient estimator ----------------------------------------
// A tiny sequence policy: y = (a, b), π_θ(a) = softmax(θ1)_a, π_θ(b | a) = softmax(θ2[a])_b, 3 tokens
// each (12 parameters); π_ref the same with fixed logits φ. ∇KL(π_θ ‖ π_ref) is exact by enumerating
// the 9 sequences (central differences of the enumerated KL, independent of the score-function form).
const A = 3;
const softmax = (z: readonly number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((x, v) => x + v, 0);
  return e.map((v) => v / s);
};
const logProb = (th: readonly number[], a: number, b: number): number =>
  Math.log(softmax(th.slice(0, A))[a]!) + Math.log(softmax(th.slice(A + a * A, A + a * A + A))[b]!);
function exactKl(th: readonly number[], ref: readonly number[]): number {
  let kl = 0;
  for (let a = 0; a < A; a++)
    for (let b = 0; b < A; b++) {
      const lp = logProb(th, a, b);
      kl += Math.exp(lp) * (lp - logProb(ref, a, b));
    }
  return kl;
}

/**
 * One graph: M prompts, each with its own copy of θ (so the per-prompt gradients come out separately),
 * k samples per prompt; online_logp from the copies' logits through tokenLogProbs; HyPO with λ = 1 and a
 * dummy pair. Returns the per-prompt estimates M · dL/dθ_i, [M][12].
 */
async function estimatorSamples(
  theta: readonly number[],
  ref: readonly number[],
  M: number,
  k: number,
  seed: number,
): Promise<number[][]> {
  const r = rng(seed);
  const Q = M * k;
  const tokens: number[] = []; // [Q, 2]
  const refSeq: number[] = [];
  const draw = (p: readonly number[]): number => {
    let u = r();
    for (let i = 0; i < p.length - 1; i++) if ((u -= p[i]!) < 0) return i;
    return p.length - 1;
  };
  for (let q = 0; q < Q; q++) {
    const a = draw(softmax(theta.slice(0, A)));
    const b = draw(softmax(theta.slice(A + a * A, A + a * A + A)));
    tokens.push(a, b);
    refSeq.push(logProb(ref, a, b));
  }
  const g = new Graph('hypo_unbiased');
  const th1 = g.input('theta1', 'f64', [M, A]);
  const th2 = g.input('theta2', 'f64', [M, A, A]);
  const prompt = g.input('prompt', 'i64', [Q]);
  const first = g.input('first_row', 'i64', [Q]); // prompt · A + a: the row of θ2 that scores b
  const labels = g.input('labels', 'i64', [Q, 2]);
  const step1 = gather(th1, prompt, 0); // [Q, A]
  const step2 = gather(reshape(th2, [M * A, A]), first, 0); // [Q, A]
  const logits = concat([unsqueeze(step1, [1]), unsqueeze(step2, [1])], 1); // [Q, 2, A]
  const xs = {
    ...Object.fromEntries(Object.entries(pair).map(([n, t]) => [n, g.input(n, 'f64', t.dims)])),
    online_logp: tokenLogProbs(logits, labels),
    online_mask: g.input('online_mask', 'f64', [Q, 2]),
    online_reference_seq_logp: g.input('online_reference_seq_logp', 'f64', [Q]),
  };
  const { loss } = buildObjective(g, 'hypo', xs, { klWeight: 1, onlineSamples: k });
  const [d1, d2] = gradients(loss, [th1, th2]);
  g.output(d1!, 'd1');
  g.output(d2!, 'd2');
  const rep = (n: number, vals: readonly number[]): number[] => Array.from({ length: n }, () => vals).flat();
  const promptOf = Array.from({ length: Q }, (_, q) => Math.floor(q / k));
  const i64 = (dims: number[], v: number[]): HostTensor<'i64'> => ({
    dtype: 'i64',
    dims,
    data: BigInt64Array.from(v.map(BigInt)),
  });
  const out = await runGraph(g, {
    ...pair,
    theta1: t64([M, A], rep(M, theta.slice(0, A))),
    theta2: t64([M, A, A], rep(M, theta.slice(A))),
    prompt: i64([Q], promptOf),
    first_row: i64(
      [Q],
      promptOf.map((p, q) => p * A + tokens[2 * q]!),
    ),
    labels: i64([Q, 2], tokens),
    online_mask: t64([Q, 2], rep(Q, [1, 1])),
    online_reference_seq_logp: t64([Q], refSeq),
  });
  const g1 = values(out.d1);
  const g2 = values(out.d2);
  return Array.from({ length: M }, (_, i) => [
    ...g1.slice(i * A, i * A + A).map((v) => v * M),
    ...g2.slice(i * A * A, (i + 1) * A * A).map((v) => v * M),
  ]);
}

for (const k of [2, 4]) {
  test(`hypo: the leave-one-out KL gradient estimator is unbiased (k = ${k}, tiny sequence policy, 4σ)`, async (t) => {
    const r = rng(100 + k);
    const theta = Array.from({ length: A + A * A }, () => 2 * r() - 1);
    const ref = Array.from({ length: A + A * A }, () => 2 * r() - 1);
    const h = 1e-5;
    const exact = theta.map((_, c) => {
      const up = [...theta];
      const down = [...theta];
      up[c]! += h;
      down[c]! -= h;
      return (exactKl(up, ref) - exactKl(down, ref)) / (2 * h);
    });
    const M = 20000 / k;
    const samples = await estimatorSamples(theta, ref, M, k, 7 + k);
    const mean = exact.map((_, c) => samples.reduce((a, s) => a + s[c]!, 0) / M);
    const se = exact.map((_, c) =>
      Math.sqrt(samples.reduce((a, s) => a + (s[c]! - mean[c]!) ** 2, 0) / (M - 1) / M),
    );
    const z = exact.map((e, c) => Math.abs(mean[c]! - e) / se[c]!);
    t.diagnostic(`max |z| ${Math.max(...z).toFixed(2)} over 12 components, M = ${M} prompts`);
    // 12 components at 4σ: a false alarm has probability ≈ 12 · 6e-5 for an unbiased estimator.
    assert.ok(Math.max(...z) < 4, `z-scores ${z.map((v) => v.toFixed(2)).join(', ')}`);
    // Power: a baseline that includes ρ_j itself scales the expected gradient by (k − 1)/k; this test
    // must be able to tell that apart on the largest component.
    const c = exact.reduce((best, e, i) => (Math.abs(e) > Math.abs(exact[best]!) ? i : best), 0);
    assert.ok(Math.abs(exact[c]! / k) > 4 * se[c]!, `se ${se[c]} too large for |∇KL| ${Math.abs(exact[c]!)}`);
  });
}
