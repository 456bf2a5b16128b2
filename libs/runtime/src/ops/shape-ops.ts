/**
 * Shape manipulation: Reshape, Transpose, Concat, Split, Slice, Unsqueeze, Squeeze, Expand, Shape,
 * Size, Cast, Identity and stopGradient, with their gradient rules. Output shapes are inferred at
 * build time; a size that only the data can tell becomes an unknown dim (`?n`).
 */
import type { DType } from '../onnx/dtype.js';
import { isFloat } from '../onnx/dtype.js';
import {
  broadcastShapes,
  dimDiv,
  dimEq,
  dimProd,
  isStatic,
  normAxis,
  showShape,
  unknownDim,
  type Dim,
  type Shape,
} from '../graph/dims.js';
import { ShapeError } from '../graph/errors.js';
import { graphOf, type Tensor } from '../graph/graph.js';
import { int64s, shapeTensor, sumTo, zerosLike } from './helpers.js';

/**
 * Reshape with an ONNX-style spec: a positive size, `0` (copy the input's dim at that position) or
 * `-1` (inferred, at most once). Throws ShapeError when static sizes disagree.
 */
export function reshape(x: Tensor, spec: readonly number[]): Tensor {
  const inferAt = spec.indexOf(-1);
  if (spec.lastIndexOf(-1) !== inferAt)
    throw new ShapeError('Reshape', `more than one -1 in ${showShape(spec)}`);
  const dims: Dim[] = spec.map((s, i) => {
    if (s === 0) {
      const d = x.dims[i];
      if (d === undefined)
        throw new ShapeError('Reshape', `0 at axis ${i} but input is ${showShape(x.dims)}`);
      return d;
    }
    return s;
  });
  if (inferAt >= 0) {
    const inferred = dimDiv(dimProd(x.dims), dimProd(dims.filter((_, i) => i !== inferAt)));
    if (isStatic(x.dims) && typeof inferred !== 'number')
      throw new ShapeError('Reshape', `cannot reshape ${showShape(x.dims)} to ${showShape(spec)}`);
    dims[inferAt] = inferred;
  }
  if (isStatic(x.dims) && isStatic(dims) && !dimEq(dimProd(x.dims), dimProd(dims)))
    throw new ShapeError('Reshape', `cannot reshape ${showShape(x.dims)} to ${showShape(spec)}`);
  return x.graph.emit({
    opType: 'Reshape',
    inputs: [x, int64s(x.graph, spec)],
    outputs: [{ dtype: x.dtype, dims }],
    vjp: ([d]) => [reshapeLike(d!, x)],
  })[0]!;
}

/** Reshapes `x` to the (runtime) shape of `like`; element counts must match. */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  if (!dimEq(dimProd(x.dims), dimProd(like.dims)))
    throw new ShapeError('Reshape', `cannot reshape ${showShape(x.dims)} to ${showShape(like.dims)}`);
  return graphOf('Reshape', x, like).emit({
    opType: 'Reshape',
    inputs: [x, shapeTensor(like)],
    outputs: [{ dtype: x.dtype, dims: like.dims }],
    vjp: ([d]) => [reshapeLike(d!, x)],
  })[0]!;
}

/** Permutes axes. */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
    throw new ShapeError('Transpose', `perm ${showShape(perm)} does not fit ${showShape(x.dims)}`);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return x.graph.emit({
    opType: 'Transpose',
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: perm.map((p) => x.dims[p]!) }],
    attributes: { perm: { kind: 'ints', value: perm } },
    vjp: ([d]) => [transpose(d!, inverse)],
  })[0]!;
}

/**
 * Joins tensors along `axis`; other dims must match. `size` names the result's size along `axis`
 * where the builder cannot work it out (a sum of symbolic sizes): the same declaration as an
 * Identity with those dims, without the copy an Identity makes once its output is bound to a
 * caller's buffer.
 */
