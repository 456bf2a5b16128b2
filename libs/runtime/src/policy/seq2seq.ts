/**
 * A loaded encoder–decoder: the two sessions of a bundle (or of graphs built in memory from parameters)
 * and the decoding primitives every strategy uses — encode a batch, run one cached decoder step, keep or
 * reorder rows of the cache. Rows are independent sequences; the cache holds, per layer, the decoder's
 * self-attention keys/values (`[rows, H, L, K]` from the merged decoder, `[L, rows, H, K]` once the
 * cached decoder runs: {@link DecoderState.timeMajor}) and the cross-attention keys/values
 * `[rows, H, S, K]`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Session,
  hostTensor,
  type HostTensor,
  type SessionOptions,
  type ValueSpec,
} from '../session/session.js';
import { cacheNames, decoderGraph, encoderGraph } from '../models/inference-graphs.js';
import type { Graph } from '../graph/graph.js';
import { transformerParams, type TransformerConfig } from '../models/config.js';
import { ParamTable } from '../params/param-table.js';
import { loadCheckpoint } from '../checkpoint/safetensors.js';
import { lengthGroups } from './length-groups.js';
import {
  BUNDLE_FILES,
  BundleError,
  readBundleManifest,
  type BundleManifest,
  type GenerationDefaults,
} from './bundle.js';

/**
 * The decoder-side state of a batch of rows. A state is used linearly: `step` and a consuming `select`
 * reuse its buffers, so views taken from it (logits, past tensors) hold only until its next step.
 */
export interface DecoderState {
  rows: number;
  /**
   * `[rows, S, D] f32` encoder outputs. Only the first step reads them (it turns them into the
   * cross-attention cache); a state selected after it carries a zero placeholder of the same dims.
   */
  hidden: HostTensor<'f32'>;
  /** `[rows, S] i64` encoder mask, 1 = token. */
  mask: HostTensor<'i64'>;
  /** Cache by input name (`past_key_values.i.…`); empty (length 0) before the first step. */
  past: Record<string, HostTensor<'f32'>>;
  /** Decoder tokens consumed so far (the cache length). */
  length: number;
  /**
   * Whether the self-attention caches (`past_key_values.i.decoder.*`) are time-major, `[length,
   * rows, H, K]`, the cached decoder's layout: each step appends one `[rows, H, K]` slice in place,
   * so onnxruntime-node need not copy the whole cache out at every step. Otherwise `[rows, H,
   * length, K]`, the merged decoder's. @default false
   */
  timeMajor?: boolean;
  /** Output buffers reused from step to step; made by the first step. */
  buffers?: StepBuffers;
}

/**
 * Buffers a state's steps write into instead of letting onnxruntime allocate every output: the logits,
 * and per cache name two buffers, one holding the current past and the other receiving the next present
 * (or a selection's rows); a time-major past grows in place in its buffer. One that is too small is
 * replaced by one at least twice its size.
 */
export interface StepBuffers {
  /** [capacity] f32 */
  logits: Float32Array;
  /** By cache input name. */
  cache: Map<string, [Float32Array, Float32Array]>;
  /** [capacity] i64, two: the current mask and the next selection's. */
  mask: [BigInt64Array, BigInt64Array];
}

/** `a` if it has room for `n` elements, else a new array of max(n, 2 · |a|) (few regrowths as caches grow). */
function ensure<A extends Float32Array | BigInt64Array>(a: A, n: number, make: (n: number) => A): A {
  return a.length >= n ? a : make(Math.max(n, 2 * a.length));
}

/** Bytes held by a state's buffers. */
function bytesOf(b: StepBuffers): number {
  let n = b.logits.byteLength + b.mask[0].byteLength + b.mask[1].byteLength;
  for (const [x, y] of b.cache.values()) n += x.byteLength + y.byteLength;
  return n;
}

/** Which of a pair of buffers does not back `data`. */
function freeOf<A extends Float32Array | BigInt64Array>(pair: [A, A], data: A): 0 | 1 {
  return pair[0].buffer === data.buffer ? 1 : 0;
}

