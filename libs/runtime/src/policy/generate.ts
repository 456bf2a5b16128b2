/**
 * Batched decoding over a {@link Seq2SeqModel}, shared by the trainer (online samples, evaluation) and
 * the policy server so that both decode identically:
 *
 * - **greedy**: the most probable token each step;
 * - **sample**: ancestral sampling from the temperature-scaled distribution, truncated by top-k then
 *   top-p (nucleus), N independent samples per source; each sample draws from its own generator seeded
 *   by (seed, source index, sample index) — or by (the source's own seed, sample index) when
 *   `sourceSeeds` is given, so that a source draws the same in any batch and at any position;
 * - **beam**: beam search with Hugging Face semantics: per source, the top 2·B continuations of the B
 *   running beams; an end-of-sequence continuation ranked within the first B becomes a finished
 *   hypothesis scored `sum log p / length^lengthPenalty` (length = generated tokens including the end
 *   token); the source is done when B hypotheses are finished and either `earlyStopping` is set or the
 *   best running beam, scored the same way, cannot beat the worst finished one; at the length limit the
 *   running beams join the hypotheses.
 *
 * Every strategy runs the KV-cached decoder one token per step for all unfinished rows of the batch,
 * and drops finished rows (a few at a time; whole sources, for beams, as soon as they finish). Banned tokens (the
 * bundle's `bad_words_ids`: Marian bans its pad token) are never chosen. Reported log-probs are the
 * model's own (temperature 1, before banning or truncation), i.e. what teacher-forced scoring of the
 * same tokens gives; a finished sequence's token ids end with the end token, whose log-prob counts.
 * They are the decoder's values as they are when its logits are log-probabilities
 * (`Seq2SeqModel.logitsNormalized`: our bundles), and `logit − log Σ exp` of the row otherwise.
 */
import { rng } from '../params/random.js';
import type { Seq2SeqModel, DecoderState } from './seq2seq.js';
import { RowChooser, logSumExp } from './row-choice.js';

/** How to decode. */
export interface DecodingOptions {
  strategy: 'greedy' | 'sample' | 'beam';
  /** Candidates per source: samples (sample), best finished hypotheses (beam, ≤ beamSize); greedy: 1. @default 1 */
  numReturn?: number;
  /** Most new tokens per candidate, the end token included. @default the bundle's max_length − 1 */
  maxNewTokens?: number;
  /** sample: > 0. @default 1 */
  temperature?: number;
  /** sample: keep the k most probable tokens; 0 = all. @default 0 */
  topK?: number;
  /** sample: keep the smallest set of most probable tokens whose probability reaches p; (0, 1]. @default 1 */
  topP?: number;
  /** sample: generator seed (same seed, same samples). @default 0 */
  seed?: number;
  /**
   * sample: one generator seed per source, used instead of `seed`: source i then draws exactly what a
   * call with `[sources[i]]` and `seed: sourceSeeds[i]` draws, whatever else is in the batch. One
   * finite number per source. @default none: `seed`, with each source's position in `sources`
   */
  sourceSeeds?: readonly number[];
  /** beam: beams per source. @default 4 */
  beamSize?: number;
  /** beam: exponent of the length normalisation. @default 1 */
  lengthPenalty?: number;
  /** beam: stop a source as soon as `beamSize` hypotheses are finished. @default false */
  earlyStopping?: boolean;
}

/** Thrown for decoding options out of range; the message names the field. */
export class DecodingError extends Error {
  override name = 'DecodingError';
}

/** One generated candidate. */
export interface Candidate {
  tokenIds: number[];
  tokenLogprobs: number[];
  sequenceLogprob: number;
  finishReason: 'eos' | 'length';
  /** beam: the length-normalised score it was ranked by. */
  score?: number;
}

/** The resolved options, checked. */
interface Resolved {
  strategy: DecodingOptions['strategy'];
  n: number;
  maxNew: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  beam: number;
  lp: number;
  early: boolean;
}

