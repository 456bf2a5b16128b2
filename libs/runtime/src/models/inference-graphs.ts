/**
 * The policy's two inference graphs, with the input and output names of a Hugging Face optimum export
 * of a Marian model, so that our bundles load in transformers.js and optimum's Marian exports load in
 * our runtime (DESIGN.md, "Policy bundle"):
 *
 * - `encoder_model.onnx`: `input_ids [batch_size, encoder_sequence_length] i64`, `attention_mask` (same
 *   dims, 1 = token, 0 = padding) → `last_hidden_state [batch_size, encoder_sequence_length, D] f32`.
 * - `decoder_model_merged.onnx`: `encoder_attention_mask`, `input_ids [batch_size, decoder_sequence_length]`,
 *   `encoder_hidden_states`, per layer i `past_key_values.i.{decoder,encoder}.{key,value}
 *   [batch_size, H, *, K]`, `use_cache_branch [1] bool` → `logits [batch_size, decoder_sequence_length, V]
 *   f32` and `present.i.{decoder,encoder}.{key,value}`. The decoder's self-attention appends the new keys and
 *   values to the past ones (an empty past, length 0, on the first step), and the new tokens' positions
 *   start after the past. The cross-attention keys and values are computed from `encoder_hidden_states`
 *   when `use_cache_branch` is false and passed through from the past when it is true (an `If`).
 *
 * The decoder's `logits` are normalised: `LogSoftmax` over the vocabulary of the raw logits, i.e. each
 * position's log-probabilities (logsumexp 0). They differ from the raw logits by one constant per
 * position, so everything that only looks at differences between a position's logits decodes exactly
 * as before: argmax, softmax with or without temperature, top-k, top-p, beam search over
 * `log_softmax` (transformers.js' and optimum's loops, onnxruntime's BeamSearch op). A consumer that
 * reads the absolute values would not (Hugging Face's repetition penalty scales logits by their sign;
 * our `generation_config.json` does not ask for it). Our own decoding then needs no normaliser per row:
 * the bundle says so in `config.json` (`rest_logits_are_log_probs`, see bundle.ts), and bundles
 * without it (optimum exports: raw logits) are normalised in JavaScript as before. The normalisation
 * runs in onnxruntime's vectorised `LogSoftmax` kernel, far faster than a JavaScript pass over V.
 *
 * Consumers size the empty first-step past from the input metadata: every symbolic dim except
 * `batch_size` is read as 0 (transformers.js `resolveCacheShape`), so heads and head width are static.
 * Parameters are baked in as initializers; dropout is off.
 */
import { Graph, type Tensor } from '../graph/graph.js';
import { GraphError } from '../graph/errors.js';
import { add, mul } from '../ops/arithmetic.js';
import { matMul } from '../ops/matmul.js';
import { logSoftmax, softmax } from '../ops/softmax.js';
import { concat, reshape, transpose, unsqueeze } from '../ops/shape-ops.js';
import { greater, where } from '../ops/select.js';
import { ifThenElse } from '../ops/control.js';
import { scalar, shapeTensor } from '../ops/helpers.js';
import { ParamTable } from '../params/param-table.js';
import { transformerParams, type TransformerConfig } from './config.js';
import {
  embed,
  feedForward,
  heads,
  linear,
  MASKED,
  maskBias,
  norm,
  positionIds,
  sinusoidTable,
  type Params,
} from './layers.js';
import { gather, gatherElements } from '../ops/indexing.js';
import { encode, resolve, residual } from './transformer.js';

/** File names inside a bundle's `onnx/` folder. */
export const ENCODER_FILE = 'encoder_model.onnx';
export const DECODER_FILE = 'decoder_model_merged.onnx';

/** Names of the per-layer cache inputs and outputs, in optimum's order. */
export function cacheNames(layers: number, prefix: 'past_key_values' | 'present'): string[] {
  const names: string[] = [];
  for (let i = 0; i < layers; i++)
    for (const part of ['decoder', 'encoder'])
      for (const kv of ['key', 'value']) names.push(`${prefix}.${i}.${part}.${kv}`);
  return names;
}

/**
 * The parameters as graph constants, each made when the graph first reads it: the encoder file then
 * holds only the encoder's parameters (and the shared embeddings) and the decoder file only the
 * decoder's, instead of both files carrying every parameter for onnxruntime to drop at load.
 */
class LazyConstants extends Map<string, Tensor> {
  private readonly shapes: ReadonlyMap<string, readonly number[]>;
  private readonly views: ReadonlyMap<string, Float32Array>;