/** Copies rows `pick` of `src` (first axis rows, `per` elements each) into `dst` from row 0. */
function copyRows<A extends Float32Array | BigInt64Array>(
  src: A,
  dst: A,
  per: number,
  pick: readonly number[],
): void {
  for (let i = 0; i < pick.length; i++) {
    const r = pick[i]!;
    (dst as Float32Array).set((src as Float32Array).subarray(r * per, (r + 1) * per), i * per);
  }
}

function expectIo(
  file: string,
  specs: readonly ValueSpec[],
  name: string,
  dtype: string,
  dims?: (number | null)[],
): void {
  const s = specs.find((v) => v.name === name);
  if (s === undefined) throw new BundleError(`${file}: no value named ${name}`);
  if (s.dtype !== dtype) throw new BundleError(`${file}: ${name} is ${s.dtype}, expected ${dtype}`);
  if (dims !== undefined) {
    const bad = s.dims.length !== dims.length || dims.some((d, i) => d !== null && s.dims[i] !== d);
    if (bad)
      throw new BundleError(
        `${file}: ${name} has dims [${s.dims.join(', ')}], expected [${dims.map((d) => d ?? '*').join(', ')}]`,
      );
  }
}

/** Row-major copy of rows `pick` of a tensor whose first axis is rows. */
export function takeRows<D extends 'f32' | 'i64'>(t: HostTensor<D>, pick: readonly number[]): HostTensor<D> {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const Ctor = t.data.constructor as new (n: number) => HostTensor<D>['data'];
  const out = new Ctor(pick.length * per);
  pick.forEach((r, i) =>
    (out as Float32Array).set((t.data as Float32Array).subarray(r * per, (r + 1) * per), i * per),
  );
  return hostTensor<D>(t.dtype, [pick.length, ...t.dims.slice(1)], out);
}

/** The parameters in a bundle's `trainer/state.safetensors` (`transformerParams(config)` layout). */
export async function trainerParams(dir: string, config: TransformerConfig): Promise<Float32Array> {
  const table = new ParamTable(transformerParams(config));
  const state = await loadCheckpoint(join(dir, BUNDLE_FILES.trainerState), table);
  return Float32Array.from(state.params);
}

/** Options of {@link Seq2SeqModel.load} and {@link Seq2SeqModel.fromParams}. */
export interface LoadOptions {
  /**
   * Build the cached decoder for the steps after the first (where the parameters are at hand).
   * @default true
   */
  cachedDecoder?: boolean;
  /**
   * Greedy decoding reads each step's choice from the cached decoder's greedy head
   * ({@link Seq2SeqModel.stepGreedy}) rather than from the logits in JavaScript (same choices; the
   * logits are not copied out). Only with the cached decoder.
   * @default true
   */
  greedyHead?: boolean;
}

/** The sessions and what decoding needs to know about them. */
export class Seq2SeqModel {
  private constructor(
    private readonly encoder: Session,
    private readonly decoder: Session,
    readonly layers: number,
    readonly heads: number,
    readonly headDim: number,
    readonly vocabSize: number,
    readonly defaults: GenerationDefaults,
    private readonly hasEncoderMask: boolean,
    /**
     * Whether `step` returns log-probabilities (our decoder graphs: inference-graphs.ts) rather than
     * raw logits (optimum exports, our bundles from before the change), so that decoding reads a
     * token's log-prob directly instead of normalising the row.
     */
    readonly logitsNormalized: boolean,
    /**
     * The cached half of the decoder (`decoderGraph(…, { cachedOnly: true })`), run for every step
     * after a state's first; undefined for foreign bundles, which run the merged decoder throughout.
     */
    private readonly cached?: Session,
    greedyHead = true,
  ) {
    this.hasGreedyHead = cached !== undefined && greedyHead;
    this.dModel = heads * headDim;
    const present = cacheNames(layers, 'present');
    this.firstFetch = ['logits', ...present];
    // After the first step the cross-attention cache only passes through the `If`: fetching it again
    // would copy it out every step for nothing.
    const selfPresent = present.filter((n) => n.includes('.decoder.'));
    // The cached decoder returns each step's self-attention keys and values (`step.i.decoder.*`,
    // `[1, rows, H, K]`); the merged one, for foreign bundles, the whole presents.
    const selfStep = selfPresent.map((n) => n.replace('present.', 'step.'));
    this.laterFetch = ['logits', ...(cached === undefined ? selfPresent : selfStep)];
    this.greedyFetch = ['greedy_token', 'greedy_logprob', ...selfStep];
    this.pastOf = new Map(present.map((n) => [n, n.replace('present.', 'past_key_values.')]));
    this.appendTo = new Map(selfStep.map((n) => [n, n.replace('step.', 'past_key_values.')]));
  }

