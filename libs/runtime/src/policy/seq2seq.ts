/**
 * A loaded encoder–decoder: the two sessions of a bundle (or of graphs built in memory from parameters)
 * and the decoding primitives every strategy uses — encode a batch, run one cached decoder step, keep or
 * reorder rows of the cache. Rows are independent sequences; the cache holds, per layer, the decoder's
 * self-attention keys/values `[rows, H, L, K]` and the cross-attention keys/values `[rows, H, S, K]`.
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
import type { TransformerConfig } from '../models/config.js';
import {
  BUNDLE_FILES,
  BundleError,
  readBundleManifest,
  type BundleManifest,
  type GenerationDefaults,
} from './bundle.js';

/** The decoder-side state of a batch of rows. */
export interface DecoderState {
  rows: number;
  /** Encoder outputs and mask, one row per decoder row. */
  hidden: HostTensor<'f32'>;
  mask: HostTensor<'i64'>;
  /** Cache by input name (`past_key_values.i.…`); empty (length 0) before the first step. */
  past: Record<string, HostTensor<'f32'>>;
  /** Decoder tokens consumed so far (the cache length). */
  length: number;
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

/** Two sessions and what decoding needs to know about them. */
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
  ) {}

  /** Opens a bundle folder's ONNX files after checking them against its config (BundleError otherwise). */
  static async load(
    dir: string,
    opts: SessionOptions = {},
  ): Promise<{ model: Seq2SeqModel; manifest: BundleManifest }> {
    const manifest = await readBundleManifest(dir);
    const enc = await Session.load(await readFile(join(dir, BUNDLE_FILES.encoder)), opts);
    let dec: Session;
    try {
      dec = await Session.load(await readFile(join(dir, BUNDLE_FILES.decoder)), opts);
    } catch (e) {
      await enc.release();
      throw e;
    }
    try {
      return { model: Seq2SeqModel.check(enc, dec, manifest, dir), manifest };
    } catch (e) {
      await enc.release();
      await dec.release();
      throw e;
    }
  }

  /** Builds the sessions from parameters in memory (evaluation during training; no files). */
  static async fromParams(
    config: TransformerConfig,
    params: Float32Array,
    defaults: GenerationDefaults,
    opts: SessionOptions = {},
  ): Promise<Seq2SeqModel> {
    const enc = await Session.create(encoderGraph(config, params), opts);
    const dec = await Session.create(decoderGraph(config, params), opts);
    return new Seq2SeqModel(
      enc,
      dec,
      config.decoderLayers,
      config.heads,
      config.dModel / config.heads,
      config.vocabSize,
      defaults,
      true,
    );
  }

  private static check(enc: Session, dec: Session, m: BundleManifest, dir: string): Seq2SeqModel {
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
    return new Seq2SeqModel(enc, dec, m.decoderLayers, m.heads, k, m.vocabSize, m.generation, hasMask);
  }

  /** Right-pads `sources` with the pad id and runs the encoder. Every source must be non-empty. */
  async encode(
    sources: readonly (readonly number[])[],
  ): Promise<{ hidden: HostTensor<'f32'>; mask: HostTensor<'i64'> }> {
    const rows = sources.length;
    const len = Math.max(1, ...sources.map((s) => s.length));
    const ids = new BigInt64Array(rows * len).fill(BigInt(this.defaults.padTokenId));
    const mask = new BigInt64Array(rows * len);
    sources.forEach((s, r) =>
      s.forEach((t, i) => {
        ids[r * len + i] = BigInt(t);
        mask[r * len + i] = 1n;
      }),
    );
    const maskT = hostTensor('i64', [rows, len], mask);
    const out = await this.encoder.run(
      { input_ids: hostTensor('i64', [rows, len], ids), attention_mask: maskT },
      {},
      ['last_hidden_state'],
    );
    return { hidden: out.last_hidden_state as HostTensor<'f32'>, mask: maskT };
  }

  /** A fresh decoder state over encoder outputs (one decoder row per encoder row). */
  start(hidden: HostTensor<'f32'>, mask: HostTensor<'i64'>): DecoderState {
    const rows = hidden.dims[0]!;
    const past: Record<string, HostTensor<'f32'>> = {};
    for (const n of cacheNames(this.layers, 'past_key_values'))
      past[n] = hostTensor('f32', [rows, this.heads, 0, this.headDim], new Float32Array(0));
    return { rows, hidden, mask, past, length: 0 };
  }

  /**
   * Feeds `tokens [rows, T]` (row-major) and returns the logits `[rows, T, V]`; the state's cache grows
   * by T. The first call computes the cross-attention cache from the encoder outputs.
   */
  async step(state: DecoderState, tokens: BigInt64Array, t = 1): Promise<Float32Array> {
    const feeds: Record<string, HostTensor> = {
      input_ids: hostTensor('i64', [state.rows, t], tokens),
      encoder_hidden_states: state.hidden,
      use_cache_branch: hostTensor('bool', [1], Uint8Array.of(state.length > 0 ? 1 : 0)),
      ...state.past,
    };
    if (this.hasEncoderMask) feeds.encoder_attention_mask = state.mask;
    const out = await this.decoder.run(feeds);
    for (const n of cacheNames(this.layers, 'present'))
      state.past[n.replace('present.', 'past_key_values.')] = out[n] as HostTensor<'f32'>;
    state.length += t;
    return out.logits!.data as Float32Array;
  }

  /** Keeps (and reorders, repeats) rows `pick` of the state. */
  select(state: DecoderState, pick: readonly number[]): DecoderState {
    const past: Record<string, HostTensor<'f32'>> = {};
    for (const [n, t] of Object.entries(state.past)) past[n] = takeRows(t, pick);
    return {
      rows: pick.length,
      hidden: takeRows(state.hidden, pick),
      mask: takeRows(state.mask, pick),
      past,
      length: state.length,
    };
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}
