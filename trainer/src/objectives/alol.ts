/**
 * The A-LoL family (docs/ALGORITHMS.md §3.5; Baheti et al., *Leftover Lunch*, arXiv:2305.14718, code
 * `abaheti95/LoL-RL`). The whole output is one action; the advantage `A = R − V(x)` of the frozen
 * reference policy is computed once, and only `A > 0` examples train (`A⁺ = max(A, 0)`). Per example,
 * with `S = Σ_t m_t ℓ_t`, ε = clipEpsilon and every weight detached:
 *
 *   w_seq          = clip(exp(sg[S − S_ref]), 1 − ε, 1 + ε)            (1 when ε = 0)
 *   alol           L = A⁺ · w_seq · (−S)
 *   r-lol          L = R  · w_seq · (−S)                                 no value function
 *   alol-ref-free  L = A⁺ · (−S)
 *   alol-seq       L = A⁺ · Σ_t m_t clip(exp(sg[ℓ_t − ℓ^ref_t]), 1 − ε, 1 + ε) · (−ℓ_t)
 *   alol-kl        L = A⁺ · (−S) + β_KL (S − S_ref)                      requires ε = 0
 *
 * Ratios are clipped in log space (numerics.ts). Batch loss: mean over examples, sampled by the data
 * loader (∝ A⁺ for A-LoL's `good_priority`, ∝ R for R-LoL). The five share inputs and weights, so they
 * live in one file; each is its own registry entry.
 *
 * Inputs (all: token_logp [B, T], mask [B, T], reward [B]):
 *   alol, alol-kl: baseline [B], reference_seq_logp [B];  r-lol: reference_seq_logp [B];
 *   alol-ref-free: baseline [B];  alol-seq: baseline [B], reference_logp [B, T].
 */
import { z } from 'zod';
import {
  add,
  cast,
  greater,
  mul,
  neg,
  stopGradient,
  sub,
  unsqueeze,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { castOut } from './cast-out.js';
import { exampleMean, f64, maskedRowSum, maskedTokenMean, sequenceLogProb } from './log-probs.js';
import { clippedRatio, positiveAdvantage } from './numerics.js';
import {
  BASELINE,
  inputOf,
  MASK,
  REFERENCE_SEQ_LOGP,
  REWARD,
  TOKEN_LOGP,
  unitInterval,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objective.js';

/** ε = 0.9 (the repo's HH default): weights in [0.1, 1.9]. */
const CLIPPED = z.object({ clipEpsilon: unitInterval(0.9) }).strict();
const NONE = z.object({}).strict();
const KL = z
  .object({
    /** β_KL > 0. @default 0.2 */
    klBeta: z.number().gt(0).default(0.2),
    /** Must be 0: the KL variant has no importance weight. @default 0 */
    clipEpsilon: z
      .number()
      .refine((v) => v === 0, 'must be 0: alol-kl uses no importance weight')
      .default(0),
  })
  .strict();

/** Hyperparameters of alol, r-lol and alol-seq after defaults. */
export type AlolClippedHyper = z.output<typeof CLIPPED>;
/** Hyperparameters of alol-kl after defaults. */
export type AlolKlHyper = z.output<typeof KL>;

const REFERENCE_LOGP: ObjectiveInput = {
  name: 'reference_logp',
  dims: ['B', 'T'],
  doc: 'ℓ^ref_t = log π_ref(y_t | ·), cached per token with the example',
  differentiable: false,
};

type Inputs = Readonly<Record<string, Tensor>>;

/** Common diagnostics: summed NLL, the share of positive advantages and their mean. */
function metrics(lp: Tensor, mask: Tensor, weight: Tensor | undefined): Record<string, Tensor> {
  const out: Record<string, Tensor> = { nll: exampleMean(maskedRowSum(neg(lp), mask)) };
  if (weight !== undefined) {
    out.positive_fraction = exampleMean(cast(greater(weight, 0), 'f64'));
    out.example_weight = exampleMean(weight);
  }
  return out;
}

/** The policy's `token_logp`, `mask` and `S = Σ_t m_t ℓ_t` `[B]` f64. */
function sequence(name: string, x: Inputs): { lp: Tensor; mask: Tensor; s: Tensor } {
  const lp = inputOf(name, x, TOKEN_LOGP);
  const mask = inputOf(name, x, MASK);
  return { lp, mask, s: sequenceLogProb(lp, mask) };
}

/** `mean_b sg[w_b] · (−S_b)`. */
function weightedNll(weight: Tensor, s: Tensor): Tensor {
  return exampleMean(mul(stopGradient(weight), neg(s)));
}

const advantage = (name: string, x: Inputs): Tensor =>
  positiveAdvantage(inputOf(name, x, REWARD), inputOf(name, x, BASELINE));
const seqRatio = (name: string, x: Inputs, s: Tensor, epsilon: number): Tensor =>
  clippedRatio(sub(s, f64(inputOf(name, x, REFERENCE_SEQ_LOGP))), epsilon);

/** The `alol` registry entry. */
export const ALOL = {
  name: 'alol',
  description: 'A-LoL: positive-advantage sequence NLL with a clipped sequence importance weight',
  spec: 'ALGORITHMS.md §3.5',
  reducesTo: 'sequence NLL weighted by sg[A⁺ · w_seq]',
  hyper: CLIPPED,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, BASELINE, REFERENCE_SEQ_LOGP],
  build(g: Graph, x: Inputs, h: AlolClippedHyper): ObjectiveOutput {
    return g.scope('alol', () => {
      const { lp, mask, s } = sequence('alol', x);
      const ratio = seqRatio('alol', x, s, h.clipEpsilon); // [B]
      const weight = mul(advantage('alol', x), ratio);
      return castOut(lp, weightedNll(weight, s), {
        ...metrics(lp, mask, weight),
        importance_weight: exampleMean(ratio),
      });
    });
  },
};

/** The `r-lol` registry entry. */
export const R_LOL = {
  name: 'r-lol',
  description: 'R-LoL: reward-weighted sequence NLL with a clipped sequence importance weight (no value)',
  spec: 'ALGORITHMS.md §3.5',
  reducesTo: 'sequence NLL weighted by sg[R · w_seq]',
  hyper: CLIPPED,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, REFERENCE_SEQ_LOGP],
  build(g: Graph, x: Inputs, h: AlolClippedHyper): ObjectiveOutput {
    return g.scope('r_lol', () => {
      const { lp, mask, s } = sequence('r-lol', x);
      const ratio = seqRatio('r-lol', x, s, h.clipEpsilon); // [B]
      const weight = mul(f64(inputOf('r-lol', x, REWARD)), ratio);
      return castOut(lp, weightedNll(weight, s), {
        ...metrics(lp, mask, undefined),
        importance_weight: exampleMean(ratio),
      });
    });
  },
};

