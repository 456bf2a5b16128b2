/**
 * Continuous (iteration-level) batching of greedy and sampled decoding: sources join a running batch
 * between two decoder steps and leave it as soon as their last candidate ends, instead of every
 * source of a batch waiting for its longest one and new sources for the whole batch.
 *
 * How a source goes through it:
 *
 * 1. `add` queues it (its options checked at once, as `generate` checks them).
 * 2. The next `step` admits everything queued: the sources are encoded and take their first step
 *    together through the bundle's merged decoder (which computes their cross-attention caches),
 *    their first tokens are chosen, and their rows (one per candidate) are copied into the batch.
 * 3. Every `step` then runs the row-wise decoder (`decoderStepGraph`): one token per row, each row at
 *    its own position, seeing only its own past. The self-attention cache is right-aligned: all rows
 *    append at the same column, and a row that has consumed L tokens owns the last L columns (the
 *    others are masked). Its candidates resolve the promise `add` returned as soon as all have ended.
 *
 * Rows that ended stay in the batch until a few have (`DROP_FRACTION`, as in generate.ts) or new
 * sources come in; the cache is then rebuilt in one copy that drops them, appends the new rows and
 * trims the columns nobody sees any more.
 *
 * A source decodes exactly what `generate` decodes for it alone with `sourceSeeds: [seed]` (the same
 * token choice and sampling streams), up to float rounding of the log-probs: the batch around it only
 * changes the shapes the matrix products run at.
 */
import { join } from 'node:path';
import { Session, hostTensor, type HostTensor, type SessionOptions } from '../session/session.js';
import { decoderStepGraph } from '../models/inference-graphs.js';
import { transformerParams, type TransformerConfig } from '../models/config.js';
import { ParamTable } from '../params/param-table.js';
import { loadCheckpoint } from '../checkpoint/safetensors.js';
import { BUNDLE_FILES, type BundleManifest } from './bundle.js';
import { rng } from '../params/random.js';
import { DecodingError, resolveDecoding, rowSeed, type Candidate, type DecodingOptions } from './generate.js';
import { RowChooser } from './row-choice.js';
import type { Seq2SeqModel, DecoderState } from './seq2seq.js';

/** Ended rows are dropped once at least this fraction of the batch has ended (see generate.ts). */
const DROP_FRACTION = 1 / 8;

/** One source in flight. */
interface Source {
  readonly ids: readonly number[];
  readonly n: number;
  readonly maxNew: number;
  readonly greedy: boolean;
  readonly chooser: RowChooser;
  readonly seed: number;
  readonly out: Candidate[];
  /** Candidates not yet ended. */
  open: number;
  /** Cancelled, or failed: its rows are dead, its promise settled. */
  gone: boolean;
  readonly resolve: (c: Candidate[]) => void;
  readonly reject: (e: unknown) => void;
}

/** One candidate being decoded: a row of the batch. */
interface Row {
  readonly src: Source;
  readonly k: number;
  readonly ids: number[];
  readonly lps: number[];
  readonly rand: (() => number) | undefined;
  /** Ended (or its source is gone): its outputs are ignored until the next rebuild drops it. */
  dead: boolean;
}

/** A queued source's handle. */
export interface ContinuousHandle {
  /** The source's candidates (N samples, or the one greedy output), in sample order. */
  readonly result: Promise<Candidate[]>;
  /** Stops decoding the source: its rows leave at the next rebuild, `result` rejects with `reason`. */
  cancel(reason: unknown): void;
}

/** Two buffers per cache tensor: the current one and the one the next step or rebuild writes. */
type Pair = [Float32Array, Float32Array];
type Side = 0 | 1;

const flip = (s: Side): Side => (s === 0 ? 1 : 0);

/** `pair[side]` with room for `n` elements (regrown as generate.ts's buffers are). */
function room(pair: Pair, side: Side, n: number): Float32Array {
  pair[side] = ensure<Float32Array>(pair[side], n, (m) => new Float32Array(m));
  return pair[side];
}

function ensure<A extends Float32Array | BigInt64Array>(a: A, n: number, make: (n: number) => A): A {
  return a.length >= n ? a : make(Math.max(n, 2 * a.length));
}

/** The decoding loop of one policy; see the module comment. Not safe for overlapping `step` calls. */
export class ContinuousBatch {
  private readonly queue: Source[] = [];
  private rows: Row[] = [];
  /** Per row: its source's length (its visible encoder columns). */
  private srcLens: number[] = [];
  /** Cache columns (past length) and encoder columns of the batch. */
  private past = 0;
  private enc = 0;
  /** Per layer: self key, self value, cross key, cross value. */
  private readonly cache: Pair[][];
  /** Which buffer of each pair holds the current self-attention cache, and the cross one. */
  private selfSide: Side = 0;
  private crossSide: Side = 0;
  private logits = new Float32Array(0);
  private encMask = new BigInt64Array(0);
  private selfMask = new BigInt64Array(0);
  private positions = new BigInt64Array(0);
  private tokens = new BigInt64Array(0);
  private readonly choosers = new Map<string, RowChooser>();
  private dead = 0;
  private readonly maxPositions: number;

