/**
 * The encoder–decoder Transformer (Vaswani et al. 2017) as graph-building functions over a parameter
 * map from `transformerParams`, and its label-smoothed cross-entropy training forward. Embeddings are
 * shared by encoder, decoder and the output projection. Dimension letters: see config.ts.
 *
 * Batch inputs of the training forward: `src [B, S] i64`, `tgt_in [B, T] i64` (decoder input, shifted
 * right), `tgt_out [B, T] i64` (labels; `padId` positions are ignored).
 */
import type { Graph, Tensor } from '../graph/graph.js';
import { add, div, mul, neg, sub } from '../ops/arithmetic.js';
import { exp } from '../ops/activations.js';
import { showShape, unknownDim } from '../graph/dims.js';
import { ShapeError } from '../graph/errors.js';
import { gemm } from '../ops/matmul.js';
import { logSoftmax } from '../ops/softmax.js';
import { gather, gatherElements } from '../ops/indexing.js';
import { reduceMean, reduceSum } from '../ops/reduce.js';
import { reshape, cast } from '../ops/shape-ops.js';
import { equal, not } from '../ops/select.js';
import { dropout } from '../ops/random.js';
import { scalar } from '../ops/helpers.js';
import { checkConfig, type TransformerConfig } from './config.js';
import {
  causalBias,
  embed,
  feedForward,
  maskBias,
  multiHeadAttention,
  norm,
  paddingBias,
  type Params,
} from './layers.js';

/** A config with its defaults applied. */
export interface Resolved {
  h: number;
  drop: number;
  pre: boolean;
  act: 'relu' | 'gelu';
  eps: number;
}

/** Applies the config's defaults (and checks it). */
export function resolve(c: TransformerConfig): Resolved {
  checkConfig(c);
  return {
    h: c.heads,
    drop: c.dropout ?? 0,
    pre: c.preNorm ?? true,
    act: c.activation ?? 'relu',
    eps: c.lnEps ?? 1e-5,
  };
}

/** A residual sub-layer, pre- or post-LN: `x + f(ln(x))` or `ln(x + f(x))`. */
export function residual(
  r: Resolved,
  p: Params,
  lnName: string,
  x: Tensor,
  f: (y: Tensor) => Tensor,
): Tensor {
  if (r.pre) return add(x, dropout(f(norm(p, lnName, x, r.eps)), r.drop));
  return norm(p, lnName, add(x, dropout(f(x), r.drop)), r.eps);
}

/**
 * Encodes `src [B, S] i64` → `[B, S, D]`; also returns the key-padding bias `[B, 1, 1, S]`, taken from
 * `mask [B, S] i64` (0 = padding) when given, else from the pad id in `src`.
 */
export function encode(
  c: TransformerConfig,
  g: Graph,
  p: Params,
  src: Tensor,
  mask?: Tensor,
): { memory: Tensor; srcBias: Tensor } {
  const r = resolve(c);
  const table = p.get('embed')!;
  const dtype = table.dtype as 'f32' | 'f64';
  const srcBias = mask === undefined ? paddingBias(src, c.padId ?? 0, dtype) : maskBias(mask, dtype);
  let x = dropout(embed(g, table, src, c.scaleEmbedding ?? true, c.maxPositions ?? 512), r.drop); // [B, S, D]
  for (let i = 0; i < c.encoderLayers; i++) {
    x = g.scope(`enc.${i}`, () => {
      const l = `enc.${i}`;
      const y = residual(r, p, `${l}.ln1`, x, (z) =>
        multiHeadAttention(p, `${l}.self_attn`, z, z, srcBias, r.h, r.drop),
      );
      return residual(r, p, `${l}.ln2`, y, (z) => feedForward(p, `${l}.ffn`, z, r.act, r.drop));
    });
  }
  return { memory: r.pre ? norm(p, 'enc.ln', x, r.eps) : x, srcBias };
}

/** Decodes `tgtIn [B, T] i64` against `memory [B, S, D]` → hidden states `[B, T, D]`. */
export function decode(
  c: TransformerConfig,
  g: Graph,
  p: Params,
  tgtIn: Tensor,
  memory: Tensor,
  srcBias: Tensor,
): Tensor {
  const r = resolve(c);
  const table = p.get('embed')!;
  const selfBias = causalBias(tgtIn, table.dtype as 'f32' | 'f64'); // [T, T]
  let x = dropout(embed(g, table, tgtIn, c.scaleEmbedding ?? true, c.maxPositions ?? 512), r.drop); // [B, T, D]
  for (let i = 0; i < c.decoderLayers; i++) {
    x = g.scope(`dec.${i}`, () => {
      const l = `dec.${i}`;
      const a = residual(r, p, `${l}.ln1`, x, (z) =>
        multiHeadAttention(p, `${l}.self_attn`, z, z, selfBias, r.h, r.drop),
      );
      const b = residual(r, p, `${l}.ln2`, a, (z) =>
        multiHeadAttention(p, `${l}.cross_attn`, z, memory, srcBias, r.h, r.drop),
      );
      return residual(r, p, `${l}.ln3`, b, (z) => feedForward(p, `${l}.ffn`, z, r.act, r.drop));
    });
  }
  return r.pre ? norm(p, 'dec.ln', x, r.eps) : x;
}

/** Output logits over the tied embedding: `hidden [B, T, D]` → `[N, V]` (rows flattened). */
export function logits(p: Params, hidden: Tensor): Tensor {
  const table = p.get('embed')!; // [V, D]
  return gemm(reshape(hidden, [-1, table.dims[1] as number]), table, undefined, { transB: true });
}