  private readonly dModel: number;
  /** Whether greedy decoding runs {@link stepGreedy} (see {@link LoadOptions.greedyHead}). */
  readonly hasGreedyHead: boolean;
  /** Outputs fetched by a state's first step and by its later ones. */
  private readonly firstFetch: readonly string[];
  private readonly laterFetch: readonly string[];
  /** The cached decoder's greedy head and presents (see {@link stepGreedy}). */
  private readonly greedyFetch: readonly string[];
  /** `present.i.…` → `past_key_values.i.…` */
  private readonly pastOf: ReadonlyMap<string, string>;
  /** `step.i.decoder.…` (the cached decoder's new keys and values) → `past_key_values.i.decoder.…` */
  private readonly appendTo: ReadonlyMap<string, string>;
  /** Zeros that stand in for encoder outputs once the cross-attention cache exists. */
  private zeros = new Float32Array(0);
  /**
   * The buffers of the last recycled state, taken by the next `start`: back-to-back decodes then
   * allocate nothing (allocating tens of MB per call also costs garbage collections). One set only;
   * concurrent decodes allocate their own.
   */
  private spare: StepBuffers | undefined;

  /**
   * Opens a bundle folder's ONNX files after checking them against its config (BundleError otherwise).
   * A bundle of ours (transformer config, trainer state and normalised logits in its manifest) also
   * gets the cached decoder, built from `trainer/state.safetensors`, unless `load.cachedDecoder` is
   * false: the same parameters as `decoder_model_merged.onnx`, so the same log-probs up to float
   * rounding, without the merged graph's per-step copy of the cross-attention cache.
   */
  static async load(
    dir: string,
    opts: SessionOptions = {},
    load: LoadOptions = {},
  ): Promise<{ model: Seq2SeqModel; manifest: BundleManifest }> {
    const manifest = await readBundleManifest(dir);
    const opened: Session[] = [];
    try {
      const enc = await Session.load(await readFile(join(dir, BUNDLE_FILES.encoder)), opts);
      opened.push(enc);
      const dec = await Session.load(await readFile(join(dir, BUNDLE_FILES.decoder)), opts);
      opened.push(dec);
      const config = manifest.transformer;
      let cached: Session | undefined;
      if (
        (load.cachedDecoder ?? true) &&
        config !== undefined &&
        manifest.hasTrainerState &&
        manifest.logitsNormalized
      ) {
        cached = await Session.create(
          decoderGraph(config, await trainerParams(dir, config), {
            cachedOnly: true,
            bannedTokenIds: manifest.generation.bannedTokenIds,
          }),
          opts,
        );
        opened.push(cached);
      }
      return {
        model: Seq2SeqModel.check(enc, dec, manifest, dir, cached, load.greedyHead ?? true),
        manifest,
      };
    } catch (e) {
      for (const s of opened) await s.release();
      throw e;
    }
  }

