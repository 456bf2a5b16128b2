/**
 * Behaviour V-MPO (docs/ALGORITHMS.md §3.4; ReST's BVMPO: V-MPO, arXiv:1909.12238, with a behaviour
 * value function and a KL prior towards π_BC as in DIME, arXiv:2106.08199). Structure [V]; constants
 * [M/R] as the spec marks them. On the batch's token pairs (s_t, y_t) with A_t = sg[G_t − V(s_t)]:
 *
 *   D̃     = the ⌈f · N⌉ masked tokens with the largest A_t (f = topFraction; ties: earlier token first)
 *   ψ_t   = exp(A_t / sg[η]) / Σ_{j∈D̃} exp(A_j / sg[η])                (t ∈ D̃, log-sum-exp form)
 *   L_π   = −Σ_{t∈D̃} ψ_t ℓ_t                                           (a batch sum: ψ sums to 1)
 *   L_η   = η ε_η + η log((1/|D̃|) Σ_{j∈D̃} exp(A_j / η))                η = softplus(eta_raw)
 *   L_α   = α (ε_α − sg[KL_old]) + sg[α] KL_old                         α = softplus(alpha_raw)
 *   L     = L_π + L_η + L_α + λ KL(π_BC ‖ π_θ)
 *
 * KL_old = mean over masked tokens of KL(π_old(·|s_t) ‖ π_θ(·|s_t)); KL(π_BC‖π_θ) likewise, both exact
 * over the vocabulary from full log-softmax tensors. λ is a graph input because it is annealed during
 * the Improve step ({@link bvmpoKlWeight}); `eta_raw` and `alpha_raw` are trainable scalars the caller
 * adds to the optimizer's parameters. N counts masked tokens; an empty batch must be skipped upstream.
 *
 * Inputs: token_logp [B, T], mask [B, T], reward [B], value [B, T], policy_logprobs [B, T, V],
 * behaviour_logprobs [B, T, V], old_logprobs [B, T, V], eta_raw [], alpha_raw [], kl_weight [].
 */
