/**
 * ONNX ops the runtime has no emitter for (CumSum, TopK, Ceil, Abs, Pad, a Slice over a symbolic
 * axis, ScatterElements of ones), emitted here **without gradient rules**. The autodiff cuts a path at
 * a node without a rule, so these may only touch values that are detached anyway: masks, returns,
 * advantages, token selections. Every caller applies them to `stopGradient`-ed or input data.
 */
import { shape, type Dim, type Graph, type Tensor } from '@rest/runtime';

let unknownCount = 0;

/** A fresh data-dependent dim name (`?` names are equal only to themselves, see the runtime's dims). */
export function freshDim(hint: string): Dim {
  unknownCount += 1;
  return `?${hint}${unknownCount}`;
}

function emit1(
  g: Graph,
  opType: string,
  inputs: readonly Tensor[],
  out: { dtype: Tensor['dtype']; dims: readonly Dim[] },
  attributes: Parameters<Graph['emit']>[0]['attributes'] = {},
): Tensor {
  return g.emit({ opType, inputs, outputs: [out], attributes, hint: opType.toLowerCase() })[0]!;
}

function i64(g: Graph, values: readonly number[]): Tensor {
  return g.constant('i64', [values.length], BigInt64Array.from(values.map((v) => BigInt(v))), 'ints');
}

/** `Σ_{s > t} x_s` along `axis` (CumSum, reverse, exclusive); same shape. */
export function suffixSum(x: Tensor, axis: number): Tensor {
  const g = x.graph;
  const ax = g.constant('i64', [], new BigInt64Array([BigInt(axis)]), 'axis');
  return emit1(
    g,
    'CumSum',
    [x, ax],
    { dtype: x.dtype, dims: x.dims },
    {
      exclusive: { kind: 'int', value: 1 },
      reverse: { kind: 'int', value: 1 },
    },
  );
}

/** Elementwise `|x|`. */
export function abs(x: Tensor): Tensor {
  return emit1(x.graph, 'Abs', [x], { dtype: x.dtype, dims: x.dims });
}

/** Elementwise ceiling. */
export function ceil(x: Tensor): Tensor {
  return emit1(x.graph, 'Ceil', [x], { dtype: x.dtype, dims: x.dims });
}

/**
 * `x [B, T]` followed by `k` columns of `value` `[B, T + k]`, then the window `[:, j : j + T]` for
 * j = 0..k: `shifts[j]_t = x_{t+j}`, or `value` past the end. Returns the k + 1 shifted `[B, T]` views.
 */
export function shiftedLeft(x: Tensor, k: number, value: number): Tensor[] {
  const g = x.graph;
  if (k === 0) return [x];
  const [b, t] = x.dims as [Dim, Dim];
  const padded = emit1(
    g,
    'Pad',
    [
      x,
      i64(g, [0, 0, 0, k]),
      g.constant(
        x.dtype,
        [],
        x.dtype === 'f64' ? new Float64Array([value]) : new Float32Array([value]),
        'pad_value',
      ),
    ],
    { dtype: x.dtype, dims: [b, typeof t === 'number' ? t + k : freshDim('pad')] },
  );
  const shifts: Tensor[] = [];
  for (let j = 0; j <= k; j++) {
    // A negative end counts from the end of the padded axis: T + k − (k − j) = T + j.
    const end = j === k ? 2 ** 62 : j - k;
    shifts.push(
      emit1(g, 'Slice', [padded, i64(g, [j]), i64(g, [end]), i64(g, [1])], { dtype: x.dtype, dims: [b, t] }),
    );
  }
  return shifts;
}

/** Indices `[K] i64` of the `k [1] i64` largest entries of `x [M]` (ties: lower index first). */
export function topKIndices(x: Tensor, k: Tensor): Tensor {
  const g = x.graph;
  const K = freshDim('topk');
  return g.emit({
    opType: 'TopK',
    inputs: [x, k],
    outputs: [
      { dtype: x.dtype, dims: [K] },
      { dtype: 'i64', dims: [K] },
    ],
    attributes: {
      axis: { kind: 'int', value: 0 },
      largest: { kind: 'int', value: 1 },
      sorted: { kind: 'int', value: 1 },
    },
    hint: 'topk',
  })[1]!;
}

function filled(like: Tensor, dtype: 'f32' | 'f64', value: number): Tensor {
  const data = dtype === 'f64' ? new Float64Array([value]) : new Float32Array([value]);
  return emit1(
    like.graph,
    'ConstantOfShape',
    [shape(like)],
    { dtype, dims: like.dims },
    {
      value: { kind: 'tensor', value: { name: 'v', dtype, dims: [1], data } },
    },
  );
}

/** `[M]` of `like`'s float dtype: 1 at `indices [K] i64`, 0 elsewhere. */
export function indicator(like: Tensor, indices: Tensor): Tensor {
  const dtype = like.dtype === 'f64' ? 'f64' : 'f32';
  return emit1(
    like.graph,
    'ScatterElements',
    [filled(like, dtype, 0), indices, filled(indices, dtype, 1)],
    {
      dtype,
      dims: like.dims,
    },
    { axis: { kind: 'int', value: 0 } },
  );
}
