/**
 * Numerically careful pieces shared by the objectives (docs/ALGORITHMS.md §4): a softplus that never
 * overflows, importance ratios clipped in log space, and the detached positive advantage.
 */
import {
  add,
  clip,
  exp,
  expand,
  log,
  max,
  mul,
  neg,
  relu,
  scalar,
  sigmoid,
  stopGradient,
  sub,
  type Tensor,
} from '@rest/runtime';
import { abs } from './detached-ops.js';
import { f64 } from './log-probs.js';

/**
 * `softplus(u) = max(u, 0) + log(1 + exp(−|u|))`, with gradient `σ(u)`. onnxruntime's Softplus is
 * `log(1 + exp(u))` and returns +∞ in float64 past u ≈ 709; this form is finite everywhere. Emitted as
 * one logical op (its parts carry no gradient of their own), like the runtime's f64 Erf.
 */
export function softplusStable(u: Tensor): Tensor {
  const g = u.graph;
  return g.scope('softplus', () => {
    const tail = log(add(exp(neg(abs(u))), 1));
    return g.emit({
      opType: 'Add',
      inputs: [relu(u), tail],
      outputs: [{ dtype: u.dtype, dims: u.dims }],
      hint: 'softplus',
      diffInputs: [u],
      vjp: ([d]) => [mul(d!, sigmoid(u))],
    })[0]!;
  });
}

/**
 * The clipped importance weight `clip(exp(sg[lr]), 1 − ε, 1 + ε)`, formed in log space as
 * `exp(clip(sg[lr], log(1 − ε), log(1 + ε)))` so that `exp` never sees a large `lr` (any shape, f64).
 * ε = 0 means no importance weight: ones of the same shape.
 */
export function clippedRatio(logRatio: Tensor, epsilon: number): Tensor {
  if (epsilon === 0) return expand(scalar(logRatio.graph, 'f64', 1), logRatio);
  return exp(clip(stopGradient(f64(logRatio)), Math.log(1 - epsilon), Math.log1p(epsilon)));
}

/** `A⁺ = sg[max(R − V, 0)]` `[B]` f64, the A-LoL advantage (only positive-advantage examples train). */
export function positiveAdvantage(reward: Tensor, baseline: Tensor): Tensor {
  return stopGradient(max(sub(f64(reward), f64(baseline)), 0));
}
