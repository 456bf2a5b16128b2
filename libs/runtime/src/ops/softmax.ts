/** Softmax and LogSoftmax over one axis, with their gradient rules. */
import { normAxis } from '../graph/dims.js';
import { DTypeError } from '../graph/errors.js';
import type { Tensor } from '../graph/graph.js';
import { mul, sub } from './arithmetic.js';
import { exp } from './activations.js';
import { reduceSum } from './reduce.js';

function check(op: string, x: Tensor, axis: number): number {
  if (x.dtype !== 'f32' && x.dtype !== 'f64')
    throw new DTypeError(op, `expects a float tensor, got ${x.dtype}`);
  return normAxis(op, axis, x.rank);
}

/** `exp(x) / sum(exp(x))` along `axis`. @default axis -1 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = check('Softmax', x, axis);
  const y: Tensor = x.graph.emit({
    opType: 'Softmax',
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    attributes: { axis: { kind: 'int', value: a } },
    // dx = y * (d - sum(d * y))
    vjp: ([d]) => [mul(y, sub(d!, reduceSum(mul(d!, y), [a], true)))],
  })[0]!;
  return y;
}

/** `x - log(sum(exp(x)))` along `axis`. @default axis -1 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = check('LogSoftmax', x, axis);
  const y: Tensor = x.graph.emit({
    opType: 'LogSoftmax',
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    attributes: { axis: { kind: 'int', value: a } },
    // dx = d - softmax(x) * sum(d)
    vjp: ([d]) => [sub(d!, mul(exp(y), reduceSum(d!, [a], true)))],
  })[0]!;
  return y;
}