  private constructor(
    private readonly model: Seq2SeqModel,
    private readonly session: Session,
    config: TransformerConfig,
  ) {
    this.maxPositions = config.maxPositions ?? 512;
    this.cache = Array.from({ length: model.layers }, () =>
      Array.from({ length: 4 }, (): Pair => [new Float32Array(0), new Float32Array(0)]),
    );
  }

  /**
   * A batch over `model` whose row-wise decoder is built from `params` (`transformerParams(config)`
   * layout: the same parameters as the model's sessions; the caller vouches for that).
   */
  static async create(
    model: Seq2SeqModel,
    config: TransformerConfig,
    params: Float32Array,
    opts: SessionOptions = {},
  ): Promise<ContinuousBatch> {
    if (!model.logitsNormalized)
      throw new DecodingError('continuous batching needs a decoder whose logits are log-probabilities');
    const session = await Session.create(decoderStepGraph(config, params), opts);
    return new ContinuousBatch(model, session, config);
  }

  /**
   * The batch of a bundle of ours loaded as `model` (its manifest `manifest`), its row-wise decoder
   * built from the parameters in `trainer/state.safetensors`; undefined for a bundle without them
   * or without the transformer config (optimum exports), which decode with `generate` only.
   */
  static async fromBundle(
    model: Seq2SeqModel,
    manifest: BundleManifest,
    opts: SessionOptions = {},
  ): Promise<ContinuousBatch | undefined> {
    const config = manifest.transformer;
    if (config === undefined || !manifest.hasTrainerState || !manifest.logitsNormalized) return undefined;
    const table = new ParamTable(transformerParams(config));
    const state = await loadCheckpoint(join(manifest.dir, BUNDLE_FILES.trainerState), table);
    return ContinuousBatch.create(model, config, Float32Array.from(state.params), opts);
  }

  /** Rows in the batch that are still decoding. */
  get liveRows(): number {
    return this.rows.length - this.dead;
  }

  /** Sources queued for the next step. */
  get queuedSources(): number {
    return this.queue.length;
  }

  /** Whether a `step` has anything to do. */
  get busy(): boolean {
    return this.queue.length > 0 || this.liveRows > 0;
  }

