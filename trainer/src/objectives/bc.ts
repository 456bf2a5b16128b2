/**
 * BC / NLL, ReST's default loss (docs/ALGORITHMS.md §3.1; ReST Eq. 1, arXiv:2308.08998):
 *
 *   L_BC(x, y) = Σ_t m_t [ (1 − ε)(−ℓ_t) + ε (−(1/|V|) Σ_v log π_θ(v | ·)) ]
 *
 * applied to the pairs that passed the Improve step's filter R(x, y) > τ_i (the data loader filters;
 * the loss sees only kept pairs). ε = label smoothing; ε = 0 is exactly ReST's NLL. Batch loss: mean
 * over examples of the token sums.
 *
 * Inputs: token_logp [B, T], mask [B, T], mean_logp [B, T] (only when ε > 0).
 */
import { z } from 'zod';
import { add, mul, neg, type Graph, type Tensor } from '@rest/runtime';
import { exampleMean, f64, maskedRowSum } from './log-probs.js';
import {
  inputOf,
  MASK,
  ObjectiveInputError,
  MEAN_LOGP,
  TOKEN_LOGP,
  unitInterval,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objective.js';
import { castOut } from './cast-out.js';

const HYPER = z
  .object({
    /**
     * ε: label smoothing of the NLL terms, in [0, 1). @default 0.1 (the Transformer MT recipe §3.1
     * recommends and the run spec's default); 0 gives ReST's plain NLL.
     */
    labelSmoothing: unitInterval(0.1),
  })
  .strict();

/** BC hyperparameters after defaults. */
export type BcHyper = z.output<typeof HYPER>;

/**
 * `Σ_t m_t [(1 − ε) w_t (−ℓ_t) + ε (−μ_t)]` `[B]` f64 (w: optional detached `[B, T]` f64 weight; the
 * smoothing term stays unweighted, as in GOLD). Throws ObjectiveInputError when ε > 0 and `meanLogp`
 * is missing.
 */
export function smoothedNll(
  tokenLogp: Tensor,
  mask: Tensor,
  epsilon: number,
  meanLogp: Tensor | undefined,
  weight?: Tensor,
): Tensor {
  let perToken = neg(f64(tokenLogp)); // [B, T] f64
  if (weight !== undefined) perToken = mul(weight, perToken);
  if (epsilon === 0) return maskedRowSum(perToken, mask);
  if (meanLogp === undefined) throw new ObjectiveInputError(`label smoothing ${epsilon} needs mean_logp`);
  return add(maskedRowSum(mul(perToken, 1 - epsilon), mask), mul(maskedRowSum(neg(meanLogp), mask), epsilon));
}

function inputs(h: BcHyper): ObjectiveInput[] {
  return h.labelSmoothing > 0 ? [TOKEN_LOGP, MASK, MEAN_LOGP] : [TOKEN_LOGP, MASK];
}

/** The `bc` registry entry. */
export const BC = {
  name: 'bc',
  description: 'behaviour cloning: summed token NLL on the filtered pairs (ReST default)',
  spec: 'ALGORITHMS.md §3.1',
  reducesTo: 'Σ_t m_t (−ℓ_t) (label-smoothed: (1 − ε)·NLL + ε·(−mean_v log π))',
  hyper: HYPER,
  inputs,
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: BcHyper): ObjectiveOutput {
    return g.scope('bc', () => {
      const lp = inputOf('bc', x, TOKEN_LOGP);
      const mask = inputOf('bc', x, MASK);
      const mean = h.labelSmoothing > 0 ? inputOf('bc', x, MEAN_LOGP) : undefined;
      const loss = exampleMean(smoothedNll(lp, mask, h.labelSmoothing, mean));
      const nll = exampleMean(maskedRowSum(neg(lp), mask));
      return castOut(lp, loss, { nll });
    });
  },
};
