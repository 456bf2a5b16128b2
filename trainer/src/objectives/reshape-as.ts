/**
 * Reshapes whose element counts may agree only at run time. The runtime's `reshape`/`reshapeLike`
 * check symbolic sizes at build time (and use `reshapeLike` in their gradient), so `[B] → [2, B/2]` and
 * back, or `[N, 1] → [B, T]` with N from a gather, cannot be expressed there; these defer the check to
 * onnxruntime, except that static sizes that differ still throw ShapeError at build time.
 */
import { ShapeError, shape, type Dim, type Tensor } from '@rest/runtime';
import { freshDim } from './detached-ops.js';

const staticCount = (dims: readonly Dim[]): number | undefined =>
  dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((a, b) => a * b, 1) : undefined;

/** `x` reshaped to the run-time shape of `like` (same element count at run time). */
export function reshapeAs(x: Tensor, like: Tensor): Tensor {
  const [cx, cl] = [staticCount(x.dims), staticCount(like.dims)];
  if (cx !== undefined && cl !== undefined && cx !== cl)
    throw new ShapeError('Reshape', `cannot reshape [${x.dims.join(', ')}] to [${like.dims.join(', ')}]`);
  return x.graph.emit({
    opType: 'Reshape',
    inputs: [x, shape(like)],
    outputs: [{ dtype: x.dtype, dims: like.dims }],
    hint: 'reshape_as',
    vjp: ([d]) => [reshapeAs(d!, x)],
  })[0]!;
}

/** `x [M]` as `[rows, cols]`: one of them is `-1`, inferred at run time. */
export function toMatrix(x: Tensor, rows: number, cols: number): Tensor {
  if (x.rank !== 1 || (rows === -1) === (cols === -1))
    throw new ShapeError(
      'Reshape',
      `toMatrix needs a vector and exactly one of rows/cols, got [${x.dims.join(', ')}]`,
    );
  const g = x.graph;
  const n = x.dims[0]!;
  const known = rows === -1 ? cols : rows;
  const other: Dim = typeof n === 'number' ? n / known : freshDim('rows');
  if (typeof n === 'number' && !Number.isInteger(other))
    throw new ShapeError('Reshape', `cannot split [${n}] into rows of ${known}`);
  return g.emit({
    opType: 'Reshape',
    inputs: [x, g.constant('i64', [2], BigInt64Array.from([BigInt(rows), BigInt(cols)]), 'ints')],
    outputs: [{ dtype: x.dtype, dims: rows === -1 ? [other, cols] : [rows, other] }],
    hint: 'to_matrix',
    vjp: ([d]) => [reshapeAs(d!, x)],
  })[0]!;
}