export function concat(xs: readonly Tensor[], axis: number, size?: Dim): Tensor {
  const first = xs[0];
  if (first === undefined) throw new ShapeError('Concat', 'no operands');
  const a = normAxis('Concat', axis, first.rank);
  for (const x of xs) {
    if (
      x.rank !== first.rank ||
      x.dtype !== first.dtype ||
      x.dims.some((d, i) => i !== a && !dimEq(d, first.dims[i]!))
    )
      throw new ShapeError(
        'Concat',
        `operands ${xs.map((t) => `${t.dtype} ${showShape(t.dims)}`).join(', ')} on axis ${axis}`,
      );
  }
  const dims = [...first.dims];
  dims[a] = xs.every((x) => typeof x.dims[a] === 'number')
    ? xs.reduce((s, x) => s + (x.dims[a] as number), 0)
    : (size ?? unknownDim());
  return graphOf('Concat', ...xs).emit({
    opType: 'Concat',
    inputs: xs,
    outputs: [{ dtype: first.dtype, dims }],
    attributes: { axis: { kind: 'int', value: a } },
    vjp: ([d], needs) => {
      const sizes = xs.map((x) => x.dims[a]!);
      const parts = splitBy(d!, a, sizes, xs);
      return parts.map((p, i) => (needs[i] ? p : undefined));
    },
  })[0]!;
}

/** Splits along `axis` into pieces of the given sizes (or `n` equal pieces when a number). */
export function split(x: Tensor, axis: number, sizes: readonly number[] | number): Tensor[] {
  const a = normAxis('Split', axis, x.rank);
  const total = x.dims[a]!;
  let parts: number[];
  if (typeof sizes === 'number') {
    if (typeof total !== 'number' || total % sizes !== 0)
      throw new ShapeError(
        'Split',
        `cannot split axis ${axis} of ${showShape(x.dims)} into ${sizes} equal parts`,
      );
    parts = Array.from({ length: sizes }, () => total / sizes);
  } else {
    parts = [...sizes];
    if (typeof total === 'number' && parts.reduce((s, p) => s + p, 0) !== total)
      throw new ShapeError(
        'Split',
        `sizes ${showShape(parts)} do not sum to axis ${axis} of ${showShape(x.dims)}`,
      );
  }
  const outs = parts.map((p) => ({ dtype: x.dtype, dims: x.dims.map((d, i) => (i === a ? p : d)) }));
  const ys: Tensor[] = x.graph.emit({
    opType: 'Split',
    inputs: [x, int64s(x.graph, parts)],
    outputs: outs,
    attributes: { axis: { kind: 'int', value: a } },
    vjp: (ds) => [
      concat(
        ds.map((d, i) => d ?? zerosLike(ys[i]!)),
        a,
      ),
    ],
  });
  return ys;
}

/** Splits `d` along `axis` into pieces shaped like `likes` (sizes possibly symbolic). */
function splitBy(d: Tensor, axis: number, sizes: readonly Dim[], likes: readonly Tensor[]): Tensor[] {
  const g = d.graph;
  let splitSizes: Tensor;
  if (isStatic(sizes)) splitSizes = int64s(g, sizes);
  else {
    const pieces = likes.map((l) => gatherAxis(shapeTensor(l), axis));
    splitSizes = g.emit({
      opType: 'Concat',
      inputs: pieces,
      outputs: [{ dtype: 'i64', dims: [likes.length] }],
      attributes: { axis: { kind: 'int', value: 0 } },
    })[0]!;
  }
  return d.graph.emit({
    opType: 'Split',
    inputs: [d, splitSizes],
    outputs: likes.map((l) => ({ dtype: d.dtype, dims: l.dims })),
    attributes: { axis: { kind: 'int', value: axis } },
  });
}

/** `shape[axis:axis+1]` of an int64 shape tensor, as [1] i64. */
function gatherAxis(shape: Tensor, axis: number): Tensor {
  const g = shape.graph;
  return g.emit({
    opType: 'Slice',
    inputs: [shape, int64s(g, [axis]), int64s(g, [axis + 1])],
    outputs: [{ dtype: 'i64', dims: [1] }],
  })[0]!;
}