  /**
   * Queues `source` (token ids, end token included) for decoding with `options` (greedy or sample;
   * `seed` is the source's own generator seed, as `generate`'s `sourceSeeds`). Decoding happens in
   * the following `step`s.
   * @throws DecodingError for options out of range, beam search, an empty source, a token id outside
   *   the vocabulary, or a length the model's positions cannot hold
   */
  add(source: readonly number[], options: DecodingOptions, seed = 0): ContinuousHandle {
    const r = resolveDecoding(options, Math.max(1, this.model.defaults.maxLength - 1));
    if (r.strategy === 'beam')
      throw new DecodingError('strategy: continuous batching decodes greedy or sample, not beam');
    if (source.length === 0) throw new DecodingError('source: empty');
    // A bad id would fail the encoder run of everything joining with it: refuse it here instead.
    const V = this.model.vocabSize;
    source.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new DecodingError(`source[${i}]: token id ${id} is outside the vocabulary [0, ${V})`);
    });
    if (!Number.isFinite(seed)) throw new DecodingError(`seed: must be a finite number, got ${seed}`);
    if (r.maxNew > this.maxPositions)
      throw new DecodingError(
        `maxNewTokens: at most ${this.maxPositions} (the model's positions), got ${r.maxNew}`,
      );
    const greedy = r.strategy === 'greedy';
    const key = greedy ? 'greedy' : `${r.temperature}|${r.topK}|${r.topP}`;
    let chooser = this.choosers.get(key);
    if (chooser === undefined) {
      chooser = new RowChooser(this.model.vocabSize, this.model.defaults.bannedTokenIds, r, true);
      this.choosers.set(key, chooser);
    }
    let resolve!: (c: Candidate[]) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<Candidate[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const n = greedy ? 1 : r.n;
    const src: Source = {
      ids: source,
      n,
      maxNew: r.maxNew,
      greedy,
      chooser,
      seed,
      out: new Array<Candidate>(n),
      open: n,
      gone: false,
      resolve,
      reject,
    };
    this.queue.push(src);
    return {
      result,
      cancel: (reason) => {
        if (src.gone || src.open === 0) return;
        this.fail(src, reason);
        const at = this.queue.indexOf(src);
        if (at >= 0) this.queue.splice(at, 1);
      },
    };
  }

  /**
   * Admits the queued sources, drops ended rows when it pays, and runs one decoder step over the
   * batch. On an error every source in flight or queued rejects with it and the batch starts empty.
   */
  async step(): Promise<void> {
    const fresh = this.queue.splice(0);
    try {
      if (fresh.length > 0 || this.dead >= Math.max(1, this.rows.length * DROP_FRACTION))
        await this.rebuild(fresh);
      if (this.liveRows === 0) {
        this.clear();
        return;
      }
      await this.decode();
    } catch (error) {
      const inFlight = [...this.rows.map((row) => row.src), ...fresh, ...this.queue.splice(0)];
      for (const src of new Set(inFlight)) this.fail(src, error);
      this.clear();
      throw error;
    }
  }

  /** Rejects everything in flight and queued with `reason`, and frees the row-wise decoder. */
  async release(reason: unknown = new Error('the decoder was released')): Promise<void> {
    for (const src of new Set([...this.rows.map((row) => row.src), ...this.queue.splice(0)]))
      this.fail(src, reason);
    this.clear();
    await this.session.release();
  }

  private fail(src: Source, reason: unknown): void {
    if (src.gone || src.open === 0) return;
    src.gone = true;
    for (const row of this.rows)
      if (row.src === src && !row.dead) {
        row.dead = true;
        this.dead++;
      }
    src.reject(reason);
  }

  private clear(): void {
    this.rows = [];
    this.srcLens = [];
    this.dead = 0;
    this.past = 0;
    this.enc = 0;
  }

  /** Appends the token chosen from logits row `off` to `row`; whether the row goes on. */
  private advance(row: Row, logits: Float32Array, off: number): boolean {
    const { src } = row;
    const tok = src.greedy ? src.chooser.greedy(logits, off) : src.chooser.sample(logits, off, row.rand!);
    row.ids.push(tok);
    row.lps.push(src.chooser.logprob);
    const eos = tok === this.model.defaults.eosTokenId;
    if (!eos && row.ids.length < src.maxNew) return true;
    src.out[row.k] = {
      tokenIds: row.ids,
      tokenLogprobs: row.lps,
      sequenceLogprob: row.lps.reduce((a, b) => a + b, 0),
      finishReason: eos ? 'eos' : 'length',
    };
    if (--src.open === 0 && !src.gone) src.resolve(src.out);
    return false;
  }

  /**
   * The new batch: the live rows, then the rows of `fresh` sources that go on after their first
   * token, in one copy of the cache with only the columns a row still sees.
   */
  private async rebuild(fresh: readonly Source[]): Promise<void> {
    const { layers, heads: H, headDim: K } = this.model;
    const V = this.model.vocabSize;
    // The fresh sources' first step, through the merged decoder.
    let first: DecoderState | undefined;
    const freshRows: { row: Row; from: number }[] = [];
    if (fresh.length > 0) {
      const { hidden, mask } = await this.model.encode(fresh.map((s) => s.ids));
      first = this.model.start(hidden, mask);
      const bos = BigInt(this.model.defaults.decoderStartTokenId);
      const logits = await this.model.step(first, new BigInt64Array(fresh.length).fill(bos));
      fresh.forEach((src, i) => {
        if (src.gone) return;
        for (let k = 0; k < src.n; k++) {
          const row: Row = {
            src,
            k,
            ids: [],
            lps: [],
            rand: src.greedy ? undefined : rng(rowSeed(src.seed, 0, k)),
            dead: false,
          };
          if (this.advance(row, logits, i * V)) freshRows.push({ row, from: i });
        }
      });
    }
    const keep = this.rows.flatMap((row, i) => (row.dead ? [] : [i]));
    const rows = keep.length + freshRows.length;
    const lens = [...keep.map((i) => this.rows[i]!.ids.length), ...freshRows.map(() => 1)];
    const srcLens = [...keep.map((i) => this.srcLens[i]!), ...freshRows.map(({ row }) => row.src.ids.length)];
    const P = Math.max(0, ...lens);
    const S = Math.max(1, ...srcLens);
    const firstS = first?.mask.dims[1] ?? 0;
    for (let l = 0; l < layers; l++) {
      const names = ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'];
      for (let part = 0; part < 4; part++) {
        const self = part < 2;
        const cols = self ? P : S;
        const pair = this.cache[l]![part]!;
        const side = self ? this.selfSide : this.crossSide;
        const dst = room(pair, flip(side), rows * H * cols * K);
        const old = pair[side];
        const oldCols = self ? this.past : this.enc;
        // Kept rows: their last `len` self columns, their first `srcLen` encoder columns.
        keep.forEach((i, j) => {
          const len = self ? lens[j]! : srcLens[j]!;
          const from = self ? oldCols - len : 0;
          const to = self ? cols - len : 0;
          for (let h = 0; h < H; h++) {
            const s = ((i * H + h) * oldCols + from) * K;
            dst.set(old.subarray(s, s + len * K), ((j * H + h) * cols + to) * K);
          }
        });
        if (first !== undefined) {
          const src = first.past[`past_key_values.${l}.${names[part]}`]!.data;
          const srcCols = self ? 1 : firstS;
          freshRows.forEach(({ from }, f) => {
            const j = keep.length + f;
            const len = self ? 1 : srcLens[j]!;
            const to = self ? cols - 1 : 0;
            for (let h = 0; h < H; h++) {
              const s = (from * H + h) * srcCols * K;
              dst.set(src.subarray(s, s + len * K), ((j * H + h) * cols + to) * K);
            }
          });
        }
      }
    }
    if (first !== undefined) this.model.recycle(first);
    this.encMask = ensure(this.encMask, rows * S, (m) => new BigInt64Array(m));
    this.encMask.fill(0n, 0, rows * S);
    srcLens.forEach((len, j) => this.encMask.fill(1n, j * S, j * S + len));
    this.rows = [...keep.map((i) => this.rows[i]!), ...freshRows.map(({ row }) => row)];
    this.srcLens = srcLens;
    this.dead = 0;
    this.past = P;
    this.enc = S;
    this.selfSide = flip(this.selfSide);
    this.crossSide = flip(this.crossSide);
  }

  /** One row-wise decoder step over the batch. */
  private async decode(): Promise<void> {
    const { layers, heads: H, headDim: K } = this.model;
    const V = this.model.vocabSize;
    const B = this.rows.length;
    const P = this.past;
    const S = this.enc;
    const T = P + 1;
    this.selfMask = ensure(this.selfMask, B * T, (m) => new BigInt64Array(m));
    this.positions = ensure(this.positions, B, (m) => new BigInt64Array(m));
    this.tokens = ensure(this.tokens, B, (m) => new BigInt64Array(m));
    const selfMask = this.selfMask.subarray(0, B * T);
    selfMask.fill(0n);
    this.rows.forEach((row, j) => {
      const len = row.ids.length; // tokens in the cache: the start token and all but the last chosen
      selfMask.fill(1n, j * T + T - 1 - len, (j + 1) * T);
      this.positions[j] = BigInt(len);
      this.tokens[j] = BigInt(row.ids[len - 1]!);
    });
    const feeds: Record<string, HostTensor> = {
      input_ids: hostTensor('i64', [B, 1], this.tokens.subarray(0, B)),
      position_ids: hostTensor('i64', [B], this.positions.subarray(0, B)),
      self_attention_mask: hostTensor('i64', [B, T], selfMask),
      encoder_attention_mask: hostTensor('i64', [B, S], this.encMask.subarray(0, B * S)),
    };
    this.logits = ensure(this.logits, B * V, (m) => new Float32Array(m));
    const into: Record<string, HostTensor> = {
      logits: hostTensor('f32', [B, 1, V], this.logits.subarray(0, B * V)),
    };
    const cur = this.selfSide;
    const next = flip(cur);
    const cross = this.crossSide;
    for (let l = 0; l < layers; l++) {
      const [sk, sv, ck, cv] = this.cache[l]! as [Pair, Pair, Pair, Pair];
      feeds[`past.${l}.key`] = hostTensor('f32', [B, H, P, K], sk[cur].subarray(0, B * H * P * K));
      feeds[`past.${l}.value`] = hostTensor('f32', [B, H, P, K], sv[cur].subarray(0, B * H * P * K));
      feeds[`cross.${l}.key`] = hostTensor('f32', [B, H, S, K], ck[cross].subarray(0, B * H * S * K));
      feeds[`cross.${l}.value`] = hostTensor('f32', [B, H, S, K], cv[cross].subarray(0, B * H * S * K));
      for (const [pair, name] of [
        [sk, `present.${l}.key`],
        [sv, `present.${l}.value`],
      ] as const) {
        into[name] = hostTensor(
          'f32',
          [B, H, T, K],
          room(pair, next, B * H * T * K).subarray(0, B * H * T * K),
        );
      }
    }
    await this.session.run(feeds, into);
    this.selfSide = next;
    this.past = T;
    const logits = this.logits;
    this.rows.forEach((row, j) => {
      if (row.dead) return;
      if (!this.advance(row, logits, j * V)) {
        row.dead = true;
        this.dead++;
      }
    });
  }
}
