/**
 * Transformer layers over graph tensors (dimension letters in config.ts): linear maps, multi-head
 * attention with an additive mask, the feed-forward block, sinusoidal positions and masks.
 */
import type { Graph, Tensor } from '../graph/graph.js';
import { add, mul } from '../ops/arithmetic.js';
import { gelu, relu } from '../ops/activations.js';
import { gemm, matMul } from '../ops/matmul.js';
import { softmax } from '../ops/softmax.js';
import { dropout } from '../ops/random.js';
import { layerNorm } from '../ops/normalization.js';
import { reshape, reshapeLike, transpose, unsqueeze } from '../ops/shape-ops.js';
import { greater, where, equal } from '../ops/select.js';
import { gather } from '../ops/indexing.js';
import { int64s, scalar, shapeTensor } from '../ops/helpers.js';
import { isStatic } from '../graph/dims.js';

/** Parameter lookup by name (throws through Map.get misuse only in model code). */
export type Params = ReadonlyMap<string, Tensor>;

/** Large negative bias that removes a key from attention. */
export const MASKED = -1e9;

/**
 * `x @ W + b` for `x: [.., In]`, `W: [In, Out]` (static). The rows are flattened into one Gemm with the
 * bias as its C operand, which adds the bias inside the product instead of in a separate pass over the
 * `[.., Out]` result (onnxruntime fuses MatMul + Add into Gemm only for 2-D operands).
 */
export function linear(p: Params, name: string, x: Tensor): Tensor {
  const w = p.get(`${name}.w`)!; // [In, Out]
  const b = p.get(`${name}.b`)!; // [Out]
  const [inDim, outDim] = w.dims;
  if (x.rank === 2 || typeof inDim !== 'number' || typeof outDim !== 'number') return add(matMul(x, w), b);
  const y = gemm(reshape(x, [-1, inDim]), w, b); // [N, Out]
  const g = x.graph;
  const lead = x.dims.slice(0, -1);
  const target = isStatic(lead)
    ? int64s(g, [...lead, outDim])
    : g.emit({
        opType: 'Concat',
        inputs: [
          g.emit({
            opType: 'Shape',
            inputs: [x],
            outputs: [{ dtype: 'i64', dims: [x.rank - 1] }],
            attributes: { end: { kind: 'int', value: -1 } },
            hint: 'lead_shape',
          })[0]!,
          int64s(g, [outDim]),
        ],
        outputs: [{ dtype: 'i64', dims: [x.rank] }],
        attributes: { axis: { kind: 'int', value: 0 } },
        hint: 'out_shape',
      })[0]!;
  return g.emit({
    opType: 'Reshape',
    inputs: [y, target],
    outputs: [{ dtype: y.dtype, dims: [...lead, outDim] }],
    vjp: ([d]) => [reshapeLike(d!, y)],
  })[0]!;
}

/** LayerNorm with `<name>.g`, `<name>.b`. */
export function norm(p: Params, name: string, x: Tensor, eps: number): Tensor {
  return layerNorm(x, p.get(`${name}.g`)!, p.get(`${name}.b`)!, eps);
}

/** Splits heads: `[B, L, D]` → `[B, H, L, K]`. */
export function heads(x: Tensor, h: number, k: number): Tensor {
  return transpose(reshape(x, [0, 0, h, k]), [0, 2, 1, 3]);
}

/**
 * Multi-head attention. `x: [B, T, D]` queries, `mem: [B, S, D]` keys/values (x itself for self
 * attention), `bias` additive, broadcastable to `[B, H, T, S]`. Returns `[B, T, D]`.
 */
export function multiHeadAttention(
  p: Params,
  name: string,
  x: Tensor,
  mem: Tensor,
  bias: Tensor | undefined,
  h: number,
  drop: number,
): Tensor {
  const d = x.dims[x.rank - 1] as number;
  const k = d / h;
  const q = heads(linear(p, `${name}.q`, x), h, k); // [B, H, T, K]
  const kk = heads(linear(p, `${name}.k`, mem), h, k); // [B, H, S, K]
  const v = heads(linear(p, `${name}.v`, mem), h, k); // [B, H, S, K]
  let scores = mul(matMul(q, transpose(kk, [0, 1, 3, 2])), 1 / Math.sqrt(k)); // [B, H, T, S]
  if (bias !== undefined) scores = add(scores, bias);
  const probs = dropout(softmax(scores, -1), drop); // [B, H, T, S]
  const ctx = reshape(transpose(matMul(probs, v), [0, 2, 1, 3]), [0, 0, d]); // [B, T, D]
  return linear(p, `${name}.o`, ctx);
}

