/**
 * Small building blocks shared by the op families: typed constants, runtime shapes, and `sumTo`, which
 * reduces a broadcast gradient back to an operand's shape (ReduceSum over the broadcast axes, then a
 * reshape or squeeze of the leading axes).
 */
import type { DType } from '../onnx/dtype.js';
import { dimEq, isStatic, type Shape } from '../graph/dims.js';
import type { Graph, Tensor } from '../graph/graph.js';

/** A scalar constant of `dtype` in graph `g`. */
export function scalar(g: Graph, dtype: DType, value: number): Tensor {
  switch (dtype) {
    case 'f32':
      return g.constant('f32', [], new Float32Array([value]), 'c');
    case 'f64':
      return g.constant('f64', [], new Float64Array([value]), 'c');
    case 'i64':
      return g.constant('i64', [], new BigInt64Array([BigInt(value)]), 'c');
    case 'bool':
      return g.constant('bool', [], new Uint8Array([value ? 1 : 0]), 'c');
  }
}

/** A 1-D int64 constant (axes, shapes, starts...). */
export function int64s(g: Graph, values: readonly number[]): Tensor {
  return g.constant('i64', [values.length], new BigInt64Array(values.map((v) => BigInt(v))), 'ints');
}

/** Whether two shapes are known to be equal. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

/** The runtime shape of `x` as an int64 tensor: a constant when static. */
export function shapeTensor(x: Tensor): Tensor {
  const g = x.graph;
  if (isStatic(x.dims)) return int64s(g, x.dims);
  return g.emit({
    opType: 'Shape',
    inputs: [x],
    outputs: [{ dtype: 'i64', dims: [x.rank] }],
    hint: 'shape',
  })[0]!;
}

/**
 * Sums a gradient `dY` that was broadcast from shape `dims` back to `dims`. `like` is a tensor of
 * shape `dims`, used only when `dims` is symbolic and leading axes must be dropped.
 */
export function sumTo(dY: Tensor, dims: Shape): Tensor {
  if (sameShape(dY.dims, dims)) return dY;
  const g = dY.graph;
  const lead = dY.rank - dims.length;
  const axes: number[] = [];
  for (let i = 0; i < dY.rank; i++) {
    if (i < lead) axes.push(i);
    else if (dims[i - lead] === 1 && dY.dims[i] !== 1) axes.push(i);
  }
  const keptDims = dY.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  let r = dY;
  if (axes.length > 0) {
    r = g.emit({
      opType: 'ReduceSum',
      inputs: [dY, int64s(g, axes)],
      outputs: [{ dtype: dY.dtype, dims: keptDims }],
      attributes: { keepdims: { kind: 'int', value: 1 } },
      hint: 'sum_to',
    })[0]!;
  }
  if (lead === 0) return r;
  if (isStatic(dims)) {
    return g.emit({
      opType: 'Reshape',
      inputs: [r, int64s(g, dims)],
      outputs: [{ dtype: r.dtype, dims }],
    })[0]!;
  }
  const leadAxes = Array.from({ length: lead }, (_, i) => i);
  return g.emit({
    opType: 'Squeeze',
    inputs: [r, int64s(g, leadAxes)],
    outputs: [{ dtype: r.dtype, dims }],
  })[0]!;
}

/** Zeros with the shape and dtype of `x` (ConstantOfShape over its runtime shape). */
export function zerosLike(x: Tensor): Tensor {
  const g = x.graph;
  const value =
    x.dtype === 'f64'
      ? { name: 'v', dtype: 'f64' as const, dims: [1], data: new Float64Array([0]) }
      : { name: 'v', dtype: x.dtype, dims: [1], data: zeroData(x.dtype) };
  return g.emit({
    opType: 'ConstantOfShape',
    inputs: [shapeTensor(x)],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    attributes: { value: { kind: 'tensor', value } },
    hint: 'zeros',
  })[0]!;
}

function zeroData(dtype: DType): Float32Array | Float64Array | BigInt64Array | Uint8Array {
  switch (dtype) {
    case 'f32':
      return new Float32Array(1);
    case 'f64':
      return new Float64Array(1);
    case 'i64':
      return new BigInt64Array(1);
    case 'bool':
      return new Uint8Array(1);
  }
}
