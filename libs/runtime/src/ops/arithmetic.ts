/**
 * Broadcasting binary arithmetic: Add, Sub, Mul, Div, Pow, with their gradient rules. Operands must
 * share a dtype; shapes broadcast numpy-style (a mismatch throws ShapeError at build time). Gradients
 * are summed back to each operand's shape with `sumTo`.
 */
import { broadcastShapes, showShape } from '../graph/dims.js';
import { DTypeError } from '../graph/errors.js';
import { graphOf, type Tensor, type VjpRule } from '../graph/graph.js';
import { scalar, sumTo } from './helpers.js';

/** Emits a broadcasting binary node whose output dtype equals the operands' dtype. */
export function binary(op: string, a: Tensor, b: Tensor, vjp: ((y: Tensor) => VjpRule) | undefined): Tensor {
  const g = graphOf(op, a, b);
  if (a.dtype !== b.dtype)
    throw new DTypeError(
      op,
      `operand dtypes differ: ${a.dtype} ${showShape(a.dims)} vs ${b.dtype} ${showShape(b.dims)}`,
    );
  const dims = broadcastShapes(op, [a.dims, b.dims]);
  const rule: VjpRule | undefined = vjp === undefined ? undefined : (d, needs) => vjp(y)(d, needs);
  const y: Tensor = g.emit({
    opType: op,
    inputs: [a, b],
    outputs: [{ dtype: a.dtype, dims }],
    vjp: rule,
  })[0]!;
  return y;
}

/** A number operand becomes a scalar constant of the other operand's dtype. */
function lift(x: Tensor | number, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(like.graph, like.dtype, x) : x;
}

/** `a + b`, broadcasting. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  const B = lift(b, a);
  return binary('Add', a, B, () => ([d], [na, nb]) => [
    na ? sumTo(d!, a.dims) : undefined,
    nb ? sumTo(d!, B.dims) : undefined,
  ]);
}

/** `a - b`, broadcasting. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  const A = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const B = lift(b, A);
  return binary('Sub', A, B, () => ([d], [na, nb]) => [
    na ? sumTo(d!, A.dims) : undefined,
    nb ? sumTo(neg(d!), B.dims) : undefined,
  ]);
}

/** `a * b`, broadcasting. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  const B = lift(b, a);
  return binary('Mul', a, B, () => ([d], [na, nb]) => [
    na ? sumTo(mul(d!, B), a.dims) : undefined,
    nb ? sumTo(mul(d!, a), B.dims) : undefined,
  ]);
}

/** `a / b`, broadcasting. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  const A = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const B = lift(b, A);
  return binary('Div', A, B, (y) => ([d], [na, nb]) => [
    na ? sumTo(div(d!, B), A.dims) : undefined,
    // d(a/b)/db = -a/b^2 = -y/b
    nb ? sumTo(neg(div(mul(d!, y), B)), B.dims) : undefined,
  ]);
}

/** `a ** b`, broadcasting. The gradient into `b` uses log(a), so it is only defined for a > 0. */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  const B = lift(b, a);
  return binary('Pow', a, B, (y) => ([d], [na, nb]) => [
    na ? sumTo(mul(mul(d!, B), pow(a, sub(B, 1))), a.dims) : undefined,
    nb ? sumTo(mul(mul(d!, y), log(a)), B.dims) : undefined,
  ]);
}

/** `-x`. */
export function neg(x: Tensor): Tensor {
  return unary('Neg', x, () => (d) => neg(d));
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary('Log', x, () => (d) => div(d, x));
}

/**
 * Emits an elementwise unary node. `rule(y)` gives the input gradient from the output gradient; it
 * receives the node's output for rules written in terms of it (exp, sqrt, tanh, sigmoid).
 */
export function unary(
  op: string,
  x: Tensor,
  rule: ((y: Tensor) => (d: Tensor) => Tensor) | undefined,
  attributes = {},
): Tensor {
  const g = x.graph;
  if (x.dtype !== 'f32' && x.dtype !== 'f64' && rule !== undefined)
    throw new DTypeError(op, `expects a float tensor, got ${x.dtype}`);
  const vjp: VjpRule | undefined = rule === undefined ? undefined : ([d]) => [rule(y)(d!)];
  const y: Tensor = g.emit({
    opType: op,
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    vjp,
    attributes,
  })[0]!;
  return y;
}
