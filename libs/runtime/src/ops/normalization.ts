/**
 * LayerNormalization over the last axis (ONNX opset 17 op) with scale and bias `[D]`. On f32 the
 * gradient reads the op's own Mean and InvStdDev outputs; on f64 it recomputes them with primitive ops,
 * so f64 graphs stay f64 throughout (the op's stash outputs are f32). normalization.test.ts checks that
 * the two paths give the same gradient.
 */
import { dimEq, showShape, type Shape } from '../graph/dims.js';
import { DTypeError, ShapeError } from '../graph/errors.js';
import { graphOf, type Tensor } from '../graph/graph.js';
import { add, div, mul, sub } from './arithmetic.js';
import { sqrt } from './activations.js';
import { reduceMean, reduceSum } from './reduce.js';

/** `(x - mean) / sqrt(var + eps) * scale + bias` over the last axis of `x: [..., D]`. @default eps 1e-5 */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const g = graphOf('LayerNormalization', x, scale, bias);
  const D = x.dims[x.rank - 1];
  if (
    D === undefined ||
    scale.rank !== 1 ||
    bias.rank !== 1 ||
    !dimEq(scale.dims[0]!, D) ||
    !dimEq(bias.dims[0]!, D)
  )
    throw new ShapeError(
      'LayerNormalization',
      `x ${showShape(x.dims)} needs scale and bias [D], got ${showShape(scale.dims)} and ${showShape(bias.dims)}`,
    );
  if (x.dtype !== scale.dtype || x.dtype !== bias.dtype || (x.dtype !== 'f32' && x.dtype !== 'f64'))
    throw new DTypeError('LayerNormalization', `dtypes ${x.dtype}, ${scale.dtype}, ${bias.dtype}`);
  const last = x.rank - 1;
  const lead = [...Array(last).keys()];
  const stats: Shape = [...x.dims.slice(0, -1), 1];
  // f32: the op also returns its f32 mean and 1/σ (stash_type 1), so the backward pass does not recompute
  // them. f64: those outputs would be f32, so the gradient recomputes them in f64 instead.
  const stash = x.dtype === 'f32';
  const outs: Tensor[] = g.emit({
    opType: 'LayerNormalization',
    inputs: [x, scale, bias],
    outputs: stash
      ? [
          { dtype: x.dtype, dims: x.dims },
          { dtype: x.dtype, dims: stats, hint: 'ln_mean' },
          { dtype: x.dtype, dims: stats, hint: 'ln_rstd' },
        ]
      : [{ dtype: x.dtype, dims: x.dims }],
    attributes: { axis: { kind: 'int', value: -1 }, epsilon: { kind: 'float', value: eps } },
    vjp: ([d], [nx, ns, nb]) => {
      const dY = d!;
      let xhat: Tensor; // [..., D]
      let rstd: Tensor; // [..., 1]
      if (stash) {
        rstd = outs[2]!;
        xhat = mul(sub(x, outs[1]!), rstd);
      } else {
        const xc = sub(x, reduceMean(x, [last], true));
        // epsilon is a float attribute: use the same f32-rounded value the kernel sees.
        rstd = div(1, sqrt(add(reduceMean(mul(xc, xc), [last], true), Math.fround(eps))));
        xhat = mul(xc, rstd);
      }
      const dXhat = mul(dY, scale);
      const dX = nx
        ? mul(
            rstd,
            sub(
              sub(dXhat, reduceMean(dXhat, [last], true)),
              mul(xhat, reduceMean(mul(dXhat, xhat), [last], true)),
            ),
          )
        : undefined;
      const dScale = ns ? reduceSum(mul(dY, xhat), lead) : undefined;
      const dBias = nb ? reduceSum(dY, lead) : undefined;
      return [dX, dScale, dBias];
    },
  });
  return outs[0]!;
}