  constructor(
    private readonly g: Graph,
    c: TransformerConfig,
    params: Float32Array,
  ) {
    super();
    const table = new ParamTable(transformerParams(c));
    this.views = table.views(params);
    this.shapes = new Map(table.entries.map((e) => [e.name, e.shape]));
  }

  override get(name: string): Tensor | undefined {
    const shape = this.shapes.get(name);
    if (shape === undefined || super.has(name)) return super.get(name);
    const t = this.g.constant('f32', shape, this.views.get(name)!, name);
    this.set(name, t);
    return t;
  }

  override has(name: string): boolean {
    return this.shapes.has(name);
  }
}

function constants(g: Graph, c: TransformerConfig, params: Float32Array): Params {
  return new LazyConstants(g, c, params);
}

function inferenceConfig(c: TransformerConfig): TransformerConfig {
  return { ...c, dropout: 0 };
}

/** The encoder graph over fixed parameters (`params` in `transformerParams(c)` layout). */
export function encoderGraph(c: TransformerConfig, params: Float32Array): Graph {
  const ic = inferenceConfig(c);
  const g = new Graph('encoder');
  const p = constants(g, ic, params);
  const ids = g.input('input_ids', 'i64', ['batch_size', 'encoder_sequence_length']);
  const mask = g.input('attention_mask', 'i64', ['batch_size', 'encoder_sequence_length']);
  const { memory } = encode(ic, g, p, ids, mask);
  g.output(memory, 'last_hidden_state');
  return g;
}

/** `t` declared with `dims` (an Identity): ties symbolic dims that the builder cannot prove equal. */
function withDims(t: Tensor, dims: readonly (number | string)[]): Tensor {
  return t.graph.emit({
    opType: 'Identity',
    inputs: [t],
    outputs: [{ dtype: t.dtype, dims }],
    hint: 'declared',
    vjp: ([d]) => [d!],
  })[0]!;
}

/** Decoder length after this step: past plus new tokens. */
const TOTAL = 'total_decoder_sequence_length';