  /**
   * Builds the sessions from parameters in memory (evaluation during training; no files). The decoder
   * is the bundles' one, so its logits are log-probabilities.
   */
  static async fromParams(
    config: TransformerConfig,
    params: Float32Array,
    defaults: GenerationDefaults,
    opts: SessionOptions = {},
    load: LoadOptions = {},
  ): Promise<Seq2SeqModel> {
    const opened: Session[] = [];
    const open = async (graph: Graph): Promise<Session> => {
      const session = await Session.create(graph, opts);
      opened.push(session);
      return session;
    };
    try {
      const enc = await open(encoderGraph(config, params));
      const dec = await open(decoderGraph(config, params));
      const cached =
        (load.cachedDecoder ?? true)
          ? await open(
              decoderGraph(config, params, { cachedOnly: true, bannedTokenIds: defaults.bannedTokenIds }),
            )
          : undefined;
      return new Seq2SeqModel(
        enc,
        dec,
        config.decoderLayers,
        config.heads,
        config.dModel / config.heads,
        config.vocabSize,
        defaults,
        true,
        true,
        cached,
        load.greedyHead ?? true,
      );
    } catch (e) {
      // A session that failed to open leaves none of the others behind.
      for (const s of opened) await s.release();
      throw e;
    }
  }

  private static check(
    enc: Session,
    dec: Session,
    m: BundleManifest,
    dir: string,
    cached: Session | undefined,
    greedyHead: boolean,
  ): Seq2SeqModel {
    const ef = `bundle ${dir}: ${BUNDLE_FILES.encoder}`;
    const df = `bundle ${dir}: ${BUNDLE_FILES.decoder}`;
    expectIo(ef, enc.inputs, 'input_ids', 'i64', [null, null]);
    expectIo(ef, enc.inputs, 'attention_mask', 'i64', [null, null]);
    expectIo(ef, enc.outputs, 'last_hidden_state', 'f32', [null, null, m.dModel]);
    const k = m.dModel / m.heads;
    expectIo(df, dec.inputs, 'input_ids', 'i64', [null, null]);
    expectIo(df, dec.inputs, 'encoder_hidden_states', 'f32', [null, null, m.dModel]);
    expectIo(df, dec.inputs, 'use_cache_branch', 'bool');
    for (const n of cacheNames(m.decoderLayers, 'past_key_values'))
      expectIo(df, dec.inputs, n, 'f32', [null, m.heads, null, k]);
    expectIo(df, dec.outputs, 'logits', 'f32', [null, null, m.vocabSize]);
    for (const n of cacheNames(m.decoderLayers, 'present'))
      expectIo(df, dec.outputs, n, 'f32', [null, m.heads, null, k]);
    const cacheInputs = dec.inputs.filter((s) => s.name.startsWith('past_key_values.')).length;
    if (cacheInputs !== 4 * m.decoderLayers)
      throw new BundleError(
        `${df}: ${cacheInputs} cache inputs, config.json's ${m.decoderLayers} decoder layers need ${4 * m.decoderLayers}`,
      );
    const hasMask = dec.inputs.some((s) => s.name === 'encoder_attention_mask');
    return new Seq2SeqModel(
      enc,
      dec,
      m.decoderLayers,
      m.heads,
      k,
      m.vocabSize,
      m.generation,
      hasMask,
      m.logitsNormalized,
      cached,
      greedyHead,
    );
  }

  /**
   * Runs the encoder over `sources` (token ids, each non-empty) and returns its outputs right-padded
   * to the longest source: `hidden [rows, S, D] f32` (zeros at padding) and `mask [rows, S] i64`.
   * Sources of similar lengths are encoded together (see length-groups.ts), not all padded to the
   * longest.
   */
  async encode(
    sources: readonly (readonly number[])[],
  ): Promise<{ hidden: HostTensor<'f32'>; mask: HostTensor<'i64'> }> {
    const rows = sources.length;
    const D = this.dModel;
    const S = Math.max(1, ...sources.map((s) => s.length));
    const hidden = new Float32Array(rows * S * D);
    const mask = new BigInt64Array(rows * S);
    sources.forEach((s, r) => mask.fill(1n, r * S, r * S + s.length));
    for (const group of lengthGroups(sources.map((s) => s.length))) {
      const len = Math.max(1, ...group.map((r) => sources[r]!.length));
      const ids = new BigInt64Array(group.length * len).fill(BigInt(this.defaults.padTokenId));
      const groupMask = new BigInt64Array(group.length * len);
      group.forEach((r, g) => {
        const s = sources[r]!;
        for (let i = 0; i < s.length; i++) ids[g * len + i] = BigInt(s[i]!);
        groupMask.fill(1n, g * len, g * len + s.length);
      });
      const out = await this.encoder.run(
        {
          input_ids: hostTensor('i64', [group.length, len], ids),
          attention_mask: hostTensor('i64', [group.length, len], groupMask),
        },
        {},
        ['last_hidden_state'],
      );
      const h = out.last_hidden_state!.data as Float32Array; // [group, len, D]
      group.forEach((r, g) => hidden.set(h.subarray(g * len * D, (g + 1) * len * D), r * S * D));
    }
    return { hidden: hostTensor('f32', [rows, S, D], hidden), mask: hostTensor('i64', [rows, S], mask) };
  }

