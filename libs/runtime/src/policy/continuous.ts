/**
 * Continuous (iteration-level) batching of greedy and sampled decoding: sources join a running batch
 * between two decoder steps and leave it as soon as their last candidate ends, instead of every
 * source of a batch waiting for its longest one and new sources for the whole batch.
 *
 * How a source goes through it:
 *
 * 1. `add` queues it (its options checked at once, as `generate` checks them).
 * 2. The next `step` admits everything queued: the sources are encoded together, a small graph
 *    projects the encoder outputs into their cross-attention caches (`crossCacheGraph`), and their
 *    rows (one per candidate, the self-attention cache empty) join the batch, to take their first
 *    step in the same decoder run as everyone else.
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
import { Session, hostTensor, type HostTensor, type SessionOptions } from '../session/session.js';
import { crossCacheGraph, decoderStepGraph } from '../models/inference-graphs.js';
import type { TransformerConfig } from '../models/config.js';
import type { BundleManifest } from './bundle.js';
import { rng } from '../params/random.js';
import { DecodingError, resolveDecoding, rowSeed, type Candidate, type DecodingOptions } from './generate.js';
import { RowChooser } from './row-choice.js';
import { trainerParams, type Seq2SeqModel } from './seq2seq.js';

/** Ended rows are dropped once at least this fraction of the batch has ended (see generate.ts). */
const DROP_FRACTION = 1 / 8;

/** Queued sources join a busy batch once they bring this fraction of its rows (see `due`). */
const ADMIT_FRACTION = 1 / 8;

/**
 * Unseen cache columns a rebuild leaves in place: within it, kept rows are only compacted (no new
 * layout), so the cache is laid out anew about once per SLACK steps rather than at every rebuild.
 */
const SLACK = 16;