/** Position-wise feed-forward: `fc2(act(fc1(x)))`, `[.., D]` → `[.., D]`. */
export function feedForward(p: Params, name: string, x: Tensor, act: 'relu' | 'gelu', drop: number): Tensor {
  const hidden = linear(p, `${name}.fc1`, x); // [.., F]
  return linear(p, `${name}.fc2`, dropout(act === 'gelu' ? gelu(hidden) : relu(hidden), drop));
}

/** The sinusoidal position table `[P, D]` (Vaswani et al. 2017; sin on even, cos on odd columns). */
export function sinusoidTable(positions: number, d: number): Float64Array {
  const out = new Float64Array(positions * d);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; i < d; i += 2) {
      const angle = pos / 10000 ** (i / d);
      out[pos * d + i] = Math.sin(angle);
      if (i + 1 < d) out[pos * d + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

/** `[L] i64` = start..start+L-1 where L is axis 1 of `ids: [B, L]` (`start`: an i64 scalar, default 0). */
export function positionIds(ids: Tensor, start?: Tensor): Tensor {
  const g = ids.graph;
  const len = g.emit({
    opType: 'Gather',
    inputs: [shapeTensor(ids), scalar(g, 'i64', 1)],
    outputs: [{ dtype: 'i64', dims: [] }],
    attributes: { axis: { kind: 'int', value: 0 } },
  })[0]!;
  const from = start ?? scalar(g, 'i64', 0);
  return g.emit({
    opType: 'Range',
    inputs: [from, start === undefined ? len : add(from, len), scalar(g, 'i64', 1)],
    outputs: [{ dtype: 'i64', dims: [ids.dims[1]!] }],
    hint: 'positions',
  })[0]!;
}

/**
 * Token embeddings (scaled) plus sinusoidal positions: `ids [B, L] i64` → `[B, L, D]`. `start` (an i64
 * scalar) offsets the positions, for decoding steps after a cached prefix.
 */
export function embed(
  g: Graph,
  table: Tensor,
  ids: Tensor,
  scale: boolean,
  maxPositions: number,
  start?: Tensor,
): Tensor {
  const d = table.dims[1] as number;
  const data = sinusoidTable(maxPositions, d);
  const pos = g.constant(
    table.dtype,
    [maxPositions, d],
    table.dtype === 'f64' ? data : Float32Array.from(data),
    'sinusoids',
  );
  const tok = gather(table, ids); // [B, L, D]
  return add(scale ? mul(tok, Math.sqrt(d)) : tok, gather(pos, positionIds(ids, start))); // [B, L, D]
}

/** Additive key-padding bias `[B, 1, 1, S]` from an attention mask `[B, S] i64` (0 = padding). */
export function maskBias(mask: Tensor, dtype: 'f32' | 'f64'): Tensor {
  const pad = equal(mask, scalar(mask.graph, 'i64', 0)); // [B, S] bool
  return unsqueeze(where(pad, MASKED, scalar(mask.graph, dtype, 0)), [1, 2]);
}

/** Additive key-padding bias `[B, 1, 1, S]` from `ids [B, S]`. */
export function paddingBias(ids: Tensor, padId: number, dtype: 'f32' | 'f64'): Tensor {
  const pad = equal(ids, scalar(ids.graph, 'i64', padId)); // [B, S] bool
  return unsqueeze(where(pad, MASKED, scalar(ids.graph, dtype, 0)), [1, 2]);
}

/** Additive causal bias `[T, T]`: position t may attend to positions ≤ t. */
export function causalBias(ids: Tensor, dtype: 'f32' | 'f64'): Tensor {
  const pos = positionIds(ids); // [T]
  const future = greater(unsqueeze(pos, [0]), unsqueeze(pos, [1])); // [T, T]: key > query
  return where(future, MASKED, scalar(ids.graph, dtype, 0));
}
