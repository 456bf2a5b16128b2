/**
 * Reverse-mode automatic differentiation over a {@link Graph}. The node list is a topological order, so
 * the backward pass walks it in exact reverse: it keeps only nodes that lie on a path from a `wrt`
 * tensor to the loss through differentiable (float, rule-bearing) nodes, calls each node's
 * vector-Jacobian rule with the gradients of its outputs, and sums gradients of values used more than
 * once (fan-out) with one Sum node. Integer and bool values never receive gradients; nodes without a
 * rule (stopGradient, Shape, comparisons, RandomUniformLike) cut the path.
 */
import { isFloat } from '../onnx/dtype.js';
import { sameShape, scalar, zerosLike } from '../ops/helpers.js';
import { showShape } from '../graph/dims.js';
import { GraphError } from '../graph/errors.js';
import type { Tensor } from '../graph/graph.js';

/** Options for {@link gradients}. */
export interface GradientOptions {
  /** Gradient of the loss itself; required when the loss is not a scalar. @default 1 */
  seed?: Tensor;
}

/**
 * Emits the backward pass and returns `d loss / d w` for each `w` in `wrt` (zeros where the loss does
 * not depend on `w`). Throws GraphError for a non-float `wrt`, a non-scalar loss without a seed, or a
 * rule that returns a gradient of the wrong shape.
 */
export function gradients(loss: Tensor, wrt: readonly Tensor[], opts: GradientOptions = {}): Tensor[] {
  const g = loss.graph;
  for (const w of wrt)
    if (!isFloat(w.dtype)) throw new GraphError(`cannot differentiate with respect to ${w.dtype} ${w.name}`);
  if (opts.seed === undefined && loss.rank !== 0)
    throw new GraphError(`loss ${loss.name} ${showShape(loss.dims)} is not a scalar; pass a seed`);

  // Forward: values that depend differentiably on some wrt tensor.
  const fromWrt = new Set<Tensor>(wrt);
  const last = loss.producer?.index ?? -1;
  for (const node of g.nodes) {
    if (node.index > last) break;
    if (node.vjp === undefined || !node.diffInputs.some((t) => t !== undefined && fromWrt.has(t))) continue;
    for (const o of node.outputs) if (isFloat(o.dtype)) fromWrt.add(o);
  }
  // Backward: of those, the ones the loss depends on.
  const toLoss = new Set<Tensor>([loss]);
  for (let i = last; i >= 0; i--) {
    const node = g.nodes[i]!;
    if (node.vjp === undefined || !node.outputs.some((o) => toLoss.has(o))) continue;
    for (const t of node.diffInputs) if (t !== undefined && fromWrt.has(t)) toLoss.add(t);
  }
  const active = (t: Tensor | undefined): boolean => t !== undefined && fromWrt.has(t) && toLoss.has(t);

  const pending = new Map<Tensor, Tensor[]>();
  const total = (t: Tensor): Tensor | undefined => {
    const list = pending.get(t);
    if (list === undefined || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const sum = g.emit({
      opType: 'Sum',
      inputs: list,
      outputs: [{ dtype: t.dtype, dims: t.dims }],
      hint: 'acc',
    })[0]!;
    pending.set(t, [sum]);
    return sum;
  };
  pending.set(loss, [opts.seed ?? scalar(g, loss.dtype, 1)]);

  g.scope('grad', () => {
    for (let i = last; i >= 0; i--) {
      const node = g.nodes[i]!;
      if (node.vjp === undefined || !node.outputs.some(active)) continue;
      const dOutputs = node.outputs.map((o) => (active(o) ? total(o) : undefined));
      if (dOutputs.every((d) => d === undefined)) continue;
      const needs = node.diffInputs.map(active);
      if (!needs.some(Boolean)) continue;
      const dInputs = node.vjp(dOutputs, needs);
      node.diffInputs.forEach((t, k) => {
        const d = dInputs[k];
        if (t === undefined || d === undefined || !needs[k]) return;
        if (!sameShape(d.dims, t.dims) || d.dtype !== t.dtype)
          throw new GraphError(
            `${node.opType} rule gave ${d.dtype} ${showShape(d.dims)} for input ${t.name} ${t.dtype} ${showShape(t.dims)}`,
          );
        const list = pending.get(t);
        if (list === undefined) pending.set(t, [d]);
        else list.push(d);
      });
    }
  });
  return wrt.map((w) => total(w) ?? zerosLike(w));
}
