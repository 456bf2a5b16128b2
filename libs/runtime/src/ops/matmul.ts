/**
 * Matrix products: MatMul (batched, broadcasting batch dims; operands of rank ≥ 2) and Gemm (2-D with
 * transA/transB/alpha/beta and a broadcast C). For the common `[.., K] x [K, N]` case the weight
 * gradient is one Gemm over the flattened rows instead of a batched product summed afterwards.
 */
import { broadcastShapes, dimEq, showShape } from '../graph/dims.js';
import { DTypeError, ShapeError } from '../graph/errors.js';
import { graphOf, type Tensor } from '../graph/graph.js';
import { mul } from './arithmetic.js';
import { sumTo } from './helpers.js';
import { reshape, transpose } from './shape-ops.js';

/** `a @ b` for `a: [..., M, K]`, `b: [..., K, N]` → `[..., M, N]`. */
export function matMul(a: Tensor, b: Tensor): Tensor {
  const g = graphOf('MatMul', a, b);
  if (a.dtype !== b.dtype) throw new DTypeError('MatMul', `operand dtypes differ: ${a.dtype} vs ${b.dtype}`);
  if (a.rank < 2 || b.rank < 2)
    throw new ShapeError(
      'MatMul',
      `operands must have rank >= 2, got ${showShape(a.dims)} and ${showShape(b.dims)}`,
    );
  const [m, k] = a.dims.slice(-2) as [string | number, string | number];
  const [k2, n] = b.dims.slice(-2) as [string | number, string | number];
  if (!dimEq(k, k2))
    throw new ShapeError('MatMul', `inner dims differ: ${showShape(a.dims)} x ${showShape(b.dims)}`);
  const batch = broadcastShapes('MatMul', [a.dims.slice(0, -2), b.dims.slice(0, -2)]);
  return g.emit({
    opType: 'MatMul',
    inputs: [a, b],
    outputs: [{ dtype: a.dtype, dims: [...batch, m, n] }],
    vjp: ([d], [na, nb]) => {
      const dY = d!;
      const swapB = [...Array(b.rank).keys()].map((i) =>
        i < b.rank - 2 ? i : i === b.rank - 2 ? b.rank - 1 : b.rank - 2,
      );
      const swapA = [...Array(a.rank).keys()].map((i) =>
        i < a.rank - 2 ? i : i === a.rank - 2 ? a.rank - 1 : a.rank - 2,
      );
      let dA: Tensor | undefined;
      let dB: Tensor | undefined;
      if (na) dA = sumTo(matMul(dY, transpose(b, swapB)), a.dims);
      if (nb) {
        if (b.rank === 2 && a.rank > 2 && typeof k === 'number' && typeof n === 'number') {
          // [.., K] rows flattened: dB = A^T dY as one [K, N] Gemm.
          dB = gemm(reshape(a, [-1, k]), reshape(dY, [-1, n]), undefined, { transA: true });
        } else dB = sumTo(matMul(transpose(a, swapA), dY), b.dims);
      }
      return [dA, dB];
    },
  })[0]!;
}

/** Options for {@link gemm}. */
export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  /** @default 1 */
  alpha?: number;
  /** @default 1 */
  beta?: number;
}

/** `alpha * op(A) @ op(B) + beta * C` for 2-D A and B; C broadcasts to `[M, N]`. */
export function gemm(a: Tensor, b: Tensor, c: Tensor | undefined, opts: GemmOptions = {}): Tensor {
  const g = graphOf('Gemm', a, b, c);
  const { transA = false, transB = false, alpha = 1, beta = 1 } = opts;
  if (a.dtype !== b.dtype || (c !== undefined && c.dtype !== a.dtype))
    throw new DTypeError('Gemm', `operand dtypes differ: ${a.dtype}, ${b.dtype}${c ? `, ${c.dtype}` : ''}`);
  if (a.rank !== 2 || b.rank !== 2)
    throw new ShapeError('Gemm', `A and B must be 2-D, got ${showShape(a.dims)} and ${showShape(b.dims)}`);
  const [m, k] = transA ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
  const [k2, n] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  if (!dimEq(k, k2))
    throw new ShapeError(
      'Gemm',
      `inner dims differ: ${showShape(a.dims)}${transA ? 'ᵀ' : ''} x ${showShape(b.dims)}${transB ? 'ᵀ' : ''}`,
    );
  if (c !== undefined) broadcastShapes('Gemm', [c.dims, [m, n]]);
  const attributes = {
    transA: { kind: 'int' as const, value: transA ? 1 : 0 },
    transB: { kind: 'int' as const, value: transB ? 1 : 0 },
    alpha: { kind: 'float' as const, value: alpha },
    beta: { kind: 'float' as const, value: beta },
  };
  return g.emit({
    opType: 'Gemm',
    inputs: c === undefined ? [a, b] : [a, b, c],
    outputs: [{ dtype: a.dtype, dims: [m, n] }],
    attributes,
    vjp: ([d], [na, nb, nc]) => {
      const dY = d!;
      let dA: Tensor | undefined;
      let dB: Tensor | undefined;
      if (na) {
        dA = transA
          ? gemm(b, dY, undefined, { transA: transB, transB: true, alpha })
          : gemm(dY, b, undefined, { transB: !transB, alpha });
      }
      if (nb) {
        dB = transB
          ? gemm(dY, a, undefined, { transA: true, transB: transA, alpha })
          : gemm(a, dY, undefined, { transA: !transA, alpha });
      }
      const dC = nc && c !== undefined ? sumTo(beta === 1 ? dY : mul(dY, beta), c.dims) : undefined;
      return [dA, dB, dC];
    },
  })[0]!;
}
