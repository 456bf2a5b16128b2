import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck, OP_GRAD_TOLERANCE, rng } from '@rest/runtime/testing';
import type { HostTensor } from '@rest/runtime';
import { bvmpoKlWeight, tokenKl } from './bvmpo.js';
import { parseObjectiveHyper } from './registry.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  sigma,
  softplus,
  t64,
  weightedNllGradient,
} from './test-support.js';

const B = 2;
const T = 3;
const V = 4;
const r = rng(11);

function logSoftmaxRows(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: V }, () => 3 * r() - 1.5);
    const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
    out.push(...z.map((v) => v - lse));
  }
  return out;
}

const lp = t64([B, T], [-0.5, -1.25, -2, -0.25, -0.75, -9]);
const mask = maskOf([3, 2], T); // N = 5 real tokens → ⌈0.5 · 5⌉ = 3 kept
const reward = t64([B], [0.9, 0.4]);
const value = t64([B, T], [0.5, 0.7, 0.95, 0.1, 0.6, 3]); // A = (0.4, 0.2, −0.05 | 0.3, −0.2): keeps 0.4, 0.3, 0.2
const policy = t64([B, T, V], logSoftmaxRows(B * T));
const behaviour = t64([B, T, V], logSoftmaxRows(B * T));
const old = t64([B, T, V], logSoftmaxRows(B * T));
const feeds = {
  token_logp: lp,
  mask,
  reward,
  value,
  policy_logprobs: policy,
  behaviour_logprobs: behaviour,
  old_logprobs: old,
  eta_raw: t64([], [0.3]),
  alpha_raw: t64([], [-1]),
  kl_weight: t64([], [0.25]),
};

/** Mean over masked tokens of KL(p ‖ π_θ) and its gradient in π_θ's log-probs, from §3.4 by hand. */
function kl(from: HostTensor): { value: number; dPolicy: number[] } {
  const n = 5;
  let total = 0;
  const dPolicy: number[] = [];
  for (let i = 0; i < B * T; i++) {
    const m = Number(mask.data[i]);
    for (let v = 0; v < V; v++) {
      const q = Number(from.data[i * V + v]);
      total += (m * Math.exp(q) * (q - Number(policy.data[i * V + v]))) / n;
      dPolicy.push((-m * Math.exp(q)) / n);
    }
  }
  return { value: total, dPolicy };
}

test('bvmpo: value and gradients from the §3.4 formulas (top-half tokens, ψ, duals, KLs)', async () => {
  const h = parseObjectiveHyper('bvmpo');
  const run = await runObjective('bvmpo', h, feeds, [
    'token_logp',
    'eta_raw',
    'alpha_raw',
    'policy_logprobs',
    'value',
  ]);
  // Selected tokens (flat index → A): 0 → 0.4, 3 → 0.3, 1 → 0.2.
  const sel = [
    [0, 0.4],
    [3, 0.3],
    [1, 0.2],
  ] as const;
  const eta = softplus(0.3);
  const lse = Math.log(sel.reduce((a, [, A]) => a + Math.exp(A / eta), 0));
  const psi = sel.map(([, A]) => Math.exp(A / eta - lse));
  const lossPi = sel.reduce((a, [i], k) => a - psi[k]! * Number(lp.data[i]), 0);
  const lossEta = eta * h.epsilonEta + eta * (lse - Math.log(3));
  const alpha = softplus(-1);
  const klOld = kl(old);
  const klPrior = kl(behaviour);
  const want = lossPi + lossEta + alpha * h.epsilonAlpha + 0.25 * klPrior.value;
  assertClose('loss', [run.loss], [want]);
  assertClose('metric kl_old', [run.metrics.kl_old!], [klOld.value]);
  assertClose('metric selected_tokens', [run.metrics.selected_tokens!], [3]);

  const w = Array.from({ length: B * T }, () => 0);
  sel.forEach(([i], k) => (w[i] = psi[k]!));
  assertClose('d token_logp', run.grads.token_logp!, await weightedNllGradient(lp, w));
  const dEta = h.epsilonEta + lse - Math.log(3) - sel.reduce((a, [, A], k) => a + (psi[k]! * A) / eta, 0);
  assertClose('d eta_raw', run.grads.eta_raw!, [dEta * sigma(0.3)]);
  assertClose('d alpha_raw', run.grads.alpha_raw!, [(h.epsilonAlpha - klOld.value) * sigma(-1)]);
  assertClose(
    'd policy_logprobs',
    run.grads.policy_logprobs!,
    klOld.dPolicy.map((d, i) => alpha * d + 0.25 * klPrior.dPolicy[i]!),
  );
  assert.ok(
    run.grads.value!.every((v) => v === 0),
    'advantages are detached',
  );
});

test('bvmpo: the kept fraction is ⌈f·N⌉ without float round-up (f = 0.55, N = 100 → 55)', async () => {
  assert.ok(0.55 * 100 > 55, 'the case needs the float round-up');
  const rows = 10;
  const n = rows * 10;
  const run = await runObjective(
    'bvmpo',
    { topFraction: 0.55 },
    {
      ...feeds,
      mask: maskOf(
        Array.from({ length: rows }, () => 10),
        10,
      ),
      reward: t64(
        [rows],
        Array.from({ length: rows }, () => r()),
      ),
      token_logp: t64(
        [rows, 10],
        Array.from({ length: n }, () => -r()),
      ),
      value: t64(
        [rows, 10],
        Array.from({ length: n }, () => r()),
      ),
      policy_logprobs: t64([rows, 10, V], logSoftmaxRows(n)),
      behaviour_logprobs: t64([rows, 10, V], logSoftmaxRows(n)),
      old_logprobs: t64([rows, 10, V], logSoftmaxRows(n)),
    },
  );
  assert.equal(run.metrics.selected_tokens, 55);
});

test('bvmpoKlWeight: log-linear, linear and constant annealing', () => {
  const h = parseObjectiveHyper('bvmpo');
  assert.equal(bvmpoKlWeight(h, 0, 100), 1);
  assertClose('λ at half', [bvmpoKlWeight(h, 50, 100)], [Math.sqrt(1e-5)]);
  assertClose('λ at end', [bvmpoKlWeight(h, 200, 100)], [1e-5]);
  assertClose('linear', [bvmpoKlWeight({ ...h, klAnnealing: 'linear' }, 50, 100)], [(1 + 1e-5) / 2]);
  assert.equal(bvmpoKlWeight({ ...h, klAnnealing: 'constant' }, 50, 100), 1);
});

test('bvmpo gradient: finite differences (token_logp; the exact KL helper)', async () => {
  await finiteDifferenceCheck('bvmpo', undefined, feeds, ['token_logp']);
  const res = await gradCheck(
    { from: old, policy, mask },
    ({ from, policy: p, mask: m }) => tokenKl(from!, p!, m!),
    {
      wrt: ['policy'],
    },
  );
  assert.ok(res.maxRelError <= OP_GRAD_TOLERANCE, JSON.stringify(res.perInput));
});