/** One source in flight. */
interface Source {
  readonly ids: readonly number[];
  readonly n: number;
  readonly maxNew: number;
  readonly greedy: boolean;
  readonly chooser: RowChooser;
  readonly seed: number;
  /** When it was added (performance.now()). */
  readonly since: number;
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

/** Options of {@link ContinuousBatch.create}. */
export interface ContinuousOptions {
  /**
   * Longest a queued source waits while the batch is busy before it joins even alone, in ms
   * (see `step`). @default 5
   */
  maxWaitMs?: number;
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
    private readonly cross: Session,
    config: TransformerConfig,
    private readonly maxWaitMs: number,
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
    batching: ContinuousOptions = {},
  ): Promise<ContinuousBatch> {
    const wait = batching.maxWaitMs ?? 5;
    if (!(wait >= 0 && Number.isFinite(wait)))
      throw new DecodingError(`maxWaitMs: must be a finite number ≥ 0, got ${wait}`);
    if (!model.logitsNormalized)
      throw new DecodingError('continuous batching needs a decoder whose logits are log-probabilities');
    const session = await Session.create(decoderStepGraph(config, params), opts);
    let cross: Session;
    try {
      cross = await Session.create(crossCacheGraph(config, params), opts);
    } catch (error) {
      await session.release();
      throw error;
    }
    return new ContinuousBatch(model, session, cross, config, wait);
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
    batching: ContinuousOptions = {},
  ): Promise<ContinuousBatch | undefined> {
    const config = manifest.transformer;
    if (config === undefined || !manifest.hasTrainerState || !manifest.logitsNormalized) return undefined;
    return ContinuousBatch.create(model, config, await trainerParams(manifest.dir, config), opts, batching);
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
      since: performance.now(),
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
   * Admits the queued sources when they are due (enough of them, or one has waited `maxWaitMs`; see
   * `due`), drops ended rows when it pays, and runs one decoder step over the batch. On an error every source in flight or queued rejects with it and the batch starts empty.
   */
  async step(): Promise<void> {
    const fresh = this.due() ? this.queue.splice(0) : [];
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

  /**
   * Whether the queued sources join at this step: nothing is decoding, or they bring at least an
   * eighth as many rows as are decoding, or the oldest has waited `maxWaitMs`. Joining costs an
   * encoder run and a copy of part of the cache, and the encoder is far cheaper per source in a
   * group than alone, so a busy batch takes newcomers a few at a time rather than at every step.
   */
  private due(): boolean {
    if (this.queue.length === 0) return false;
    const live = this.liveRows;
    if (live === 0) return true;
    const rows = this.queue.reduce((n, s) => n + s.n, 0);
    return (
      rows >= Math.ceil(live * ADMIT_FRACTION) || performance.now() - this.queue[0]!.since >= this.maxWaitMs
    );
  }

  /** Rejects everything in flight and queued with `reason`, and frees the row-wise decoder. */
  async release(reason: unknown = new Error('the decoder was released')): Promise<void> {
    for (const src of new Set([...this.rows.map((row) => row.src), ...this.queue.splice(0)]))
      this.fail(src, reason);
    this.clear();
    await this.session.release();
    await this.cross.release();
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
   * The new batch: the live rows, then one row per candidate of the `fresh` sources (their cache
   * empty: they take their first step with the others). When the kept rows' columns still fit
   * (`SLACK`), they are compacted in place, a run of consecutive rows per copy; otherwise the cache
   * is laid out anew with only the columns a row still sees.
   */
  private async rebuild(fresh: readonly Source[]): Promise<void> {
    const { layers, heads: H, headDim: K } = this.model;
    // The fresh sources' cross-attention caches: the encoder, then their projections.
    let crossOut: Record<string, HostTensor> = {};
    let freshS = 0;
    const live = fresh.filter((s) => !s.gone);
    if (live.length > 0) {
      const { hidden } = await this.model.encode(live.map((s) => s.ids));
      freshS = hidden.dims[1]!;
      crossOut = await this.cross.run({ encoder_hidden_states: hidden });
    }
    const keep = this.rows.flatMap((row, i) => (row.dead ? [] : [i]));
    const freshRows: { row: Row; from: number }[] = [];
    live.forEach((src, from) => {
      for (let k = 0; k < src.n; k++)
        freshRows.push({
          row: {
            src,
            k,
            ids: [],
            lps: [],
            rand: src.greedy ? undefined : rng(rowSeed(src.seed, 0, k)),
            dead: false,
          },
          from,
        });
    });
    const rows = keep.length + freshRows.length;
    const srcLens = [...keep.map((i) => this.srcLens[i]!), ...freshRows.map(({ row }) => row.src.ids.length)];
    const maxL = Math.max(0, ...keep.map((i) => this.rows[i]!.ids.length));
    const maxS = Math.max(1, ...srcLens);
    const fits = (cur: number, need: number): boolean => cur >= need && cur <= need + SLACK;
    const roomy = this.cache.every((parts) =>
      parts.every((pair, part) => {
        const [side, cols] = part < 2 ? [this.selfSide, this.past] : [this.crossSide, this.enc];
        return pair[side].length >= rows * H * cols * K;
      }),
    );
    const inPlace = roomy && fits(this.past, maxL) && fits(this.enc, maxS);
    const P = inPlace ? this.past : maxL;
    const S = inPlace ? this.enc : maxS;
    for (let l = 0; l < layers; l++) {
      for (let part = 0; part < 4; part++) {
        const self = part < 2;
        const pair = this.cache[l]![part]!;
        const side = self ? this.selfSide : this.crossSide;
        const cols = self ? P : S;
        const per = H * cols * K;
        let dst: Float32Array;
        if (inPlace) {
          // Kept rows move down over the dead ones, a run of consecutive rows per copy.
          dst = pair[side];
          for (let j = 0; j < keep.length;) {
            let end = j + 1;
            while (end < keep.length && keep[end] === keep[j]! + (end - j)) end++;
            if (keep[j] !== j) dst.copyWithin(j * per, keep[j]! * per, (keep[j]! + end - j) * per);
            j = end;
          }
        } else {
          // Laid out anew in the other buffer: each kept row's last L self columns, first S encoder ones.
          const old = pair[side];
          const oldCols = self ? this.past : this.enc;
          dst = room(pair, flip(side), rows * per);
          keep.forEach((i, j) => {
            const len = self ? this.rows[i]!.ids.length : srcLens[j]!;
            const from = self ? oldCols - len : 0;
            const to = self ? cols - len : 0;
            for (let h = 0; h < H; h++) {
              const s = ((i * H + h) * oldCols + from) * K;
              dst.set(old.subarray(s, s + len * K), ((j * H + h) * cols + to) * K);
            }
          });
        }
        if (self) continue;
        // The fresh rows' cross caches (their self caches are empty: nothing to copy).
        const src = crossOut[`cross.${l}.${part === 2 ? 'key' : 'value'}`]?.data as Float32Array | undefined;
        freshRows.forEach(({ from }, f) => {
          const j = keep.length + f;
          const len = srcLens[j]!;
          for (let h = 0; h < H; h++) {
            const s = (from * H + h) * freshS * K;
            dst.set(src!.subarray(s, s + len * K), (j * H + h) * cols * K);
          }
        });
      }
    }
    if (!inPlace) {
      this.selfSide = flip(this.selfSide);
      this.crossSide = flip(this.crossSide);
    }
    this.encMask = ensure(this.encMask, rows * S, (m) => new BigInt64Array(m));
    this.encMask.fill(0n, 0, rows * S);
    srcLens.forEach((len, j) => this.encMask.fill(1n, j * S, j * S + len));
    this.rows = [...keep.map((i) => this.rows[i]!), ...freshRows.map(({ row }) => row)];
    this.srcLens = srcLens;
    this.dead = 0;
    this.past = P;
    this.enc = S;
  }

  /** One row-wise decoder step over the batch. */
  private async decode(): Promise<void> {
    const { layers, heads: H, headDim: K } = this.model;
    const V = this.model.vocabSize;
    const B = this.rows.length;
    const P = this.past;
    const S = this.enc;
    const T = P + 1;
    const bos = BigInt(this.model.defaults.decoderStartTokenId);
    this.selfMask = ensure(this.selfMask, B * T, (m) => new BigInt64Array(m));
    this.positions = ensure(this.positions, B, (m) => new BigInt64Array(m));
    this.tokens = ensure(this.tokens, B, (m) => new BigInt64Array(m));
    const selfMask = this.selfMask.subarray(0, B * T);
    selfMask.fill(0n);
    this.rows.forEach((row, j) => {
      // Tokens in the cache: the start token and all chosen but the last (none for a new row).
      const len = row.ids.length;
      selfMask.fill(1n, j * T + T - 1 - len, (j + 1) * T);
      this.positions[j] = BigInt(len);
      this.tokens[j] = len === 0 ? bos : BigInt(row.ids[len - 1]!);
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