  /** A fresh decoder state over encoder outputs (one decoder row per encoder row). */
  start(hidden: HostTensor<'f32'>, mask: HostTensor<'i64'>): DecoderState {
    const rows = hidden.dims[0]!;
    const past: Record<string, HostTensor<'f32'>> = {};
    for (const n of cacheNames(this.layers, 'past_key_values'))
      past[n] = hostTensor('f32', [rows, this.heads, 0, this.headDim], new Float32Array(0));
    const buffers = this.spare;
    this.spare = undefined;
    return { rows, hidden, mask, past, length: 0, ...(buffers === undefined ? {} : { buffers }) };
  }

  /**
   * Hands a finished state's buffers to the next {@link start}. The state, and every view taken from
   * it, must not be used again.
   */
  recycle(state: DecoderState): void {
    if (
      state.buffers !== undefined &&
      (this.spare === undefined || bytesOf(state.buffers) > bytesOf(this.spare))
    )
      this.spare = state.buffers;
    delete state.buffers;
  }

  /**
   * Feeds `tokens [rows, T]` (row-major) and returns the logits `[rows, T, V]` (log-probabilities when
   * {@link logitsNormalized}); the state's cache grows
   * by T. The first call computes the cross-attention cache from the encoder outputs. The logits and
   * the new cache are written into the state's buffers: they stay valid until its next step or
   * consuming select.
   */
  async step(state: DecoderState, tokens: BigInt64Array, t = 1): Promise<Float32Array> {
    const out = await this.run(state, tokens, t, false);
    return out.logits!.data as Float32Array;
  }

  /**
   * A step of one token per row that returns each row's greedy choice instead of the logits: the
   * first token with the highest log-prob outside the bundle's banned tokens, and that log-prob
   * (what `RowChooser.greedy` picks from the logits). Only for a state past its first step, on a
   * model with the cached decoder ({@link hasCachedDecoder}). The arrays are the step's own.
   */
  async stepGreedy(
    state: DecoderState,
    tokens: BigInt64Array,
  ): Promise<{ tokens: BigInt64Array; logprobs: Float32Array }> {
    if (this.cached === undefined || state.length === 0)
      throw new Error('stepGreedy: needs the cached decoder and a state past its first step');
    const out = await this.run(state, tokens, 1, true);
    return {
      tokens: out.greedy_token!.data as BigInt64Array,
      logprobs: out.greedy_logprob!.data as Float32Array,
    };
  }

