/**
 * Batched decoding over a {@link Seq2SeqModel}, shared by the trainer (online samples, evaluation) and
 * the policy server so that both decode identically:
 *
 * - **greedy**: the most probable token each step;
 * - **sample**: ancestral sampling from the temperature-scaled distribution, truncated by top-k then
 *   top-p (nucleus), N independent samples per source; each sample draws from its own generator seeded
 *   by (seed, source index, sample index), so a request's output depends on its seed only, not on how
 *   it was batched with others;
 * - **beam**: beam search with Hugging Face semantics: per source, the top 2·B continuations of the B
 *   running beams; an end-of-sequence continuation ranked within the first B becomes a finished
 *   hypothesis scored `sum log p / length^lengthPenalty` (length = generated tokens including the end
 *   token); the source is done when B hypotheses are finished and either `earlyStopping` is set or the
 *   best running beam, scored the same way, cannot beat the worst finished one; at the length limit the
 *   running beams join the hypotheses.
 *
 * Every strategy runs the KV-cached decoder one token per step for all unfinished rows of the batch,
 * and drops rows (or whole sources, for beams) from the batch as soon as they finish. Banned tokens (the
 * bundle's `bad_words_ids`: Marian bans its pad token) are never chosen. Reported log-probs are the
 * model's own (temperature 1, before banning or truncation), i.e. what teacher-forced scoring of the
 * same tokens gives; a finished sequence's token ids end with the end token, whose log-prob counts.
 */
import { rng } from '../params/random.js';
import type { Seq2SeqModel, DecoderState } from './seq2seq.js';

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

/** `logits[off .. off+V)` → log-softmax into `out`. */
function logSoftmaxRow(logits: Float32Array, off: number, v: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < v; i++) max = Math.max(max, logits[off + i]!);
  let sum = 0;
  for (let i = 0; i < v; i++) sum += Math.exp(logits[off + i]! - max);
  const z = max + Math.log(sum);
  for (let i = 0; i < v; i++) out[i] = logits[off + i]! - z;
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

