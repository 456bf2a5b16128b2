/**
 * Elementwise math and activations: Sqrt, Exp, Tanh, Erf, Relu, Sigmoid, Softplus, Gelu. Gelu is
 * composed from Mul/Erf/Add (ONNX Gelu needs opset 20), so its gradient comes from its parts. Erf has
 * no double kernel in onnxruntime's CPU provider; f64 graphs use the decomposition in erf-f64.ts.
 */
import type { Tensor } from '../graph/graph.js';
import { add, div, mul, neg, sub, unary } from './arithmetic.js';
import { erfF64Parts } from './erf-f64.js';

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unary('Sqrt', x, (y) => (d) => div(mul(d, 0.5), y));
}

/** `e ** x`. */
export function exp(x: Tensor): Tensor {
  return unary('Exp', x, (y) => (d) => mul(d, y));
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unary('Tanh', x, (y) => (d) => mul(d, sub(1, mul(y, y))));
}

/** The error function (decomposed for f64, see erf-f64.ts). */
export function erf(x: Tensor): Tensor {
  const rule = (d: Tensor): Tensor => mul(d, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)));
  if (x.dtype !== 'f64') return unary('Erf', x, () => rule);
  const { negative, value, negated } = erfF64Parts(x);
  return x.graph.emit({
    opType: 'Where',
    inputs: [negative, negated, value],
    outputs: [{ dtype: 'f64', dims: x.dims }],
    hint: 'erf',
    diffInputs: [x],
    vjp: ([d]) => [rule(d!)],
  })[0]!;
}

/** `max(x, 0)`; the gradient at 0 is 0. */
export function relu(x: Tensor): Tensor {
  // sign(y) of y = max(x, 0) is exactly the 0/1 mask x > 0: two cheap passes instead of Greater + Where.
  return unary('Relu', x, (y) => (d) => mul(d, unary('Sign', y, undefined)));
}

/** Logistic sigmoid. */
export function sigmoid(x: Tensor): Tensor {
  return unary('Sigmoid', x, (y) => (d) => mul(d, mul(y, sub(1, y))));
}

/** `log(1 + e ** x)`. */
export function softplus(x: Tensor): Tensor {
  return unary('Softplus', x, () => (d) => mul(d, sigmoid(x)));
}

/** Exact GELU: `x/2 * (1 + erf(x/√2))`. */
export function gelu(x: Tensor): Tensor {
  return x.graph.scope('gelu', () => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1)));
}