/** `scores → softmax → · v`, heads merged and projected: the attention core over given keys/values. */
function attend(p: Params, name: string, q: Tensor, k: Tensor, v: Tensor, bias: Tensor, d: number): Tensor {
  const kw = q.dims[3] as number;
  const scores = add(mul(matMul(q, transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(kw)), bias); // [B, H, T, P]
  const ctx = reshape(transpose(matMul(softmax(scores, -1), v), [0, 2, 1, 3]), [0, 0, d]); // [B, T, D]
  return linear(p, `${name}.o`, ctx);
}

/** Options of {@link decoderGraph}. */
export interface DecoderGraphOptions {
  /**
   * Emit the raw logits instead of their log-softmax, as optimum exports do. For tests and benches
   * that need a foreign-style decoder; bundles never use it. @default false
   */
  rawLogits?: boolean;
  /**
   * Build only the cached half of the merged decoder: no `encoder_hidden_states` or
   * `use_cache_branch` inputs, the cross-attention keys and values read straight from
   * `past_key_values.i.encoder.*`, and only the self-attention presents (`present.i.decoder.*`) as
   * outputs, for one new token per row (`input_ids [batch_size, 1]`, laid out as in
   * {@link decoderStepGraph}). Our runtime runs it for every step after the first (seq2seq.ts): the
   * merged graph's `If` copies the cross-attention cache through on each of those steps. Bundles
   * never hold it. Not with `rawLogits`.
   *
   * It also has a greedy head: `greedy_token [batch_size, 1] i64`, the first token of each row with
   * the highest log-prob that `bannedTokenIds` does not hold, and `greedy_logprob [batch_size, 1]
   * f32`, that log-prob. A greedy decode fetches these instead of the logits, which onnxruntime-node
   * copies into a new buffer at every step (bench/generate/README.md, `output-copies.ts`).
   * @default false
   */
  cachedOnly?: boolean;
  /** Tokens the greedy head never chooses (with `cachedOnly`). @default none */
  bannedTokenIds?: readonly number[];
}

/**
 * The merged (first step / cached steps) decoder graph over fixed parameters; its `logits` are
 * log-probabilities unless `opts.rawLogits` (module comment).
 */
export function decoderGraph(
  c: TransformerConfig,
  params: Float32Array,
  opts: DecoderGraphOptions = {},
): Graph {
  if (opts.cachedOnly === true) {
    if (opts.rawLogits === true) throw new GraphError('decoderGraph: cachedOnly has no rawLogits form');
    return cachedDecoderGraph(c, params, opts.bannedTokenIds ?? []);
  }
  const ic = inferenceConfig(c);
  const r = resolve(ic);
  const D = ic.dModel;
  const H = ic.heads;
  const K = D / H;
  const g = new Graph('decoder_merged');
  const p = constants(g, ic, params);
  const encMask = g.input('encoder_attention_mask', 'i64', ['batch_size', 'encoder_sequence_length']);
  const ids = g.input('input_ids', 'i64', ['batch_size', 'decoder_sequence_length']);
  const memory = g.input('encoder_hidden_states', 'f32', ['batch_size', 'encoder_sequence_length', D]);
  const past: Tensor[] = [];
  for (let i = 0; i < ic.decoderLayers; i++) {
    const dec = [`past_key_values.${i}.decoder.key`, `past_key_values.${i}.decoder.value`];
    const enc = [`past_key_values.${i}.encoder.key`, `past_key_values.${i}.encoder.value`];
    for (const n of dec) past.push(g.input(n, 'f32', ['batch_size', H, 'past_decoder_sequence_length', K]));
    for (const n of enc) past.push(g.input(n, 'f32', ['batch_size', H, 'encoder_sequence_length_out', K]));
  }
  const useCache = g.input('use_cache_branch', 'bool', [1]);

  const pastLen = g.emit({
    opType: 'Gather',
    inputs: [
      g.emit({ opType: 'Shape', inputs: [past[0]!], outputs: [{ dtype: 'i64', dims: [4] }] })[0]!,
      scalar(g, 'i64', 2),
    ],
    outputs: [{ dtype: 'i64', dims: [] }],
    attributes: { axis: { kind: 'int', value: 0 } },
    hint: 'past_length',
  })[0]!;
  // Self-attention bias [T, P+T]: query t (at position pastLen + t) sees keys at positions ≤ its own.
  const queryPos = positionIds(ids, pastLen); // [T]
  const keyPos = g.emit({
    opType: 'Range',
    inputs: [scalar(g, 'i64', 0), pastLen, scalar(g, 'i64', 1)],
    outputs: [{ dtype: 'i64', dims: ['?keys'] }],
    hint: 'key_positions',
  })[0]!;
  const keyPosAll = concat([keyPos, queryPos], 0); // [P+T]
  const selfBias = withDims(
    where(greater(unsqueeze(keyPosAll, [0]), unsqueeze(queryPos, [1])), MASKED, scalar(g, 'f32', 0)),
    ['decoder_sequence_length', TOTAL],
  ); // [T, P+T]
  const crossBias = maskBias(encMask, 'f32'); // [B, 1, 1, S]

  const table = p.get('embed')!;
  let x = embed(g, table, ids, ic.scaleEmbedding ?? true, ic.maxPositions ?? 512, pastLen); // [B, T, D]
  const present: Tensor[] = [];
  for (let i = 0; i < ic.decoderLayers; i++) {
    x = g.scope(`dec.${i}`, () => {
      const l = `dec.${i}`;
      const [pk, pv, pek, pev] = past.slice(4 * i, 4 * i + 4) as [Tensor, Tensor, Tensor, Tensor];
      const a = residual(r, p, `${l}.ln1`, x, (z) => {
        const q = heads(linear(p, `${l}.self_attn.q`, z), H, K);
        const cat = (past: Tensor, name: string): Tensor =>
          concat([past, heads(linear(p, name, z), H, K)], 2, TOTAL); // [B, H, TOTAL, K]
        const k = cat(pk, `${l}.self_attn.k`); // [B, H, P+T, K]
        const v = cat(pv, `${l}.self_attn.v`);
        present.push(k, v);
        return attend(p, `${l}.self_attn`, q, k, v, selfBias, D);
      });
      const [ek, ev] = ifThenElse(
        useCache,
        (b) => {
          // The cached branch passes the past through; its dims are declared like the other branch's.
          const out = (t: Tensor): Tensor =>
            b.graph.emit({
              opType: 'Identity',
              inputs: [b.capture(t)],
              outputs: [{ dtype: 'f32', dims: ['batch_size', H, 'encoder_sequence_length', K] }],
              hint: 'cached',
            })[0]!;
          return [out(pek), out(pev)];
        },
        (b) => {
          const m = b.capture(memory);
          return [
            heads(linear(p, `${l}.cross_attn.k`, m), H, K),
            heads(linear(p, `${l}.cross_attn.v`, m), H, K),
          ];
        },
      ) as [Tensor, Tensor];
      present.push(ek, ev);
      const bb = residual(r, p, `${l}.ln2`, a, (z) =>
        attend(p, `${l}.cross_attn`, heads(linear(p, `${l}.cross_attn.q`, z), H, K), ek, ev, crossBias, D),
      );
      return residual(r, p, `${l}.ln3`, bb, (z) => feedForward(p, `${l}.ffn`, z, r.act, 0));
    });
  }
  const hidden = r.pre ? norm(p, 'dec.ln', x, r.eps) : x; // [B, T, D]
  const logits = matMul(hidden, transpose(table, [1, 0])); // [B, T, V]
  g.output(opts.rawLogits === true ? logits : logSoftmax(logits, -1), 'logits');
  cacheNames(ic.decoderLayers, 'present').forEach((n, i) => g.output(present[i]!, n));
  return g;
}

/**
 * The row-wise decoder step (our own runtime's, not part of a bundle): one new token per row, each
 * row at its own position and with its own visible past, so that rows which started at different
 * times share one batch (continuous batching, policy/continuous.ts).
 *
 * - `input_ids [batch_size, 1] i64`, `position_ids [batch_size] i64` (the new token's position);
 * - `self_attention_mask [batch_size, total] i64`: which of the past keys and the new one (last
 *   column) each row sees, 1 = visible (total = past length + 1);
 * - `encoder_attention_mask [batch_size, encoder_sequence_length] i64`;
 * - per layer i `past.i.key`, `past.i.value [batch_size, H, past, K]` (self-attention) and
 *   `cross.i.key`, `cross.i.value [batch_size, H, encoder_sequence_length, K]` (the cross-attention
 *   keys and values the merged decoder's first step computes)
 * → `logits [batch_size, 1, V]` (log-probabilities, as the merged decoder's) and `present.i.key`,
 * `present.i.value [batch_size, H, total, K]`.
 *
 * Masked keys get the same additive bias as everywhere else, so a row's log-probs equal the merged
 * decoder's for the same history up to float rounding.
 */
export function decoderStepGraph(c: TransformerConfig, params: Float32Array): Graph {
  const ic = inferenceConfig(c);
  const H = ic.heads;
  const K = ic.dModel / H;
  const g = new Graph('decoder_step');
  const p = constants(g, ic, params);
  const ids = g.input('input_ids', 'i64', ['batch_size', 1]);
  const pos = g.input('position_ids', 'i64', ['batch_size']);
  const selfMask = g.input('self_attention_mask', 'i64', ['batch_size', TOTAL]);
  const encMask = g.input('encoder_attention_mask', 'i64', ['batch_size', 'encoder_sequence_length']);
  const layers: LayerCaches[] = [];
  for (let i = 0; i < ic.decoderLayers; i++)
    layers.push({
      selfKey: g.input(`past.${i}.key`, 'f32', ['batch_size', H, 'past_length', K]),
      selfValue: g.input(`past.${i}.value`, 'f32', ['batch_size', H, 'past_length', K]),
      crossKey: g.input(`cross.${i}.key`, 'f32', ['batch_size', H, 'encoder_sequence_length', K]),
      crossValue: g.input(`cross.${i}.value`, 'f32', ['batch_size', H, 'encoder_sequence_length', K]),
    });
  const { logProbs, present } = tokenDecoder(
    g,
    ic,
    p,
    ids,
    pos,
    layers,
    maskBias(selfMask, 'f32'),
    maskBias(encMask, 'f32'),
    false,
  );
  g.output(reshape(logProbs, [-1, 1, ic.vocabSize]), 'logits');
  for (let i = 0; i < ic.decoderLayers; i++) {
    g.output(present[2 * i]!, `present.${i}.key`);
    g.output(present[2 * i + 1]!, `present.${i}.value`);
  }
  return g;
}

/**
 * The cached half of the merged decoder for one new token per row (`decoderGraph(…, { cachedOnly:
 * true })`): the merged decoder's inputs less `encoder_hidden_states` and `use_cache_branch`, with
 * `input_ids [batch_size, 1]`, the cross-attention keys and values read straight from
 * `past_key_values.i.encoder.*`; outputs `logits [batch_size, 1, V]` (log-probabilities) and the
 * self-attention presents `present.i.decoder.*`. Every row is at the same position, the past's length.
 */
function cachedDecoderGraph(
  c: TransformerConfig,
  params: Float32Array,
  bannedTokenIds: readonly number[],
): Graph {
  const ic = inferenceConfig(c);
  const H = ic.heads;
  const K = ic.dModel / H;
  const g = new Graph('decoder_cached');
  const p = constants(g, ic, params);
  const encMask = g.input('encoder_attention_mask', 'i64', ['batch_size', 'encoder_sequence_length']);
  const ids = g.input('input_ids', 'i64', ['batch_size', 1]);
  const layers: LayerCaches[] = [];
  for (let i = 0; i < ic.decoderLayers; i++) {
    // The self-attention past is time-major; the cross-attention keys and values are the first step's.
    const [sk, sv, ck, cv] = ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'].map((part) =>
      g.input(
        `past_key_values.${i}.${part}`,
        'f32',
        part.startsWith('decoder')
          ? ['past_decoder_sequence_length', 'batch_size', H, K]
          : ['batch_size', H, 'encoder_sequence_length', K],
      ),
    ) as [Tensor, Tensor, Tensor, Tensor];
    layers.push({ selfKey: sk, selfValue: sv, crossKey: ck, crossValue: cv });
  }
  const pastLen = g.emit({
    opType: 'Gather',
    inputs: [shapeTensor(layers[0]!.selfKey), scalar(g, 'i64', 0)],
    outputs: [{ dtype: 'i64', dims: [] }],
    attributes: { axis: { kind: 'int', value: 0 } },
    hint: 'past_length',
  })[0]!;
  // Every key is visible: the rows started together, so no self-attention bias.
  const { logProbs, present } = tokenDecoder(
    g,
    ic,
    p,
    ids,
    pastLen,
    layers,
    undefined,
    maskBias(encMask, 'f32'),
    true,
  );
  const V = ic.vocabSize;
  g.output(reshape(logProbs, [-1, 1, V]), 'logits');
  // The greedy head: banned tokens lose every comparison (−∞ added), ties go to the first index,
  // and the log-prob is read from the unbiased row, as RowChooser.greedy does in JavaScript.
  const banned = new Float32Array(V);
  for (const t of bannedTokenIds) if (Number.isInteger(t) && t >= 0 && t < V) banned[t] = -Infinity;
  const scored =
    bannedTokenIds.length === 0 ? logProbs : add(logProbs, g.constant('f32', [V], banned, 'banned'));
  const token = g.emit({
    opType: 'ArgMax',
    inputs: [scored],
    outputs: [{ dtype: 'i64', dims: [logProbs.dims[0]!, 1] }],
    attributes: {
      axis: { kind: 'int', value: 1 },
      keepdims: { kind: 'int', value: 1 },
      select_last_index: { kind: 'int', value: 0 },
    },
    hint: 'argmax',
  })[0]!;
  g.output(token, 'greedy_token');
  g.output(gatherElements(logProbs, token, 1), 'greedy_logprob');
  for (let i = 0; i < ic.decoderLayers; i++) {
    g.output(present[2 * i]!, `step.${i}.decoder.key`);
    g.output(present[2 * i + 1]!, `step.${i}.decoder.value`);
  }
  return g;
}