/** Draws a token from the truncated, temperature-scaled distribution of one row. */
function sampleToken(
  logits: Float32Array,
  off: number,
  v: number,
  r: Resolved,
  banned: ReadonlySet<number>,
  rand: () => number,
  probs: Float64Array,
): number {
  let max = -Infinity;
  for (let i = 0; i < v; i++) if (!banned.has(i)) max = Math.max(max, logits[off + i]!);
  let sum = 0;
  for (let i = 0; i < v; i++) {
    const p = banned.has(i) ? 0 : Math.exp((logits[off + i]! - max) / r.temperature);
    probs[i] = p;
    sum += p;
  }
  let candidates: number[] | undefined;
  if (r.topK > 0 && r.topK < v) {
    const order = Array.from({ length: v }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
    candidates = order.slice(0, r.topK);
  }
  if (r.topP < 1) {
    const pool0 = candidates ?? Array.from({ length: v }, (_, i) => i);
    const poolSum = candidates === undefined ? sum : candidates.reduce((a, i) => a + probs[i]!, 0);
    // Only tokens with p ≥ (1 − topP)·poolSum / |pool| can be in the nucleus: all the others together
    // hold less than (1 − topP) of the pool's mass.
    const floor = ((1 - r.topP) / pool0.length) * poolSum;
    const pool = pool0.filter((i) => probs[i]! >= floor);
    pool.sort((a, b) => probs[b]! - probs[a]! || a - b);
    let acc = 0;
    const kept: number[] = [];
    for (const i of pool) {
      kept.push(i);
      acc += probs[i]!;
      if (acc >= r.topP * poolSum) break;
    }
    candidates = kept;
  }
  if (candidates === undefined) {
    let u = rand() * sum;
    let last = 0;
    for (let i = 0; i < v; i++) {
      if (probs[i]! <= 0) continue;
      last = i;
      u -= probs[i]!;
      if (u < 0) return i;
    }
    return last;
  }
  const total = candidates.reduce((s, i) => s + probs[i]!, 0);
  let u = rand() * total;
  for (const i of candidates) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return candidates[candidates.length - 1]!;
}

function argmax(logits: Float32Array, off: number, v: number, banned: ReadonlySet<number>): number {
  let best = -1;
  let bestV = -Infinity;
  for (let i = 0; i < v; i++) {
    const x = logits[off + i]!;
    if (x > bestV && !banned.has(i)) {
      bestV = x;
      best = i;
    }
  }
  return best;
}

function repeatRows(model: Seq2SeqModel, state: DecoderState, times: number): DecoderState {
  if (times === 1) return state;
  const pick: number[] = [];
  for (let r = 0; r < state.rows; r++) for (let j = 0; j < times; j++) pick.push(r);
  return model.select(state, pick);
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
  if (sources.length === 0) return [];
  const { hidden, mask } = await model.encode(sources);
  const base = model.start(hidden, mask);
  return r.strategy === 'beam' ? beamSearch(model, base, r) : sampleOrGreedy(model, base, r);
}

async function sampleOrGreedy(model: Seq2SeqModel, base: DecoderState, r: Resolved): Promise<Candidate[][]> {
  const V = model.vocabSize;
  const { eosTokenId: eos, decoderStartTokenId: bos } = model.defaults;
  const banned = new Set(model.defaults.bannedTokenIds);
  const n = r.strategy === 'greedy' ? 1 : r.n;
  const sourcesCount = base.rows;
  let state = repeatRows(model, base, n);
  const out: Candidate[][] = Array.from({ length: sourcesCount }, () => []);
  const seqs = Array.from({ length: state.rows }, () => ({ ids: [] as number[], lps: [] as number[] }));
  const rands = seqs.map((_, row) => rng(rowSeed(r.seed, Math.floor(row / n), row % n)));
  let live = seqs.map((_, i) => i); // original row of each state row
  let tokens = new BigInt64Array(state.rows).fill(BigInt(bos));
  const logp = new Float64Array(V);
  const probs = new Float64Array(V);
  const finish = (row: number, reason: Candidate['finishReason']): void => {
    const s = seqs[row]!;
    out[Math.floor(row / n)]![row % n] = {
      tokenIds: s.ids,
      tokenLogprobs: s.lps,
      sequenceLogprob: s.lps.reduce((a, b) => a + b, 0),
      finishReason: reason,
    };
  };
  for (let step = 0; step < r.maxNew && live.length > 0; step++) {
    const logits = await model.step(state, tokens);
    const keep: number[] = [];
    const next: bigint[] = [];
    live.forEach((row, i) => {
      const off = i * V;
      const tok =
        r.strategy === 'greedy'
          ? argmax(logits, off, V, banned)
          : sampleToken(logits, off, V, r, banned, rands[row]!, probs);
      logSoftmaxRow(logits, off, V, logp);
      const s = seqs[row]!;
      s.ids.push(tok);
      s.lps.push(logp[tok]!);
      if (tok === eos) finish(row, 'eos');
      else if (step === r.maxNew - 1) finish(row, 'length');
      else {
        keep.push(i);
        next.push(BigInt(tok));
      }
    });
    if (keep.length === 0) break;
    if (keep.length < live.length) {
      state = model.select(state, keep);
      live = keep.map((i) => live[i]!);
    }
    tokens = BigInt64Array.from(next);
  }
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
  const banned = new Set(model.defaults.bannedTokenIds);
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
  const logp = new Float64Array(V);
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
        logSoftmaxRow(logits, (row + b) * V, V, logp);
        for (let t = 0; t < V; t++) {
          if (banned.has(t)) continue;
          const sum = h.sum + logp[t]!;
          if (top.length < 2 * B || sum > top[top.length - 1]!.sum) {
            let at = top.length;
            while (at > 0 && top[at - 1]!.sum < sum) at--;
            top.splice(at, 0, { beam: b, tok: t, sum, lp: logp[t]! });
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
    state = model.select(state, pick);
    tokens = BigInt64Array.from(next);
  }
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
  const logp = new Float64Array(V);
  return targets.map((t, b) => {
    const lps = t.map((tok, i) => {
      logSoftmaxRow(logits, (b * T + i) * V, V, logp);
      return logp[tok]!;
    });
    return { tokenLogprobs: lps, sequenceLogprob: lps.reduce((a, c) => a + c, 0) };
  });
}