  private async run(
    state: DecoderState,
    tokens: BigInt64Array,
    t: number,
    greedy: boolean,
  ): Promise<Record<string, HostTensor>> {
    const { rows } = state;
    const cached = state.length > 0 ? this.cached : undefined;
    const b = (state.buffers ??= {
      logits: new Float32Array(0),
      cache: new Map(),
      mask: [new BigInt64Array(0), new BigInt64Array(0)],
    });
    if (cached !== undefined && state.timeMajor !== true) this.toTimeMajor(state, b);
    const feeds: Record<string, HostTensor> = {
      input_ids: hostTensor('i64', [rows, t], tokens),
      ...(cached === undefined
        ? {
            encoder_hidden_states: state.hidden,
            use_cache_branch: hostTensor('bool', [1], Uint8Array.of(state.length > 0 ? 1 : 0)),
          }
        : {}),
      ...state.past,
    };
    if (this.hasEncoderMask) feeds.encoder_attention_mask = state.mask;
    const fetch = greedy ? this.greedyFetch : state.length === 0 ? this.firstFetch : this.laterFetch;
    const into: Record<string, HostTensor> = {};
    if (!greedy) {
      const nLogits = rows * t * this.vocabSize;
      b.logits = ensure(b.logits, nLogits, (n) => new Float32Array(n));
      into.logits = hostTensor('f32', [rows, t, this.vocabSize], b.logits.subarray(0, nLogits));
    }
    const S = state.mask.dims[1]!;
    const total = state.length + t;
    for (const n of fetch) {
      const past = this.pastOf.get(n);
      if (past === undefined) continue; // logits, the greedy head or a step's keys and values
      const len = n.includes('.decoder.') ? total : S;
      const size = rows * this.heads * len * this.headDim;
      const pair = this.pairOf(b, past);
      const k = freeOf(pair, state.past[past]!.data);
      pair[k] = ensure(pair[k], size, (m) => new Float32Array(m));
      into[n] = hostTensor('f32', [rows, this.heads, len, this.headDim], pair[k].subarray(0, size));
    }
    const out = await (cached ?? this.decoder).run(feeds, into, fetch);
    for (const n of fetch) {
      const past = this.pastOf.get(n);
      if (past !== undefined) state.past[past] = into[n] as HostTensor<'f32'>;
      const to = cached === undefined ? undefined : this.appendTo.get(n);
      if (to !== undefined) this.append(state, b, to, out[n]!.data as Float32Array);
    }
    state.length = total;
    return out;
  }

  /** Appends one step's `[rows, H, K]` keys or values to the time-major cache `name`, in place. */
  private append(state: DecoderState, b: StepBuffers, name: string, slice: Float32Array): void {
    const past = state.past[name]!;
    const L = past.dims[0]!;
    const n = (L + 1) * slice.length;
    const pair = this.pairOf(b, name);
    const held =
      pair[0].buffer === past.data.buffer ? 0 : pair[1].buffer === past.data.buffer ? 1 : undefined;
    const k: 0 | 1 = held ?? freeOf(pair, past.data);
    if (held === undefined || pair[k].length < n) {
      // Move to a buffer with room (twice the length needed, so that regrowth is rare).
      const grown = new Float32Array(2 * n);
      grown.set(past.data.subarray(0, L * slice.length));
      pair[k] = grown;
    }
    pair[k].set(slice, L * slice.length);
    state.past[name] = hostTensor(
      'f32',
      [L + 1, state.rows, this.heads, this.headDim],
      pair[k].subarray(0, n),
    );
  }