import { z } from 'zod';
import {
  add,
  cast,
  div,
  exp,
  greater,
  log,
  max,
  mul,
  neg,
  reduceMax,
  reduceSum,
  reshape,
  reshapeLike,
  stopGradient,
  sub,
  where,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { castOut } from './cast-out.js';
import { ceil, indicator, topKIndices } from './detached-ops.js';
import { f64, maskedTokenMean } from './log-probs.js';
import { softplusStable } from './numerics.js';
import { tokenAdvantages, VALUE } from './oac.js';
import { inputOf, MASK, REWARD, TOKEN_LOGP, type ObjectiveInput, type ObjectiveOutput } from './objective.js';

const HYPER = z
  .object({
    /** γ of the return `G_t = γ^(T−t) R`, in (0, 1]. @default 1 */
    discount: z.number().gt(0).max(1).default(1),
    /** f: fraction of the batch's masked tokens kept in D̃ by advantage, in (0, 1]. @default 0.5 */
    topFraction: z.number().gt(0).max(1).default(0.5),
    /** ε_η > 0, bound of the temperature dual. @default 1e-2 */
    epsilonEta: z.number().gt(0).default(1e-2),
    /** ε_α > 0, bound of the trust-region KL to π_old. @default 5e-3 */
    epsilonAlpha: z.number().gt(0).default(5e-3),
    /** λ at the start of the Improve step, > 0. @default 1 */
    klWeightStart: z.number().gt(0).default(1),
    /** λ at the end, in (0, klWeightStart]. @default 1e-5 */
    klWeightEnd: z.number().gt(0).default(1e-5),
    /** How λ moves from start to end over the step. @default 'log-linear' */
    klAnnealing: z.enum(['log-linear', 'linear', 'constant']).default('log-linear'),
    /** Optimizer updates between refreshes of π_old (read by the trainer). @default 1000 */
    targetRefreshSteps: z.number().int().min(1).default(1000),
  })
  .strict()
  .refine((h) => h.klWeightEnd <= h.klWeightStart, {
    message: 'must not exceed klWeightStart',
    path: ['klWeightEnd'],
  });

/** BVMPO hyperparameters after defaults. */
export type BvmpoHyper = z.output<typeof HYPER>;

/**
 * λ after `step` of `totalSteps` optimizer updates of an Improve step (clamped to the end value).
 * log-linear: `log λ` falls linearly from start to end; linear: `λ` does; constant: the start value.
 */
export function bvmpoKlWeight(h: BvmpoHyper, step: number, totalSteps: number): number {
  const frac = totalSteps <= 0 ? 1 : Math.min(Math.max(step / totalSteps, 0), 1);
  switch (h.klAnnealing) {
    case 'constant':
      return h.klWeightStart;
    case 'linear':
      return h.klWeightStart + (h.klWeightEnd - h.klWeightStart) * frac;
    case 'log-linear':
      return Math.exp(
        Math.log(h.klWeightStart) + (Math.log(h.klWeightEnd) - Math.log(h.klWeightStart)) * frac,
      );
  }
}

const logprobsInput = (name: string, doc: string, differentiable: boolean): ObjectiveInput => ({
  name,
  dims: ['B', 'T', 'V'],
  doc,
  differentiable,
});
const POLICY_LOGPROBS = logprobsInput('policy_logprobs', 'log-softmax of π_θ over the vocabulary', true);
const BEHAVIOUR_LOGPROBS = logprobsInput(
  'behaviour_logprobs',
  'log-softmax of the frozen π_BC (the prior)',
  false,
);
const OLD_LOGPROBS = logprobsInput(
  'old_logprobs',
  'log-softmax of π_old, the periodically refreshed target copy',
  false,
);
const scalarInput = (name: string, doc: string, differentiable: boolean): ObjectiveInput => ({
  name,
  dims: [],
  doc,
  differentiable,
});
const ETA_RAW = scalarInput('eta_raw', 'trainable pre-softplus temperature: η = softplus(eta_raw)', true);
const ALPHA_RAW = scalarInput(
  'alpha_raw',
  'trainable pre-softplus multiplier: α = softplus(alpha_raw)',
  true,
);
const KL_WEIGHT = scalarInput('kl_weight', 'λ of the π_BC prior for this step (bvmpoKlWeight)', false);

/** Mean over masked tokens of the exact `KL(p ‖ π_θ)` from log-softmax tensors `[B, T, V]` → `[]` f64. */
export function tokenKl(fromLogprobs: Tensor, policyLogprobs: Tensor, mask: Tensor): Tensor {
  const from = stopGradient(fromLogprobs);
  const perToken = reduceSum(mul(exp(from), sub(from, policyLogprobs)), [2]); // [B, T]
  return maskedTokenMean(perToken, mask);
}

/** `[B, T]` f64 0/1: the ⌈f·N⌉ masked tokens with the largest `adv` (detached). */
export function topTokens(adv: Tensor, mask: Tensor, fraction: number): Tensor {
  const m = f64(mask);
  const flatM = reshape(m, [-1]); // [B·T]
  const count = reduceSum(m, [0, 1]);
  // −1e-9: f·N computed in floating point must not round a whole number up (0.3 · 10 = 3.0000000000000004).
  const k = reshape(cast(max(ceil(sub(mul(count, fraction), 1e-9)), 1), 'i64'), [1]);
  const candidates = where(greater(flatM, 0), reshape(adv, [-1]), -Infinity);
  return stopGradient(reshapeLike(indicator(flatM, topKIndices(candidates, k)), m));
}

/** `log Σ exp(z)` over all entries of `z` (−∞ entries drop out), max-shifted; differentiable in z. */
function logSumExpAll(z: Tensor): Tensor {
  const shift = stopGradient(reduceMax(z, [0, 1]));
  return add(shift, log(reduceSum(exp(sub(z, shift)), [0, 1])));
}

/** The `bvmpo` registry entry. */
export const BVMPO = {
  name: 'bvmpo',
  description:
    'behaviour V-MPO: top-advantage tokens weighted by ψ, temperature and trust-region duals, KL prior to π_BC',
  spec: 'ALGORITHMS.md §3.4',
  reducesTo: 'Σ_{t∈D̃} sg[ψ_t] (−ℓ_t) in token_logp (the duals and KLs act on eta/alpha and policy_logprobs)',
  hyper: HYPER,
  inputs: (): ObjectiveInput[] => [
    TOKEN_LOGP,
    MASK,
    REWARD,
    VALUE,
    POLICY_LOGPROBS,
    BEHAVIOUR_LOGPROBS,
    OLD_LOGPROBS,
    ETA_RAW,
    ALPHA_RAW,
    KL_WEIGHT,
  ],
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: BvmpoHyper): ObjectiveOutput {
    return g.scope('bvmpo', () => {
      const lp = inputOf('bvmpo', x, TOKEN_LOGP);
      const mask = inputOf('bvmpo', x, MASK);
      const policy = inputOf('bvmpo', x, POLICY_LOGPROBS);
      const adv = tokenAdvantages(inputOf('bvmpo', x, REWARD), inputOf('bvmpo', x, VALUE), mask, h.discount);
      const selected = topTokens(adv, mask, h.topFraction); // [B, T]
      const isSelected = greater(selected, 0);
      const count = reduceSum(selected, [0, 1]); // |D̃|

      const eta = softplusStable(f64(inputOf('bvmpo', x, ETA_RAW)));
      const zPsi = where(isSelected, div(adv, stopGradient(eta)), -Infinity);
      const psi = stopGradient(exp(sub(zPsi, logSumExpAll(zPsi)))); // [B, T], sums to 1 over D̃
      const lossPi = reduceSum(mul(psi, neg(f64(lp))), [0, 1]);

      const zEta = where(isSelected, div(adv, eta), -Infinity);
      const lossEta = add(mul(eta, h.epsilonEta), mul(eta, sub(logSumExpAll(zEta), log(count))));

      const alpha = softplusStable(f64(inputOf('bvmpo', x, ALPHA_RAW)));
      const klOld = tokenKl(inputOf('bvmpo', x, OLD_LOGPROBS), policy, mask);
      const lossAlpha = add(
        mul(alpha, sub(h.epsilonAlpha, stopGradient(klOld))),
        mul(stopGradient(alpha), klOld),
      );

      const klPrior = tokenKl(inputOf('bvmpo', x, BEHAVIOUR_LOGPROBS), policy, mask);
      const lambda = stopGradient(f64(inputOf('bvmpo', x, KL_WEIGHT)));
      const loss = add(add(lossPi, lossEta), add(lossAlpha, mul(lambda, klPrior)));
      return castOut(lp, loss, {
        policy_loss: lossPi,
        eta,
        alpha,
        kl_old: klOld,
        kl_prior: klPrior,
        selected_tokens: count,
      });
    });
  },
};