/**
 * Static slice with step 1: `x[starts:ends]` on `axes`. Negative indices count from the end; ends past
 * the dim clamp. The gradient pads the output gradient back with zeros.
 */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
): Tensor {
  if (starts.length !== axes.length || ends.length !== axes.length)
    throw new ShapeError('Slice', 'starts, ends and axes must have equal lengths');
  const normAxes = axes.map((a) => normAxis('Slice', a, x.rank));
  const dims = [...x.dims];
  const padsBegin: Dim[] = x.dims.map(() => 0);
  const padsEnd: Dim[] = x.dims.map(() => 0);
  normAxes.forEach((a, k) => {
    const n = x.dims[a]!;
    const s = starts[k]!;
    const e = ends[k]!;
    if (typeof n === 'number') {
      const s0 = Math.min(Math.max(s < 0 ? s + n : s, 0), n);
      const e0 = Math.min(Math.max(e < 0 ? e + n : e, s0), n);
      dims[a] = e0 - s0;
      padsBegin[a] = s0;
      padsEnd[a] = n - e0;
    } else if (s === 0 && e >= 2 ** 31) {
      dims[a] = n;
    } else {
      throw new ShapeError('Slice', `symbolic axis ${a} of ${showShape(x.dims)} needs start 0 and open end`);
    }
  });
  const g = x.graph;
  return g.emit({
    opType: 'Slice',
    inputs: [x, int64s(g, starts), int64s(g, ends), int64s(g, normAxes)],
    outputs: [{ dtype: x.dtype, dims }],
    vjp: ([d]) => [
      g.emit({
        opType: 'Pad',
        inputs: [d!, int64s(g, [...padsBegin, ...padsEnd] as number[])],
        outputs: [{ dtype: x.dtype, dims: x.dims }],
      })[0]!,
    ],
  })[0]!;
}

/** Inserts size-1 axes at `axes` (positions in the output). */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const norm = axes.map((a) => normAxis('Unsqueeze', a, rank));
  const dims: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) dims.push(norm.includes(i) ? 1 : x.dims[k++]!);
  return x.graph.emit({
    opType: 'Unsqueeze',
    inputs: [x, int64s(x.graph, norm)],
    outputs: [{ dtype: x.dtype, dims }],
    vjp: ([d]) => [squeeze(d!, norm)],
  })[0]!;
}

/** Removes size-1 axes. */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const norm = axes.map((a) => normAxis('Squeeze', a, x.rank));
  for (const a of norm)
    if (x.dims[a] !== 1) throw new ShapeError('Squeeze', `axis ${a} of ${showShape(x.dims)} is not 1`);
  return x.graph.emit({
    opType: 'Squeeze',
    inputs: [x, int64s(x.graph, norm)],
    outputs: [{ dtype: x.dtype, dims: x.dims.filter((_, i) => !norm.includes(i)) }],
    vjp: ([d]) => [unsqueeze(d!, norm)],
  })[0]!;
}

/** Broadcasts `x` to `dims` (static), or to the runtime shape of a tensor. */
export function expand(x: Tensor, to: Shape | Tensor): Tensor {
  const like = Array.isArray(to) ? undefined : (to as Tensor);
  const target: Shape = like?.dims ?? (to as Shape);
  const dims = broadcastShapes('Expand', [x.dims, target]);
  const shape = like !== undefined ? shapeTensor(like) : int64s(x.graph, target as number[]);
  return graphOf('Expand', x, like).emit({
    opType: 'Expand',
    inputs: [x, shape],
    outputs: [{ dtype: x.dtype, dims }],
    vjp: ([d]) => [sumTo(d!, x.dims)],
  })[0]!;
}

/** The runtime shape `[rank] i64`. */
export function shape(x: Tensor): Tensor {
  return x.graph.emit({ opType: 'Shape', inputs: [x], outputs: [{ dtype: 'i64', dims: [x.rank] }] })[0]!;
}

/** The element count `[] i64`. */
export function size(x: Tensor): Tensor {
  return x.graph.emit({ opType: 'Size', inputs: [x], outputs: [{ dtype: 'i64', dims: [] }] })[0]!;
}

/** Converts dtype. Gradients pass (cast back) only between float dtypes. */
export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  const ONNX = { f32: 1, i64: 7, bool: 9, f64: 11 } as const;
  return x.graph.emit({
    opType: 'Cast',
    inputs: [x],
    outputs: [{ dtype: to, dims: x.dims }],
    attributes: { to: { kind: 'int', value: ONNX[to] } },
    vjp: isFloat(x.dtype) && isFloat(to) ? ([d]) => [cast(d!, x.dtype)] : undefined,
  })[0]!;
}

/** A copy of `x` through which no gradient flows (importance weights, reference log-probs...). */
export function stopGradient(x: Tensor): Tensor {
  return x.graph.emit({
    opType: 'Identity',
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    hint: 'stop_gradient',
  })[0]!;
}