  /**
   * Lays the self-attention caches out time-major (`[length, rows, H, K]`) for the cached decoder:
   * a relabelling after a one-token first step (the two layouts agree at length 1), a transpose
   * into the free buffer after a longer one.
   */
  private toTimeMajor(state: DecoderState, b: StepBuffers): void {
    const { rows } = state;
    const H = this.heads;
    const K = this.headDim;
    for (const name of this.appendTo.values()) {
      const past = state.past[name]!;
      const L = past.dims[2]!;
      if (L <= 1) {
        state.past[name] = hostTensor('f32', [L, rows, H, K], past.data);
        continue;
      }
      const pair = this.pairOf(b, name);
      const k = freeOf(pair, past.data);
      pair[k] = ensure(pair[k], L * rows * H * K, (m) => new Float32Array(m));
      const dst = pair[k];
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < H; h++)
          for (let l = 0; l < L; l++)
            dst.set(
              past.data.subarray(((r * H + h) * L + l) * K, ((r * H + h) * L + l + 1) * K),
              ((l * rows + r) * H + h) * K,
            );
      state.past[name] = hostTensor('f32', [L, rows, H, K], dst.subarray(0, L * rows * H * K));
    }
    state.timeMajor = true;
  }

  private pairOf(b: StepBuffers, name: string): [Float32Array, Float32Array] {
    let pair = b.cache.get(name);
    if (pair === undefined) {
      pair = [new Float32Array(0), new Float32Array(0)];
      b.cache.set(name, pair);
    }
    return pair;
  }

  /**
   * Keeps (and reorders, repeats) rows `pick` of the state. With `consume`, the result takes over the
   * state's buffers (no allocation once they are large enough) and `state` must not be used again;
   * without, it is a new state that shares nothing with `state`.
   */
  select(state: DecoderState, pick: readonly number[], consume = false): DecoderState {
    const rows = pick.length;
    const S = state.mask.dims[1]!;
    const b = consume ? state.buffers : undefined;
    const past: Record<string, HostTensor<'f32'>> = {};
    for (const [n, t] of Object.entries(state.past)) {
      if (state.timeMajor === true && this.isSelfCache(n)) {
        past[n] = this.selectTimeMajor(t, pick, b === undefined ? undefined : this.pairOf(b, n));
        continue;
      }
      const per = t.dims.slice(1).reduce((x, y) => x * y, 1);
      if (b === undefined || per === 0) {
        past[n] = takeRows(t, pick);
        continue;
      }
      const pair = this.pairOf(b, n);
      const k = freeOf(pair, t.data);
      pair[k] = ensure(pair[k], rows * per, (m) => new Float32Array(m));
      copyRows(t.data, pair[k], per, pick);
      past[n] = hostTensor('f32', [rows, ...t.dims.slice(1)], pair[k].subarray(0, rows * per));
    }
    let mask: HostTensor<'i64'>;
    if (b === undefined) mask = takeRows(state.mask, pick);
    else {
      const k = freeOf(b.mask, state.mask.data);
      b.mask[k] = ensure(b.mask[k], rows * S, (m) => new BigInt64Array(m));
      copyRows(state.mask.data, b.mask[k], S, pick);
      mask = hostTensor('i64', [rows, S], b.mask[k].subarray(0, rows * S));
    }
    return {
      rows,
      hidden: state.length === 0 ? takeRows(state.hidden, pick) : this.placeholder(rows, S),
      mask,
      past,
      length: state.length,
      ...(state.timeMajor === true ? { timeMajor: true } : {}),
      ...(b === undefined ? {} : { buffers: b }),
    };
  }

  private isSelfCache(name: string): boolean {
    return name.startsWith('past_key_values.') && name.includes('.decoder.');
  }

  /**
   * Rows `pick` of a time-major cache `[L, rows, H, K]`, into the pair's free buffer (or new
   * memory without a pair), leaving room to append as many steps again.
   */
  private selectTimeMajor(
    t: HostTensor<'f32'>,
    pick: readonly number[],
    pair: [Float32Array, Float32Array] | undefined,
  ): HostTensor<'f32'> {
    const [L, rowsBefore] = t.dims as [number, number];
    const per = this.dModel; // one row of one step: H × K
    const rows = pick.length;
    const n = L * rows * per;
    let dst: Float32Array;
    if (pair === undefined) dst = new Float32Array(n);
    else {
      const k = freeOf(pair, t.data);
      pair[k] = ensure(pair[k], n, (m) => new Float32Array(Math.max(m, 2 * n)));
      dst = pair[k];
    }
    for (let l = 0; l < L; l++)
      for (let i = 0; i < rows; i++) {
        const from = (l * rowsBefore + pick[i]!) * per;
        dst.set(t.data.subarray(from, from + per), (l * rows + i) * per);
      }
    return hostTensor('f32', [L, rows, this.heads, this.headDim], dst.subarray(0, n));
  }

  /** `[rows, S, D]` zeros, a view of one shared buffer (onnxruntime never writes into inputs). */
  private placeholder(rows: number, S: number): HostTensor<'f32'> {
    const n = rows * S * this.dModel;
    this.zeros = ensure(this.zeros, n, (m) => new Float32Array(m));
    return hostTensor('f32', [rows, S, this.dModel], this.zeros.subarray(0, n));
  }

  /** Whether steps after the first run the cached decoder (see {@link Seq2SeqModel.load}). */
  get hasCachedDecoder(): boolean {
    return this.cached !== undefined;
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
    await this.cached?.release();
  }
}
