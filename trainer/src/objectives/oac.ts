/**
 * Offline actor-critic with a behaviour value function (docs/ALGORITHMS.md §3.3 — the exact form is
 * the spec's reconstruction [R]; ReST follows Mathieu et al., StarCraft II Unplugged):
 *
 *   G_t = γ^(T−t) · R(x, y)                      reward only after EOS; T = the row's last real token
 *   A_t = sg[G_t − V_φ(x, y_<t)]                 V_φ fitted once on D_g, then frozen (out of scope here)
 *   Â_t = A_t / std_batch(A)                     over masked tokens, mean not subtracted (optional)
 *   L   = Σ_t m_t Â_t (−ℓ_t) + α_BC Σ_t m_t (−ℓ_t)
 *
 * `γ^(T−t)` counts the real tokens after t (a reverse exclusive cumulative sum of the mask), so any
 * mask layout works. The std has a 1e-8 guard: Â = A / (std + 1e-8).
 *
 * Inputs: token_logp [B, T], mask [B, T], reward [B], value [B, T].
 */
import { z } from 'zod';
import {
  add,
  div,
  mul,
  neg,
  pow,
  reduceSum,
  scalar,
  sqrt,
  stopGradient,
  sub,
  unsqueeze,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { castOut } from './cast-out.js';
import { suffixSum } from './detached-ops.js';
import { exampleMean, f64, maskedRowSum, maskedTokenMean } from './log-probs.js';
import { inputOf, MASK, REWARD, TOKEN_LOGP, type ObjectiveInput, type ObjectiveOutput } from './objective.js';

/** Guard of the advantage std. */
export const ADVANTAGE_STD_EPS = 1e-8;

const HYPER = z
  .object({
    /** γ of the return `G_t = γ^(T−t) R`, in (0, 1]. @default 1 */
    discount: z.number().gt(0).max(1).default(1),
    /** α_BC ≥ 0: weight of an added BC term; 0 disables it. @default 0 */
    bcWeight: z.number().min(0).default(0),
    /** Divide advantages by their batch std over masked tokens (never subtract the mean). @default true */
    advantageScaling: z.boolean().default(true),
  })
  .strict();

/** OAC hyperparameters after defaults. */
export type OacHyper = z.output<typeof HYPER>;

/** `[B, T]` state values. */
export const VALUE: ObjectiveInput = {
  name: 'value',
  dims: ['B', 'T'],
  doc: 'V_φ(x, y_<t): the frozen behaviour value of the decoder state before token t',
  differentiable: false,
};

/** `G_t = γ^(#real tokens after t) · R` `[B, T]` f64, detached. */
export function discountedReturns(reward: Tensor, mask: Tensor, discount: number): Tensor {
  const m = stopGradient(f64(mask));
  const after = suffixSum(m, 1); // [B, T]: Σ_{s>t} m_s
  const decay = pow(scalar(m.graph, 'f64', discount), after);
  return stopGradient(mul(unsqueeze(f64(reward), [1]), decay));
}

/** `A_t = sg[G_t − V_t]` `[B, T]` f64, zero on padding. */
export function tokenAdvantages(reward: Tensor, value: Tensor, mask: Tensor, discount: number): Tensor {
  const ret = discountedReturns(reward, mask, discount);
  return stopGradient(mul(sub(ret, f64(value)), f64(mask)));
}

/** Population std of `a` over masked tokens, `[]` f64. */
export function maskedStd(a: Tensor, mask: Tensor): Tensor {
  const m = f64(mask);
  const mean = maskedTokenMean(a, m);
  const dev = mul(sub(a, mean), m);
  return sqrt(div(reduceSum(mul(dev, dev), [0, 1]), reduceSum(m, [0, 1])));
}

/** The `oac` registry entry. */
export const OAC = {
  name: 'oac',
  description: 'offline actor-critic: token NLL weighted by the behaviour-value advantage',
  spec: 'ALGORITHMS.md §3.3',
  reducesTo: 'Σ_t m_t sg[Â_t + α_BC] (−ℓ_t)',
  hyper: HYPER,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, VALUE],
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: OacHyper): ObjectiveOutput {
    return g.scope('oac', () => {
      const lp = inputOf('oac', x, TOKEN_LOGP);
      const mask = inputOf('oac', x, MASK);
      const adv = tokenAdvantages(inputOf('oac', x, REWARD), inputOf('oac', x, VALUE), mask, h.discount);
      const std = maskedStd(adv, mask);
      const scaled = h.advantageScaling ? div(adv, add(std, ADVANTAGE_STD_EPS)) : adv;
      const weight = stopGradient(h.bcWeight > 0 ? add(scaled, h.bcWeight) : scaled); // [B, T]
      const loss = exampleMean(maskedRowSum(mul(weight, neg(f64(lp))), mask));
      return castOut(lp, loss, {
        nll: exampleMean(maskedRowSum(neg(lp), mask)),
        advantage_mean: maskedTokenMean(adv, mask),
        advantage_std: std,
      });
    });
  },
};