/** Applies defaults and checks ranges; throws DecodingError naming the field. */
export function resolveDecoding(o: DecodingOptions, defaultMaxNew: number): Resolved {
  const fail = (field: string, what: string, v: unknown): never => {
    throw new DecodingError(`${field}: ${what}, got ${String(v)}`);
  };
  if (!['greedy', 'sample', 'beam'].includes(o.strategy))
    fail('strategy', 'must be greedy, sample or beam', o.strategy);
  const int = (field: string, v: number, min: number, max: number): number =>
    Number.isInteger(v) && v >= min && v <= max
      ? v
      : fail(field, `must be an integer in [${min}, ${max}]`, v);
  const beam = int('beamSize', o.beamSize ?? 4, 1, 64);
  const n = int(
    'numReturn',
    o.numReturn ?? 1,
    1,
    o.strategy === 'beam' ? beam : o.strategy === 'greedy' ? 1 : 1024,
  );
  const maxNew = int('maxNewTokens', o.maxNewTokens ?? defaultMaxNew, 1, 4096);
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0 && temperature <= 100)) fail('temperature', 'must be in (0, 100]', temperature);
  const topK = int('topK', o.topK ?? 0, 0, 1 << 30);
  const topP = o.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) fail('topP', 'must be in (0, 1]', topP);
  const seed = o.seed ?? 0;
  if (!Number.isFinite(seed)) fail('seed', 'must be a finite number', seed);
  const lp = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lp)) fail('lengthPenalty', 'must be finite', lp);
  return {
    strategy: o.strategy,
    n,
    maxNew,
    temperature,
    topK,
    topP,
    seed,
    beam,
    lp,
    early: o.earlyStopping ?? false,
  };
}

