/**
 * Update rules emitted into the step graph: AdamW (Loshchilov & Hutter, decoupled weight decay, bias
 * corrected moments, as torch.optim.AdamW) and SGD with momentum (as torch.optim.SGD, dampening 0),
 * plus global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_). Hyperparameters are graph
 * inputs, so changing them needs no rebuild.
 */
import type { Tensor } from '../graph/graph.js';
import { add, div, mul, pow, sub } from '../ops/arithmetic.js';
import { sqrt } from '../ops/activations.js';
import { reduceSum } from '../ops/reduce.js';
import { min } from '../ops/select.js';

/** Which optimizer, and the state slots it keeps per parameter. */
export type OptimizerKind = 'adamw' | 'sgd';

/** State slot names per optimizer (each slot is one parameter-shaped tensor). */
export const OPTIMIZER_SLOTS = { adamw: ['m', 'v'], sgd: ['momentum'] } as const satisfies Record<
  OptimizerKind,
  readonly string[]
>;

/** Hyperparameter input names per optimizer (besides `hp.lr`). */
export const OPTIMIZER_HYPER = {
  adamw: ['hp.beta1', 'hp.beta2', 'hp.eps', 'hp.weight_decay'],
  sgd: ['hp.momentum', 'hp.weight_decay'],
} as const satisfies Record<OptimizerKind, readonly string[]>;

/** Inputs an update rule reads. */
export interface UpdateContext {
  /** Learning rate for this step, [] float. */
  lr: Tensor;
  /** Step being taken, 1-based, [] float. */
  t: Tensor;
  /** Hyperparameter inputs by name. */
  hp: ReadonlyMap<string, Tensor>;
}

/** One parameter's update: new value and new state slots. */
export interface Updated {
  param: Tensor;
  state: Tensor[];
}

/** AdamW: `p ← p − lr·(m̂/(√v̂+ε) + λ·p)` with `m̂ = m/(1−β1^t)`, `v̂ = v/(1−β2^t)`. */
export function adamw(
  p: Tensor,
  dP: Tensor,
  [m, v]: readonly Tensor[],
  ctx: UpdateContext,
  decay: boolean,
): Updated {
  const b1 = ctx.hp.get('hp.beta1')!;
  const b2 = ctx.hp.get('hp.beta2')!;
  const eps = ctx.hp.get('hp.eps')!;
  const wd = ctx.hp.get('hp.weight_decay')!;
  const m1 = add(mul(m!, b1), mul(dP, sub(1, b1)));
  const v1 = add(mul(v!, b2), mul(mul(dP, dP), sub(1, b2)));
  // torch's form: step = lr/bc1 · m / (√v/√bc2 + ε), after p ← p·(1 − lr·λ).
  const bc1 = sub(1, pow(b1, ctx.t));
  const bc2 = sub(1, pow(b2, ctx.t));
  const stepSize = div(ctx.lr, bc1);
  const denom = add(div(sqrt(v1), sqrt(bc2)), eps);
  const decayed = decay ? mul(p, sub(1, mul(ctx.lr, wd))) : p;
  return { param: sub(decayed, mul(div(m1, denom), stepSize)), state: [m1, v1] };
}

/** SGD with momentum μ and L2 weight decay λ: `b ← μ·b + (g + λ·p)`, `p ← p − lr·b`. */
export function sgd(
  p: Tensor,
  dP: Tensor,
  [buf]: readonly Tensor[],
  ctx: UpdateContext,
  decay: boolean,
): Updated {
  const mu = ctx.hp.get('hp.momentum')!;
  const wd = ctx.hp.get('hp.weight_decay')!;
  const grad = decay ? add(dP, mul(p, wd)) : dP;
  const b = add(mul(buf!, mu), grad);
  return { param: sub(p, mul(b, ctx.lr)), state: [b] };
}

/**
 * Global-norm clipping: scales all gradients by `min(1, maxNorm / (‖g‖ + 1e-6))`. Returns the clipped
 * gradients and the norm before clipping ([] float).
 */
export function clipByGlobalNorm(
  grads: readonly Tensor[],
  maxNorm: Tensor,
): { grads: Tensor[]; norm: Tensor } {
  let sq: Tensor | undefined;
  for (const d of grads) {
    const s = reduceSum(mul(d, d), [...Array(d.rank).keys()]);
    sq = sq === undefined ? s : add(sq, s);
  }
  if (sq === undefined) return { grads: [], norm: maxNorm };
  const norm = sqrt(sq);
  const scale = min(div(maxNorm, add(norm, 1e-6)), 1);
  return { grads: grads.map((d) => mul(d, scale)), norm };
}
