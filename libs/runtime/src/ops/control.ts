/**
 * If: a node whose branches are subgraphs that read outer values through `capture`. Outputs of the
 * two branches must agree in dtype and shape. Gradient: a second If whose branches replay the branch
 * builders in fresh subgraphs and differentiate them there (w.r.t. every outer float value either
 * branch captured, zeros where a branch does not use one), so only the taken branch's backward runs.
 */
import { Graph, graphOf, type Tensor } from '../graph/graph.js';
import { isFloat } from '../onnx/dtype.js';
import { sameShape, zerosLike } from './helpers.js';
import { showShape } from '../graph/dims.js';
import { DTypeError, ShapeError } from '../graph/errors.js';
import { gradients } from '../autodiff/gradients.js';
import { mul, add } from './arithmetic.js';
import { reduceSum } from './reduce.js';
import { stopGradient } from './shape-ops.js';

/** A branch under construction: its graph and a way to read outer values. */
export interface Branch {
  readonly graph: Graph;
  /** A local alias (Identity) of an outer tensor; ops on it are emitted inside the branch. */
  capture(t: Tensor): Tensor;
}

/** Builds a branch's outputs. Called again when the If is differentiated, so it must be pure. */
export type BranchFn = (b: Branch) => readonly Tensor[];

function buildBranch(
  outer: Graph,
  name: string,
  fn: BranchFn,
  pre: readonly Tensor[] = [],
): { graph: Graph; outs: Tensor[]; captured: Tensor[]; local: Map<Tensor, Tensor> } {
  const graph = new Graph(name, outer);
  const local = new Map<Tensor, Tensor>();
  const captured: Tensor[] = [];
  const capture = (t: Tensor): Tensor => {
    let l = local.get(t);
    if (l === undefined) {
      l = graph.emit({
        opType: 'Identity',
        inputs: [t],
        outputs: [{ dtype: t.dtype, dims: t.dims }],
        hint: 'capture',
        diffInputs: [],
        vjp: undefined,
      })[0]!;
      local.set(t, l);
      captured.push(t);
    }
    return l;
  };
  for (const t of pre) capture(t);
  const outs = [...fn({ graph, capture })];
  return { graph, outs, captured, local };
}

/** `cond ? thenFn() : elseFn()` for a scalar bool `cond`. Throws on branch output mismatches. */
export function ifThenElse(cond: Tensor, thenFn: BranchFn, elseFn: BranchFn): Tensor[] {
  if (cond.dtype !== 'bool' || cond.rank > 1)
    throw new DTypeError('If', `condition must be a bool scalar, got ${cond.dtype} ${showShape(cond.dims)}`);
  const g = graphOf('If', cond);
  const name = g.uniqueName('if');
  const th = buildBranch(g, `${name}.then`, thenFn);
  const el = buildBranch(g, `${name}.else`, elseFn);
  if (
    th.outs.length !== el.outs.length ||
    th.outs.some((t, i) => t.dtype !== el.outs[i]!.dtype || !sameShape(t.dims, el.outs[i]!.dims))
  )
    throw new ShapeError(
      'If',
      `branch outputs differ: ${th.outs.map((t) => showShape(t.dims)).join(', ')} vs ${el.outs.map((t) => showShape(t.dims)).join(', ')}`,
    );
  for (const [b, outs] of [
    [th.graph, th.outs],
    [el.graph, el.outs],
  ] as const)
    for (const t of outs) b.output(t);
  const captured = [...new Set([...th.captured, ...el.captured])].filter((t) => isFloat(t.dtype));
  return g.emit({
    opType: 'If',
    inputs: [cond],
    outputs: th.outs.map((t) => ({ dtype: t.dtype, dims: t.dims, hint: 'if_out' })),
    attributes: {
      then_branch: { kind: 'graph', value: th.graph.toProto() },
      else_branch: { kind: 'graph', value: el.graph.toProto() },
    },
    diffInputs: [cond, ...captured],
    vjp: (dOuts, needs) => {
      const wanted = captured.filter((_, i) => needs[i + 1]);
      const backward =
        (fn: BranchFn, tag: string): BranchFn =>
        (b) => {
          const ys = fn(b);
          let loss: Tensor | undefined;
          ys.forEach((y, i) => {
            const d = dOuts[i];
            if (d === undefined || !isFloat(y.dtype)) return;
            const term = reduceSum(mul(y, stopGradient(b.capture(d))), [...Array(y.rank).keys()]);
            loss = loss === undefined ? term : add(loss, term);
          });
          const locals = wanted.map((t) => b.capture(t));
          if (loss === undefined) return locals.map((l) => zerosLike(l));
          return b.graph.scope(tag, () => gradients(loss!, locals));
        };
      const dThen = buildBranch(g, `${name}.grad.then`, backward(thenFn, 'then'), wanted);
      const dElse = buildBranch(g, `${name}.grad.else`, backward(elseFn, 'else'), wanted);
      for (const [b, outs] of [
        [dThen.graph, dThen.outs],
        [dElse.graph, dElse.outs],
      ] as const)
        for (const t of outs) b.output(t);
      const grads = g.emit({
        opType: 'If',
        inputs: [cond],
        outputs: wanted.map((t) => ({ dtype: t.dtype, dims: t.dims, hint: 'if_grad' })),
        attributes: {
          then_branch: { kind: 'graph', value: dThen.graph.toProto() },
          else_branch: { kind: 'graph', value: dElse.graph.toProto() },
        },
      });
      return [
        undefined,
        ...captured.map((t) => (needs[captured.indexOf(t) + 1] ? grads[wanted.indexOf(t)] : undefined)),
      ];
    },
  });
}
