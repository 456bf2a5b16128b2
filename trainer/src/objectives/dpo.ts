/**
 * DPO on preference pairs (docs/ALGORITHMS.md §3.6; Rafailov et al., arXiv:2305.18290):
 *
 *   Δ     = β [ (S_θ(y_w) − S_ref(y_w)) − (S_θ(y_l) − S_ref(y_l)) ]
 *   L     = −log σ(Δ) = softplus(−Δ)                  (softplus in the overflow-free form)
 *   ∇L    = −β σ(−Δ) [∇S_θ(y_w) − ∇S_θ(y_l)]         i.e. NLL weights sg[β σ(−Δ)] on y_w, −sg[β σ(−Δ)] on y_l
 *
 * Reference-free: drop the S_ref terms. Batch loss: mean over the P pairs.
 *
 * Layout: one policy forward over B = 2P rows, **chosen rows 0..P−1, then the rejected rows P..2P−1
 * in the same pair order** (so y_w of pair i is row i and y_l is row P + i).
 *
 * Inputs: token_logp [B, T], mask [B, T], reference_seq_logp [B] (not when referenceFree).
 */
import { z } from 'zod';
import {
  cast,
  gather,
  greater,
  mul,
  neg,
  scalar,
  stopGradient,
  sub,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { castOut } from './cast-out.js';
import { exampleMean, f64, sequenceLogProb } from './log-probs.js';
import { softplusStable } from './numerics.js';
import { toMatrix } from './reshape-as.js';
import {
  inputOf,
  MASK,
  REFERENCE_SEQ_LOGP,
  TOKEN_LOGP,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objective.js';

/** DPO's hyperparameter fields, shared with HyPO. */
export const DPO_FIELDS = {
  /** β > 0. @default 0.1 (DPO paper App. B; 0.05 in HyPO's TL;DR runs) */
  beta: z.number().gt(0).default(0.1),
  /** Drop the S_ref terms. @default false */
  referenceFree: z.boolean().default(false),
};

const HYPER = z.object(DPO_FIELDS).strict();

/** DPO hyperparameters after defaults. */
export type DpoHyper = z.output<typeof HYPER>;

/** `token_logp` of a pair batch: B = 2P rows, chosen first. */
export const PAIR_TOKEN_LOGP: ObjectiveInput = {
  ...TOKEN_LOGP,
  doc: `${TOKEN_LOGP.doc}; B = 2P rows: y_w of pairs 0..P−1, then y_l in the same order`,
};

/** The inputs of DPO's pair part. */
export function pairInputs(h: { referenceFree: boolean }): ObjectiveInput[] {
  return h.referenceFree ? [PAIR_TOKEN_LOGP, MASK] : [PAIR_TOKEN_LOGP, MASK, REFERENCE_SEQ_LOGP];
}

/** Rows `[0, P)` and `[P, 2P)` of a `[2P]` tensor. */
function halves(x: Tensor): [Tensor, Tensor] {
  const g = x.graph;
  const pairs = toMatrix(x, 2, -1); // [2, P]
  return [gather(pairs, scalar(g, 'i64', 0), 0), gather(pairs, scalar(g, 'i64', 1), 0)];
}

/**
 * The DPO pair terms: the policy's `token_logp`, the margin `Δ [P]` f64 (differentiable) and the loss
 * `mean softplus(−Δ)` `[]` f64. Shared with HyPO.
 */
export function dpoLoss(
  name: string,
  x: Readonly<Record<string, Tensor>>,
  h: { beta: number; referenceFree: boolean },
): { lp: Tensor; margin: Tensor; loss: Tensor } {
  const lp = inputOf(name, x, PAIR_TOKEN_LOGP);
  const s = sequenceLogProb(lp, inputOf(name, x, MASK)); // [2P] f64
  const logRatio = h.referenceFree ? s : sub(s, stopGradient(f64(inputOf(name, x, REFERENCE_SEQ_LOGP))));
  const [chosen, rejected] = halves(logRatio);
  const margin = mul(sub(chosen, rejected), h.beta); // [P]
  return { lp, margin, loss: exampleMean(softplusStable(neg(margin))) };
}

/** Diagnostics of a margin `[P]`: the share of pairs ranked right and the mean margin. */
export function marginMetrics(margin: Tensor): Record<string, Tensor> {
  return {
    reward_accuracy: exampleMean(cast(greater(margin, 0), 'f64')),
    margin: exampleMean(margin),
  };
}

/** The `dpo` registry entry. */
export const DPO = {
  name: 'dpo',
  description: 'DPO: softplus(−β[(S_w − S_ref,w) − (S_l − S_ref,l)]) on preference pairs',
  spec: 'ALGORITHMS.md §3.6',
  reducesTo: 'sequence NLL weighted by sg[β σ(−Δ)] on y_w and −sg[β σ(−Δ)] on y_l',
  hyper: HYPER,
  inputs: pairInputs,
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: DpoHyper): ObjectiveOutput {
    return g.scope('dpo', () => {
      const { lp, margin, loss } = dpoLoss('dpo', x, h);
      return castOut(lp, loss, marginMetrics(margin));
    });
  },
};