/** The `alol-ref-free` registry entry. */
export const ALOL_REF_FREE = {
  name: 'alol-ref-free',
  description: 'A-LoL ref-free: positive-advantage sequence NLL, importance weight fixed to 1',
  spec: 'ALGORITHMS.md §3.5',
  reducesTo: 'sequence NLL weighted by sg[A⁺]',
  hyper: NONE,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, BASELINE],
  build(g: Graph, x: Inputs, _h: z.output<typeof NONE>): ObjectiveOutput {
    return g.scope('alol_ref_free', () => {
      const { lp, mask, s } = sequence('alol-ref-free', x);
      const weight = advantage('alol-ref-free', x);
      return castOut(lp, weightedNll(weight, s), metrics(lp, mask, weight));
    });
  },
};

/** The `alol-seq` registry entry. */
export const ALOL_SEQ = {
  name: 'alol-seq',
  description: 'A-LoL seq: positive-advantage token NLL with clipped per-token importance weights',
  spec: 'ALGORITHMS.md §3.5',
  reducesTo: 'token NLL weighted by sg[A⁺ · r_t]',
  hyper: CLIPPED,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, BASELINE, REFERENCE_LOGP],
  build(g: Graph, x: Inputs, h: AlolClippedHyper): ObjectiveOutput {
    return g.scope('alol_seq', () => {
      const lp = inputOf('alol-seq', x, TOKEN_LOGP);
      const mask = inputOf('alol-seq', x, MASK);
      const adv = advantage('alol-seq', x); // [B]
      const ratio = clippedRatio(sub(f64(lp), f64(inputOf('alol-seq', x, REFERENCE_LOGP))), h.clipEpsilon);
      const tokenWeight = stopGradient(mul(ratio, unsqueeze(adv, [1]))); // [B, T]
      const loss = exampleMean(maskedRowSum(mul(tokenWeight, neg(f64(lp))), mask));
      return castOut(lp, loss, {
        ...metrics(lp, mask, adv),
        importance_weight: maskedTokenMean(ratio, mask),
      });
    });
  },
};

/** The `alol-kl` registry entry. */
export const ALOL_KL = {
  name: 'alol-kl',
  description: 'A-LoL KL: positive-advantage sequence NLL plus β_KL (S − S_ref) on the offline y',
  spec: 'ALGORITHMS.md §3.5',
  reducesTo: 'sequence NLL weighted by sg[A⁺ − β_KL]',
  hyper: KL,
  inputs: (): ObjectiveInput[] => [TOKEN_LOGP, MASK, REWARD, BASELINE, REFERENCE_SEQ_LOGP],
  build(g: Graph, x: Inputs, h: AlolKlHyper): ObjectiveOutput {
    return g.scope('alol_kl', () => {
      const { lp, mask, s } = sequence('alol-kl', x);
      const weight = advantage('alol-kl', x);
      const logRatio = sub(s, stopGradient(f64(inputOf('alol-kl', x, REFERENCE_SEQ_LOGP)))); // [B]
      const loss = add(weightedNll(weight, s), mul(exampleMean(logRatio), h.klBeta));
      return castOut(lp, loss, { ...metrics(lp, mask, weight), log_ratio: exampleMean(logRatio) });
    });
  },
};