/** One decoder layer's caches, `[B, H, *, K]`: the self-attention past and the cross-attention keys/values. */
interface LayerCaches {
  selfKey: Tensor;
  selfValue: Tensor;
  crossKey: Tensor;
  crossValue: Tensor;
}

/**
 * The decoder for one new token per row (`ids [B, 1]` at positions `pos`: `[B]`, or one scalar for
 * every row), written over a `[B, D]` stream without the time axis: every projection is one 2-D Gemm,
 * and splitting or merging heads is one Reshape (`[B, D]` and `[B, H, 1, K]` share a layout). That is
 * about half the nodes of the general graph (a Reshape, a Shape and a Concat around each projection,
 * a Transpose at each head split and merge), and on a step of a few dozen rows onnxruntime's cost per
 * node is a large part of the step. Returns the log-probabilities `[B, V]` and the presents, key
 * then value per layer.
 */
function tokenDecoder(
  g: Graph,
  ic: TransformerConfig,
  p: Params,
  ids: Tensor,
  pos: Tensor,
  layers: readonly LayerCaches[],
  selfBias: Tensor | undefined,
  crossBias: Tensor,
  timeMajor: boolean,
): { logProbs: Tensor; present: Tensor[] } {
  const r = resolve(ic);
  const D = ic.dModel;
  const H = ic.heads;
  const K = D / H;
  const maxPositions = ic.maxPositions ?? 512;
  const sinusoids = g.constant(
    'f32',
    [maxPositions, D],
    Float32Array.from(sinusoidTable(maxPositions, D)),
    'sinusoids',
  );
  const table = p.get('embed')!;
  const tok = gather(table, reshape(ids, [-1])); // [B, D]
  let x = add((ic.scaleEmbedding ?? true) ? mul(tok, Math.sqrt(D)) : tok, gather(sinusoids, pos)); // [B, D]
  const split = (t: Tensor): Tensor => reshape(t, [-1, H, 1, K]); // [B, D] → [B, H, 1, K]
  /** `q [B, H, 1, K]` over keys `kT [B, H, K, L]` and values `v [B, H, L, K]` → `[B, D]`. */
  const attend = (name: string, q: Tensor, kT: Tensor, v: Tensor, bias: Tensor | undefined): Tensor => {
    const scores = mul(matMul(q, kT), 1 / Math.sqrt(K)); // [B, H, 1, L]
    const probs = softmax(bias === undefined ? scores : add(scores, bias), -1);
    return linear(p, `${name}.o`, reshape(matMul(probs, v), [-1, D])); // [B, D]
  };
  const keysT = (k: Tensor): Tensor => transpose(k, [0, 1, 3, 2]); // [B, H, L, K] → [B, H, K, L]
  const present: Tensor[] = [];
  layers.forEach((caches, i) => {
    x = g.scope(`dec.${i}`, () => {
      const l = `dec.${i}`;
      const a = residual(r, p, `${l}.ln1`, x, (z) => {
        const q = split(linear(p, `${l}.self_attn.q`, z));
        if (timeMajor) {
          // This step's keys and values [1, B, H, K] are the outputs; the caller appends them.
          const [k1, v1] = ['k', 'v'].map((w) =>
            reshape(linear(p, `${l}.self_attn.${w}`, z), [1, -1, H, K]),
          ) as [Tensor, Tensor];
          present.push(k1, v1);
          const k = concat([caches.selfKey, k1], 0, TOTAL); // [TOTAL, B, H, K]
          const v = concat([caches.selfValue, v1], 0, TOTAL);
          return attend(
            `${l}.self_attn`,
            q,
            transpose(k, [1, 2, 3, 0]),
            transpose(v, [1, 2, 0, 3]),
            selfBias,
          );
        }
        const cat = (past: Tensor, name: string): Tensor =>
          concat([past, split(linear(p, name, z))], 2, TOTAL); // [B, H, TOTAL, K]
        const k = cat(caches.selfKey, `${l}.self_attn.k`);
        const v = cat(caches.selfValue, `${l}.self_attn.v`);
        present.push(k, v);
        return attend(`${l}.self_attn`, q, keysT(k), v, selfBias);
      });
      const b = residual(r, p, `${l}.ln2`, a, (z) =>
        attend(
          `${l}.cross_attn`,
          split(linear(p, `${l}.cross_attn.q`, z)),
          keysT(caches.crossKey),
          caches.crossValue,
          crossBias,
        ),
      );
      return residual(r, p, `${l}.ln3`, b, (z) => feedForward(p, `${l}.ffn`, z, r.act, 0));
    });
  });
  const hidden = r.pre ? norm(p, 'dec.ln', x, r.eps) : x; // [B, D]
  return { logProbs: logSoftmax(matMul(hidden, transpose(table, [1, 0])), -1), present }; // [B, V]
}

/**
 * The cross-attention caches of encoder outputs (our own runtime's, with {@link decoderStepGraph}):
 * `encoder_hidden_states [batch_size, encoder_sequence_length, D] f32` → per layer i `cross.i.key`,
 * `cross.i.value [batch_size, H, encoder_sequence_length, K]`, what the merged decoder's first step
 * computes from them.
 */
export function crossCacheGraph(c: TransformerConfig, params: Float32Array): Graph {
  const ic = inferenceConfig(c);
  const H = ic.heads;
  const K = ic.dModel / H;
  const g = new Graph('cross_cache');
  const p = constants(g, ic, params);
  const memory = g.input('encoder_hidden_states', 'f32', [
    'batch_size',
    'encoder_sequence_length',
    ic.dModel,
  ]);
  for (let i = 0; i < ic.decoderLayers; i++) {
    g.output(heads(linear(p, `dec.${i}.cross_attn.k`, memory), H, K), `cross.${i}.key`);
    g.output(heads(linear(p, `dec.${i}.cross_attn.v`, memory), H, K), `cross.${i}.value`);
  }
  return g;
}
