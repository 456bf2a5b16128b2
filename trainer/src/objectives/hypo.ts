/**
 * HyPO: DPO plus a reverse KL to π_ref estimated on fresh samples from the current policy
 * (docs/ALGORITHMS.md §3.7; Song et al., arXiv:2406.01462). Per update:
 *
 *   L_off = mean over pairs of L_DPO                                        (dpo.ts)
 *   y_1..y_k ~ π_θ(·|x), exact samples (no temperature / top-p / top-k), k consecutive rows per prompt
 *   ρ_j   = sg[S_θ(x, y_j) − S_ref(x, y_j)]                                  one-sample KL estimate
 *   b_j   = (1/(k−1)) Σ_{i≠j} ρ_i                                            leave-one-out; b = 0 when k = 1
 *   L_on  = mean_x (1/k) Σ_j clip(ρ_j − b_j, −c, c) · S_θ(x, y_j)           c = advantageClamp (20 nats)
 *   L     = L_off + λ L_on
 *
 * Why: ∇KL(π_θ‖π_ref) = E_{y~π_θ}[log(π_θ/π_ref)(y) ∇log π_θ(y)] since E[∇log π_θ] = 0, and b_j does
 * not depend on y_j, so the surrogate's gradient is unbiased (hypo.test.ts checks it by enumeration).
 * The samples' log-probs must be recomputed by the current graph (not the stale ones from generation).
 *
 * Inputs: the DPO inputs (token_logp [B, T], mask [B, T], reference_seq_logp [B] unless referenceFree),
 * online_logp [Q, U], online_mask [Q, U], online_reference_seq_logp [Q]; Q = k · (prompts sampled).
 */
import { z } from 'zod';
import {
  add,
  clip,
  div,
  mul,
  reduceMean,
  reduceSum,
  stopGradient,
  sub,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { castOut } from './cast-out.js';
import { DPO_FIELDS, dpoLoss, marginMetrics, pairInputs } from './dpo.js';
import { f64, sequenceLogProb } from './log-probs.js';
import { inputOf, type ObjectiveInput, type ObjectiveOutput } from './objective.js';
import { reshapeAs, toMatrix } from './reshape-as.js';

const HYPER = z
  .object({
    ...DPO_FIELDS,
    /** λ ≥ 0: weight of the online reverse-KL term. @default 1e-2 (the spec's sweep is {1e-3, 1e-2, 1e-1}) */
    klWeight: z.number().min(0).default(1e-2),
    /** k: online samples per prompt, ≥ 1 (1: no baseline). @default 2 */
    onlineSamples: z.number().int().min(1).max(64).default(2),
    /** c: clamp of ρ_j − b_j in nats, > 0. @default 20 */
    advantageClamp: z.number().gt(0).default(20),
    /** Fraction of the batch's prompts that get online samples (read by the trainer). @default 1 */
    onlineSourceFraction: z.number().gt(0).max(1).default(1),
  })
  .strict();

/** HyPO hyperparameters after defaults. */
export type HypoHyper = z.output<typeof HYPER>;

const ONLINE_LOGP: ObjectiveInput = {
  name: 'online_logp',
  dims: ['Q', 'U'],
  doc: 'log π_θ(y_t | ·) of the online samples, recomputed by this graph; k consecutive rows per prompt',
  differentiable: true,
};
const ONLINE_MASK: ObjectiveInput = {
  name: 'online_mask',
  dims: ['Q', 'U'],
  doc: 'target mask of the online samples (EOS included)',
  differentiable: false,
};
const ONLINE_REFERENCE_SEQ_LOGP: ObjectiveInput = {
  name: 'online_reference_seq_logp',
  dims: ['Q'],
  doc: 'S_ref of each online sample (one π_ref forward per sample)',
  differentiable: false,
};

/**
 * The online reverse-KL surrogate `L_on` `[]` f64 and the mean one-sample KL estimate `mean ρ` `[]` f64.
 * `onlineLogp [Q, U]` rows come in groups of `k` samples of one prompt; Q must be a multiple of k.
 */
export function onlineKlSurrogate(
  onlineLogp: Tensor,
  onlineMask: Tensor,
  onlineReference: Tensor,
  k: number,
  clamp: number,
): { surrogate: Tensor; klEstimate: Tensor } {
  const s = sequenceLogProb(onlineLogp, onlineMask); // [Q] f64
  const rho = stopGradient(sub(s, f64(onlineReference))); // [Q]
  let advantage = rho;
  if (k > 1) {
    const groups = toMatrix(rho, -1, k); // [Q/k, k]
    const loo = div(sub(reduceSum(groups, [1], true), groups), k - 1); // b_j
    advantage = reshapeAs(sub(groups, loo), rho);
  }
  const weight = stopGradient(clip(advantage, -clamp, clamp));
  return { surrogate: reduceMean(mul(weight, s), [0]), klEstimate: reduceMean(rho, [0]) };
}

/** The `hypo` registry entry. */
export const HYPO = {
  name: 'hypo',
  description: 'HyPO: DPO + λ · reverse KL to π_ref from k fresh policy samples per prompt (leave-one-out)',
  spec: 'ALGORITHMS.md §3.7',
  reducesTo: "DPO's pair weights, plus NLL weights −λ sg[clip(ρ_j − b_j)] / Q on the online samples",
  hyper: HYPER,
  inputs: (h: HypoHyper): ObjectiveInput[] => [
    ...pairInputs(h),
    ONLINE_LOGP,
    ONLINE_MASK,
    ONLINE_REFERENCE_SEQ_LOGP,
  ],
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: HypoHyper): ObjectiveOutput {
    return g.scope('hypo', () => {
      const { lp, margin, loss: dpo } = dpoLoss('hypo', x, h);
      const { surrogate, klEstimate } = onlineKlSurrogate(
        inputOf('hypo', x, ONLINE_LOGP),
        inputOf('hypo', x, ONLINE_MASK),
        inputOf('hypo', x, ONLINE_REFERENCE_SEQ_LOGP),
        h.onlineSamples,
        h.advantageClamp,
      );
      const loss = add(dpo, mul(surrogate, h.klWeight));
      return castOut(lp, loss, {
        ...marginMetrics(margin),
        dpo_loss: dpo,
        kl_estimate: klEstimate,
        kl_surrogate: surrogate,
      });
    });
  },
};