/** A 32-bit generator seed from (seed, source, sample): a splitmix-style mix of the three. */
export function rowSeed(seed: number, source: number, sample: number): number {
  let h = (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  for (const x of [source, sample]) {
    h = Math.imul(h ^ (x + 0x9e3779b9 + (h << 6) + (h >>> 2)), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/**
 * Decodes `sources` (token ids, end token included as the tokenizer adds it) and returns, per source,
 * its candidates. Throws DecodingError for options out of range and for empty sources.
 */
export async function generate(
  model: Seq2SeqModel,
  sources: readonly (readonly number[])[],
  options: DecodingOptions,
): Promise<Candidate[][]> {
  const r = resolveDecoding(options, Math.max(1, model.defaults.maxLength - 1));
  sources.forEach((s, i) => {
    if (s.length === 0) throw new DecodingError(`sources[${i}]: empty`);
  });
  const seeds = options.sourceSeeds;
  if (seeds !== undefined) {
    if (seeds.length !== sources.length)
      throw new DecodingError(`sourceSeeds: ${seeds.length} seeds for ${sources.length} sources`);
    seeds.forEach((x, i) => {
      if (!Number.isFinite(x))
        throw new DecodingError(`sourceSeeds[${i}]: must be a finite number, got ${x}`);
    });
  }
  if (sources.length === 0) return [];
  const { hidden, mask } = await model.encode(sources);
  const base = model.start(hidden, mask);
  if (r.strategy === 'beam') return beamSearch(model, base, r);
  // A source's samples draw from streams of (its seed, sample) alone: with explicit seeds it is a
  // position-0 source of its own call, so batching never changes what it draws.
  const streamSeed =
    seeds === undefined
      ? (src: number, k: number) => rowSeed(r.seed, src, k)
      : (src: number, k: number) => rowSeed(seeds[src]!, 0, k);
  return sampleOrGreedy(model, base, r, streamSeed);
}

/**
 * Finished rows stay in the batch (their outputs ignored) until at least this fraction of it is
 * finished: dropping rows copies every live row's cache, which costs about as much as a few steps of
 * a dead row, so it pays to drop them several at a time (bench/generate/README.md).
 */
const DROP_FRACTION = 1 / 8;

async function sampleOrGreedy(
  model: Seq2SeqModel,
  base: DecoderState,
  r: Resolved,
  streamSeed: (source: number, sample: number) => number,
): Promise<Candidate[][]> {
  const V = model.vocabSize;
  const { eosTokenId: eos, decoderStartTokenId: bos } = model.defaults;
  const greedy = r.strategy === 'greedy';
  const chooser = new RowChooser(V, model.defaults.bannedTokenIds, r, model.logitsNormalized);
  const n = greedy ? 1 : r.n;
  const sourcesCount = base.rows;
  const out: Candidate[][] = Array.from({ length: sourcesCount }, () => []);
  // Sequence q is sample q % n of source ⌊q / n⌋.
  const seqs = Array.from({ length: sourcesCount * n }, () => ({ ids: [] as number[], lps: [] as number[] }));
  const rands = greedy ? [] : seqs.map((_, q) => rng(streamSeed(Math.floor(q / n), q % n)));
  /** Appends token `tok` (log-prob `lp`) to sequence q; whether q goes on. */
  const append = (q: number, tok: number, lp: number, last: boolean): boolean => {
    const s = seqs[q]!;
    s.ids.push(tok);
    s.lps.push(lp);
    if (tok !== eos && !last) return true;
    out[Math.floor(q / n)]![q % n] = {
      tokenIds: s.ids,
      tokenLogprobs: s.lps,
      sequenceLogprob: s.lps.reduce((a, b) => a + b, 0),
      finishReason: tok === eos ? 'eos' : 'length',
    };
    return false;
  };
  /** Appends the token chosen from logits row `off` to sequence q; whether q goes on. */
  const advance = (logits: Float32Array, off: number, q: number, last: boolean): boolean => {
    const tok = greedy ? chooser.greedy(logits, off) : chooser.sample(logits, off, rands[q]!);
    return append(q, tok, chooser.logprob, last);
  };
  // Greedy steps after the first read the cached decoder's greedy head: two numbers a row
  // instead of the logits, which onnxruntime-node would copy out at every step.
  const headed = greedy && model.hasGreedyHead;

  // The first step runs once per source: all its samples start from the same state and logits.
  const first = await model.step(base, new BigInt64Array(sourcesCount).fill(BigInt(bos)));
  let slots: number[] = []; // sequence of each state row; −1: finished, still in the batch
  for (let q = 0; q < seqs.length; q++)
    if (advance(first, Math.floor(q / n) * V, q, r.maxNew === 1)) slots.push(q);
  if (slots.length === 0) {
    model.recycle(base);
    return out;
  }
  const fromSources = slots.map((q) => Math.floor(q / n));
  const unchanged = fromSources.length === base.rows && fromSources.every((src, i) => src === i);
  let state = unchanged ? base : model.select(base, fromSources, true);
  const tokenBuf = BigInt64Array.from(slots, (q) => BigInt(seqs[q]!.ids[0]!));
  let tokens = tokenBuf;
  let live = slots.length;
  for (let step = 1; step < r.maxNew; step++) {
    const last = step === r.maxNew - 1;
    const chosen = headed ? await model.stepGreedy(state, tokens) : undefined;
    const logits = chosen === undefined ? await model.step(state, tokens) : undefined;
    for (let i = 0; i < slots.length; i++) {
      const q = slots[i]!;
      if (q < 0) continue;
      const goesOn =
        chosen === undefined
          ? advance(logits!, i * V, q, last)
          : append(q, Number(chosen.tokens[i]!), chosen.logprobs[i]!, last);
      if (goesOn) tokens[i] = BigInt(seqs[q]!.ids[step]!);
      else {
        slots[i] = -1;
        live--;
      }
    }
    if (live === 0) break;
    if (slots.length - live >= Math.max(1, slots.length * DROP_FRACTION)) {
      const keep = slots.flatMap((q, i) => (q < 0 ? [] : [i]));
      state = model.select(state, keep, true);
      keep.forEach((i, k) => (tokenBuf[k] = tokens[i]!));
      slots = keep.map((i) => slots[i]!);
      tokens = tokenBuf.subarray(0, keep.length);
    }
  }
  model.recycle(state);
  return out;
}

interface Hyp {
  ids: number[];
  lps: number[];
  sum: number;
}

async function beamSearch(model: Seq2SeqModel, base: DecoderState, r: Resolved): Promise<Candidate[][]> {
  const V = model.vocabSize;
  const { eosTokenId: eos, decoderStartTokenId: bos } = model.defaults;
  const allowed = new Uint8Array(V).fill(1); // [V] u8: 1 = may be chosen
  for (const t of model.defaults.bannedTokenIds) if (t >= 0 && t < V) allowed[t] = 0;
  const normalized = model.logitsNormalized;
  const B = r.beam;
  const norm = (sum: number, len: number): number => sum / len ** r.lp;
  const sourcesCount = base.rows;
  // Running beams per source (one at the start), finished hypotheses per source (sorted best first).
  const running: Hyp[][] = Array.from({ length: sourcesCount }, () => [{ ids: [], lps: [], sum: 0 }]);
  const finished: { hyp: Hyp; score: number; reason: Candidate['finishReason'] }[][] = Array.from(
    { length: sourcesCount },
    () => [],
  );
  let active = Array.from({ length: sourcesCount }, (_, i) => i);
  let state = base;
  let tokens = new BigInt64Array(state.rows).fill(BigInt(bos));
  const addFinished = (src: number, hyp: Hyp, reason: Candidate['finishReason']): void => {
    const list = finished[src]!;
    list.push({ hyp, score: norm(hyp.sum, hyp.ids.length), reason });
    list.sort((a, b) => b.score - a.score);
    if (list.length > B) list.pop();
  };
  for (let step = 0; step < r.maxNew && active.length > 0; step++) {
    const logits = await model.step(state, tokens);
    const pick: number[] = [];
    const next: bigint[] = [];
    const stillActive: number[] = [];
    let row = 0;
    for (const src of active) {
      const beams = running[src]!;
      // Top 2B (beam, token) continuations by cumulative log-prob.
      const top: { beam: number; tok: number; sum: number; lp: number }[] = [];
      beams.forEach((h, b) => {
        const off = (row + b) * V;
        const z = normalized ? 0 : logSumExp(logits, off, V);
        for (let t = 0; t < V; t++) {
          if (allowed[t] === 0) continue;
          const lp = logits[off + t]! - z;
          const sum = h.sum + lp;
          if (top.length < 2 * B || sum > top[top.length - 1]!.sum) {
            let at = top.length;
            while (at > 0 && top[at - 1]!.sum < sum) at--;
            top.splice(at, 0, { beam: b, tok: t, sum, lp });
            if (top.length > 2 * B) top.pop();
          }
        }
      });
      const nextBeams: Hyp[] = [];
      const rows: number[] = [];
      top.forEach((c, rank) => {
        if (nextBeams.length >= B) return;
        const h = beams[c.beam]!;
        const hyp = { ids: [...h.ids, c.tok], lps: [...h.lps, c.lp], sum: c.sum };
        if (c.tok === eos) {
          if (rank < B) addFinished(src, hyp, 'eos');
        } else {
          nextBeams.push(hyp);
          rows.push(row + c.beam);
        }
      });
      const fin = finished[src]!;
      const len = step + 1;
      const done =
        fin.length >= B &&
        (r.early || fin[fin.length - 1]!.score >= norm(Math.max(...nextBeams.map((h) => h.sum)), len));
      if (done || len >= r.maxNew) {
        if (!done) for (const h of nextBeams) addFinished(src, h, 'length');
      } else {
        running[src] = nextBeams;
        stillActive.push(src);
        pick.push(...rows);
        next.push(...nextBeams.map((h) => BigInt(h.ids[h.ids.length - 1]!)));
      }
      row += beams.length;
    }
    active = stillActive;
    if (active.length === 0) break;
    state = model.select(state, pick, true);
    tokens = BigInt64Array.from(next);
  }
  model.recycle(state);
  return finished.map((list) =>
    list.slice(0, r.n).map(({ hyp, score, reason }) => ({
      tokenIds: hyp.ids,
      tokenLogprobs: hyp.lps,
      sequenceLogprob: hyp.sum,
      finishReason: reason,
      score,
    })),
  );
}

/**
 * Teacher-forced scoring: the log-prob of each target token (end token included when present) given
 * its source, batched. Returns per pair the token log-probs and their sum.
 */
export async function scoreTargets(
  model: Seq2SeqModel,
  sources: readonly (readonly number[])[],
  targets: readonly (readonly number[])[],
): Promise<{ tokenLogprobs: number[]; sequenceLogprob: number }[]> {
  if (sources.length !== targets.length)
    throw new DecodingError(`targets: ${targets.length} targets for ${sources.length} sources`);
  sources.forEach((s, i) => {
    if (s.length === 0) throw new DecodingError(`sources[${i}]: empty`);
  });
  targets.forEach((t, i) => {
    if (t.length === 0) throw new DecodingError(`targets[${i}]: empty`);
  });
  if (sources.length === 0) return [];
  const V = model.vocabSize;
  const { hidden, mask } = await model.encode(sources);
  const state = model.start(hidden, mask);
  const T = Math.max(...targets.map((t) => t.length));
  // Decoder input: the start token then the target shifted right, right-padded (causal attention makes
  // the padding invisible to the real positions).
  const input = new BigInt64Array(sources.length * T).fill(BigInt(model.defaults.padTokenId));
  targets.forEach((t, b) => {
    input[b * T] = BigInt(model.defaults.decoderStartTokenId);
    for (let i = 0; i + 1 < t.length; i++) input[b * T + i + 1] = BigInt(t[i]!);
  });
  const logits = await model.step(state, input, T);
  const normalized = model.logitsNormalized;
  const scores = targets.map((t, b) => {
    const lps = t.map((tok, i) => {
      const off = (b * T + i) * V;
      return logits[off + tok]! - (normalized ? 0 : logSumExp(logits, off, V));
    });
    return { tokenLogprobs: lps, sequenceLogprob: lps.reduce((a, c) => a + c, 0) };
  });
  model.recycle(state);
  return scores;
}
