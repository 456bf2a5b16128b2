/**
 * Reductions over static axes: ReduceSum, ReduceMean, ReduceMax, ReduceLogSumExp (opset 18: axes as
 * an input). Gradients broadcast the output gradient back over the reduced axes.
 */
import { normAxis, type Dim } from '../graph/dims.js';
import { DTypeError } from '../graph/errors.js';
import type { Tensor, VjpRule } from '../graph/graph.js';
import { div, mul, sub } from './arithmetic.js';
import { exp } from './activations.js';
import { int64s } from './helpers.js';
import { cast, expand, size, unsqueeze } from './shape-ops.js';
import { equal } from './select.js';

function reduce(
  op: string,
  x: Tensor,
  axes: readonly number[],
  keepdims: boolean,
  vjp: (y: Tensor) => VjpRule,
): Tensor {
  if (x.dtype === 'bool') throw new DTypeError(op, 'cannot reduce bool');
  const norm = [...new Set(axes.map((a) => normAxis(op, a, x.rank)))].sort((p, q) => p - q);
  const dims: Dim[] = [];
  x.dims.forEach((d, i) => {
    if (!norm.includes(i)) dims.push(d);
    else if (keepdims) dims.push(1);
  });
  const y: Tensor = x.graph.emit({
    opType: op,
    inputs: [x, int64s(x.graph, norm)],
    outputs: [{ dtype: x.dtype, dims }],
    attributes: { keepdims: { kind: 'int', value: keepdims ? 1 : 0 } },
    vjp: (d, n) => vjp(y)(d, n),
  })[0]!;
  return y;
}

/** Re-inserts reduced axes (as size 1) into a reduced tensor when keepdims was off. */
function keepShape(t: Tensor, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  if (keepdims) return t;
  const norm = [...new Set(axes.map((a) => normAxis('Reduce', a, x.rank)))].sort((p, q) => p - q);
  return norm.length === 0 ? t : unsqueeze(t, norm);
}

/** Sum over `axes`. */
export function reduceSum(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  return reduce('ReduceSum', x, axes, keepdims, () => ([d]) => [expand(keepShape(d!, x, axes, keepdims), x)]);
}

/** Mean over `axes`. */
export function reduceMean(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  return reduce('ReduceMean', x, axes, keepdims, (y) => ([d]) => {
    // count = |x| / |y|, at run time so symbolic dims work.
    const count = div(cast(size(x), x.dtype), cast(size(y), x.dtype));
    return [expand(keepShape(div(d!, count), x, axes, keepdims), x)];
  });
}

/** Max over `axes`. Ties share the gradient equally. */
export function reduceMax(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  return reduce('ReduceMax', x, axes, keepdims, (y) => ([d]) => {
    const mask = cast(equal(x, keepShape(y, x, axes, keepdims)), x.dtype);
    const count = reduceSum(mask, axes, true);
    return [mul(div(mask, count), keepShape(d!, x, axes, keepdims))];
  });
}

/** `log(sum(exp(x)))` over `axes`. */
export function reduceLogSumExp(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  return reduce('ReduceLogSumExp', x, axes, keepdims, (y) => ([d]) => [
    mul(exp(sub(x, keepShape(y, x, axes, keepdims))), keepShape(d!, x, axes, keepdims)),
  ]);
}