/**
 * Label-smoothed cross-entropy, mean over non-pad tokens: per token `(1-ε)·(-log p[y]) + ε·mean_v(-log p[v])`
 * (torch.nn.CrossEntropyLoss with label_smoothing=ε, ignore_index=pad). `logits [N, V]` (V static),
 * `labels [B, T] i64` in [0, V). Returns the loss, the plain NLL (mean) and the token count. Throws
 * ShapeError for a symbolic V.
 *
 * The loss node carries the whole loss's gradient rule, `dLogits = w·(softmax − (1−ε)·onehot(y) − ε/V)`
 * with `w = mask/tokens` per row: the forward's nodes are not differentiated one by one, which would
 * materialise several `[N, V]` gradients (LogSoftmax's, ReduceMean's, the one-hot scatter into zeros)
 * and add them up.
 */
export function labelSmoothedCrossEntropy(
  logitsNV: Tensor,
  labels: Tensor,
  eps: number,
  padId: number,
): { loss: Tensor; nll: Tensor; tokens: Tensor } {
  const g = logitsNV.graph;
  const dtype = logitsNV.dtype;
  const V = logitsNV.dims[1];
  if (logitsNV.rank !== 2 || typeof V !== 'number')
    throw new ShapeError(
      'LabelSmoothedCrossEntropy',
      `logits must be [N, V] with a static V, got ${showShape(logitsNV.dims)}`,
    );
  const y = reshape(labels, [-1, 1]); // [N, 1] i64
  const logp = logSoftmax(logitsNV, -1); // [N, V]
  const nll = neg(gatherElements(logp, y, 1)); // [N, 1]
  const smooth = neg(reduceMean(logp, [1], true)); // [N, 1]
  const perToken = eps === 0 ? nll : add(mul(nll, 1 - eps), mul(smooth, eps)); // [N, 1]
  const mask = cast(not(equal(y, scalar(g, 'i64', padId))), dtype); // [N, 1]
  const tokens = reduceSum(mask, [0, 1]); // []
  const total = reduceSum(mul(perToken, mask), [0, 1]); // []
  const loss = g.emit({
    opType: 'Div',
    inputs: [total, tokens],
    outputs: [{ dtype, dims: [] }],
    hint: 'ce_loss',
    diffInputs: [logitsNV],
    vjp: ([d]) => {
      const w = mul(div(mask, tokens), d!); // [N, 1]
      const p = exp(logp); // [N, V]
      const spread = mul(eps === 0 ? p : sub(p, eps / V), w); // [N, V]
      const dLogits = g.emit({
        opType: 'ScatterElements',
        inputs: [spread, y, mul(w, -(1 - eps))],
        outputs: [{ dtype, dims: logitsNV.dims }],
        attributes: { axis: { kind: 'int', value: 1 }, reduction: { kind: 'string', value: 'add' } },
        hint: 'd_logits',
      })[0]!;
      return [dLogits];
    },
  })[0]!;
  return { loss, nll: div(reduceSum(mul(nll, mask), [0, 1]), tokens), tokens };
}

/** Batch tensors of the training forward. */
export interface TransformerBatch {
  /** [B, S] i64 */
  src: Tensor;
  /** [B, T] i64 */
  tgtIn: Tensor;
  /** [B, T] i64 */
  tgtOut: Tensor;
}

/** Indices `[M] i64` of the entries of `labels [N] i64` that are not `padId` (M known only at run time). */
function nonPadRows(labels: Tensor, padId: number): Tensor {
  const g = labels.graph;
  const real = not(equal(labels, scalar(g, 'i64', padId))); // [N] bool
  const at = g.emit({
    opType: 'NonZero',
    inputs: [real],
    outputs: [{ dtype: 'i64', dims: [1, unknownDim()] }],
    hint: 'non_pad',
  })[0]!;
  return reshape(at, [-1]);
}

/** Loss and metrics of the model on a batch. */
export function transformerLoss(
  c: TransformerConfig,
  g: Graph,
  p: Params,
  b: TransformerBatch,
): { loss: Tensor; metrics: Record<string, Tensor> } {
  const { memory, srcBias } = encode(c, g, p, b.src);
  const hidden = decode(c, g, p, b.tgtIn, memory, srcBias); // [B, T, D]
  // Only the M non-pad target rows go through the output projection and the loss (pad rows would be
  // masked out of the loss anyway): that projection and its two gradient products are the largest
  // matrix products of the step, and ~10% of a typical batch is padding.
  const padId = c.padId ?? 0;
  const labels = reshape(b.tgtOut, [-1]); // [N] i64
  const keep = nonPadRows(labels, padId); // [M] i64
  const rows = gather(reshape(hidden, [-1, c.dModel]), keep); // [M, D]
  const { loss, nll, tokens } = labelSmoothedCrossEntropy(
    logits(p, rows),
    gather(labels, keep),
    c.labelSmoothing ?? 0.1,
    padId,
  );
  return { loss, metrics: { nll, tokens } };
}

/** The training forward for {@link buildTrainStep}: declares `src`, `tgt_in`, `tgt_out`. */
export function transformerTrainingForward(
  c: TransformerConfig,
): (g: Graph, p: Params) => { loss: Tensor; metrics: Record<string, Tensor> } {
  return (g, p) =>
    transformerLoss(c, g, p, {
      src: g.input('src', 'i64', ['B', 'S']),
      tgtIn: g.input('tgt_in', 'i64', ['B', 'T']),
      tgtOut: g.input('tgt_out', 'i64', ['B', 'T']),
    });
}
