/**
 * Comparisons and selection: Equal, Less, Greater, And, Not (no gradients: bool outputs), Where, Min,
 * Max and Clip with their gradient rules. At ties Min/Max send the whole gradient to the first operand
 * and Clip passes it through (min <= x <= max), as PyTorch's clamp does.
 */
import { broadcastShapes, showShape } from '../graph/dims.js';
import { DTypeError } from '../graph/errors.js';
import { graphOf, type Tensor } from '../graph/graph.js';
import { scalar, sumTo } from './helpers.js';

function compare(op: string, a: Tensor, b: Tensor | number): Tensor {
  const B = typeof b === 'number' ? scalar(a.graph, a.dtype, b) : b;
  const g = graphOf(op, a, B);
  if (a.dtype !== B.dtype) throw new DTypeError(op, `operand dtypes differ: ${a.dtype} vs ${B.dtype}`);
  const dims = broadcastShapes(op, [a.dims, B.dims]);
  return g.emit({ opType: op, inputs: [a, B], outputs: [{ dtype: 'bool', dims }] })[0]!;
}

/** `a == b` → bool. */
export function equal(a: Tensor, b: Tensor | number): Tensor {
  return compare('Equal', a, b);
}

/** `a < b` → bool. */
export function less(a: Tensor, b: Tensor | number): Tensor {
  return compare('Less', a, b);
}

/** `a > b` → bool. */
export function greater(a: Tensor, b: Tensor | number): Tensor {
  return compare('Greater', a, b);
}

/** Logical and of two bool tensors. */
export function and(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool')
    throw new DTypeError('And', `expects bool operands, got ${a.dtype}, ${b.dtype}`);
  return compare('And', a, b);
}

/** Logical not of a bool tensor. */
export function not(a: Tensor): Tensor {
  if (a.dtype !== 'bool') throw new DTypeError('Not', `expects bool, got ${a.dtype}`);
  return a.graph.emit({ opType: 'Not', inputs: [a], outputs: [{ dtype: 'bool', dims: a.dims }] })[0]!;
}

/** `cond ? a : b`, broadcasting all three. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : undefined;
  if (like === undefined) throw new DTypeError('Where', 'at least one branch must be a tensor');
  const A = typeof a === 'number' ? scalar(cond.graph, like.dtype, a) : a;
  const B = typeof b === 'number' ? scalar(cond.graph, like.dtype, b) : b;
  const g = graphOf('Where', cond, A, B);
  if (cond.dtype !== 'bool') throw new DTypeError('Where', `condition must be bool, got ${cond.dtype}`);
  if (A.dtype !== B.dtype) throw new DTypeError('Where', `branch dtypes differ: ${A.dtype} vs ${B.dtype}`);
  const dims = broadcastShapes('Where', [cond.dims, A.dims, B.dims]);
  return g.emit({
    opType: 'Where',
    inputs: [cond, A, B],
    outputs: [{ dtype: A.dtype, dims }],
    vjp: ([d], [, na, nb]) => [
      undefined,
      na ? sumTo(where(cond, d!, 0), A.dims) : undefined,
      nb ? sumTo(where(cond, 0, d!), B.dims) : undefined,
    ],
  })[0]!;
}

function minMax(op: 'Min' | 'Max', a: Tensor, b: Tensor | number): Tensor {
  const B = typeof b === 'number' ? scalar(a.graph, a.dtype, b) : b;
  const g = graphOf(op, a, B);
  if (a.dtype !== B.dtype)
    throw new DTypeError(
      op,
      `operand dtypes differ: ${a.dtype} ${showShape(a.dims)} vs ${B.dtype} ${showShape(B.dims)}`,
    );
  const dims = broadcastShapes(op, [a.dims, B.dims]);
  return g.emit({
    opType: op,
    inputs: [a, B],
    outputs: [{ dtype: a.dtype, dims }],
    vjp: ([d], [na, nb]) => {
      const pickA = op === 'Max' ? less(B, a) : less(a, B);
      const firstWins = op === 'Max' ? not(less(a, B)) : not(less(B, a));
      return [
        na ? sumTo(where(firstWins, d!, 0), a.dims) : undefined,
        nb ? sumTo(where(pickA, 0, d!), B.dims) : undefined,
      ];
    },
  })[0]!;
}

/** Elementwise minimum of two tensors, broadcasting. */
export function min(a: Tensor, b: Tensor | number): Tensor {
  return minMax('Min', a, b);
}

/** Elementwise maximum of two tensors, broadcasting. */
export function max(a: Tensor, b: Tensor | number): Tensor {
  return minMax('Max', a, b);
}

/** Clamps `x` to `[lo, hi]` (scalars). Gradients reach `x` inside the range and `lo`/`hi` outside it. */
export function clip(x: Tensor, lo: Tensor | number, hi: Tensor | number): Tensor {
  const g = x.graph;
  const L = typeof lo === 'number' ? scalar(g, x.dtype, lo) : lo;
  const H = typeof hi === 'number' ? scalar(g, x.dtype, hi) : hi;
  for (const t of [L, H]) {
    if (t.rank !== 0) throw new DTypeError('Clip', `bounds must be scalars, got ${showShape(t.dims)}`);
    if (t.dtype !== x.dtype) throw new DTypeError('Clip', `bound dtype ${t.dtype} differs from ${x.dtype}`);
  }
  return graphOf('Clip', x, L, H).emit({
    opType: 'Clip',
    inputs: [x, L, H],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    vjp: ([d], [nx, nl, nh]) => {
      const below = less(x, L);
      const above = greater(x, H);
      return [
        nx ? where(below, 0, where(above, 0, d!)) : undefined,
        nl ? sumTo(where(below, d!, 0), []) : undefined,
        nh ? sumTo(where(above, d!, 0), []) : undefined,
      ];
    },
  })[0]!;
}
