/**
 * The per-row work of a decoding step over one row of logits `[V] f32`: pick the next token (most
 * probable, or drawn from the temperature-scaled distribution truncated by top-k then top-p) and report
 * its log-prob under the model (temperature 1, no banning or truncation).
 *
 * A row is either raw logits (optimum exports) or already log-probabilities (our decoder graphs,
 * `Seq2SeqModel.logitsNormalized`), one flag per chooser. Normalised rows need no normaliser: greedy is
 * an arg-max scan and the log-prob is the value read; sampling still normalises its own weights. Raw
 * rows are read in as few passes as possible — greedy once (maximum, arg-maximum and normaliser
 * `log Σ exp` together), sampling twice (the maxima, then the normaliser and the sampling weights) —
 * and no full log-softmax is written: the chosen token's log-prob is `logit − logsumexp`. Scratch
 * arrays are kept across rows and steps. The exponentials are {@link fastExp}'s (within 2.5 ulp of
 * `Math.exp`).
 */
import { fastExp } from './fast-exp.js';

/** Truncated top-k lists up to this length are kept by insertion; longer ones by a sort. */
const INSERTION_TOP_K = 128;

/**
 * One pass over a row: its maximum, the first index holding it, and `Σ exp(x − max)` kept relative to
 * the running maximum (rescaled whenever a larger value arrives, about ln V times for a row in no
 * particular order), so a row is read once rather than once for the maximum and again for the sum.
 */
class RowScan {
  max = -Infinity;
  argmax = -1;
  sum = 0;

  /** Scans `logits[off .. off+v)`; returns `log Σ exp`. */
  run(logits: Float32Array, off: number, v: number): number {
    let max = -Infinity;
    let argmax = -1;
    let sum = 0;
    for (let i = 0; i < v; i++) {
      const x = logits[off + i]!;
      if (x > max) {
        sum = sum * fastExp(max - x) + 1;
        max = x;
        argmax = i;
      } else sum += fastExp(x - max);
    }
    this.max = max;
    this.argmax = argmax;
    this.sum = sum;
    return max + Math.log(sum);
  }
}

const SCAN = new RowScan();

/** The first index holding the maximum of `xs[off .. off+v)` (−1 if none is above −∞). */
function argmax(xs: Float32Array, off: number, v: number): number {
  let max = -Infinity;
  let at = -1;
  for (let i = 0; i < v; i++) {
    const x = xs[off + i]!;
    if (x > max) {
      max = x;
      at = i;
    }
  }
  return at;
}

/** `log Σ_v exp(logits[off + v])`, in float64, over the V values of a row. */
export function logSumExp(logits: Float32Array, off: number, v: number): number {
  return SCAN.run(logits, off, v);
}

/** Sampling settings of a {@link RowChooser}. */
export interface SamplingSettings {
  /** > 0 */
  temperature: number;
  /** 0 = all */
  topK: number;
  /** (0, 1] */
  topP: number;
}

/**
 * Chooses tokens row by row; one per decoding call (it holds scratch arrays of V). With `normalized`,
 * rows are log-probabilities and their values are reported as they are.
 */
export class RowChooser {
  /** The log-prob of the token the last call chose. */
  logprob = 0;
  /** [V] u8: 1 = may be chosen */
  private readonly allowed: Uint8Array;
  /** [V] f64: unnormalised sampling weights of the current row */
  private readonly probs: Float64Array;
  private readonly kept: number[] = [];

  constructor(
    private readonly v: number,
    banned: Iterable<number>,
    private readonly s: SamplingSettings = { temperature: 1, topK: 0, topP: 1 },
    private readonly normalized = false,
  ) {
    this.allowed = new Uint8Array(v).fill(1);
    for (const t of banned) if (t >= 0 && t < v) this.allowed[t] = 0;
    this.probs = new Float64Array(v);
  }

  /** The most probable allowed token (the first of equals) of row `logits[off .. off+V)`. */
  greedy(logits: Float32Array, off: number): number {
    const z = this.normalized ? 0 : SCAN.run(logits, off, this.v);
    let best = this.normalized ? argmax(logits, off, this.v) : SCAN.argmax;
    // The row's maximum is banned (rare): the first allowed maximum needs its own pass.
    if (best >= 0 && this.allowed[best] === 0) best = this.allowedArgmax(logits, off);
    this.logprob = best < 0 ? -Infinity : logits[off + best]! - z;
    return best;
  }

  private allowedArgmax(logits: Float32Array, off: number): number {
    let best = -1;
    let bestV = -Infinity;
    for (let i = 0; i < this.v; i++) {
      const x = logits[off + i]!;
      if (x > bestV && this.allowed[i] === 1) {
        bestV = x;
        best = i;
      }
    }
    return best;
  }

  /** Draws a token of row `logits[off .. off+V)` with `rand` (uniform in [0, 1)). */
  sample(logits: Float32Array, off: number, rand: () => number): number {
    const { v, allowed, probs } = this;
    const { temperature, topK, topP } = this.s;
    let maxAll = -Infinity;
    let maxAllowed = -Infinity;
    for (let i = 0; i < v; i++) {
      const x = logits[off + i]!;
      if (x > maxAll) maxAll = x;
      if (x > maxAllowed && allowed[i] === 1) maxAllowed = x;
    }
    const normalized = this.normalized;
    let sum = 0; // Σ sampling weights
    let sumAll = 0; // Σ exp(logit − maxAll): the model's normaliser (raw rows only)
    if (temperature === 1 && maxAll === maxAllowed) {
      // One exp per token serves both: (x − max) / 1 is exactly x − max.
      for (let i = 0; i < v; i++) {
        const e = fastExp(logits[off + i]! - maxAll);
        sumAll += e;
        const p = allowed[i] === 1 ? e : 0;
        probs[i] = p;
        sum += p;
      }
    } else {
      for (let i = 0; i < v; i++) {
        const x = logits[off + i]!;
        if (!normalized) sumAll += fastExp(x - maxAll);
        const p = allowed[i] === 1 ? fastExp((x - maxAllowed) / temperature) : 0;
        probs[i] = p;
        sum += p;
      }
    }
    const tok = this.draw(sum, topK, topP, rand);
    this.logprob = logits[off + tok]! - (normalized ? 0 : maxAll + Math.log(sumAll));
    return tok;
  }

  /** Truncates the weights in `probs` (top-k, then top-p) and draws from what is left. */
  private draw(sum: number, topK: number, topP: number, rand: () => number): number {
    const { v, probs } = this;
    let candidates: number[] | undefined;
    if (topK > 0 && topK < v) candidates = this.topK(topK);
    if (topP < 1) {
      let poolLen = v;
      let poolSum = sum;
      if (candidates !== undefined) {
        poolLen = candidates.length;
        poolSum = candidates.reduce((a, i) => a + probs[i]!, 0);
      }
      // Only tokens with p ≥ (1 − topP)·poolSum / |pool| can be in the nucleus: all the others together
      // hold less than (1 − topP) of the pool's mass.
      const floor = ((1 - topP) / poolLen) * poolSum;
      const pool: number[] = [];
      if (candidates === undefined) {
        for (let i = 0; i < v; i++) if (probs[i]! >= floor) pool.push(i);
      } else for (const i of candidates) if (probs[i]! >= floor) pool.push(i);
      pool.sort((a, b) => probs[b]! - probs[a]! || a - b);
      let acc = 0;
      const kept: number[] = [];
      for (const i of pool) {
        kept.push(i);
        acc += probs[i]!;
        if (acc >= topP * poolSum) break;
      }
      candidates = kept;
    }
    if (candidates === undefined) {
      let u = rand() * sum;
      let last = 0;
      for (let i = 0; i < v; i++) {
        const p = probs[i]!;
        if (p <= 0) continue;
        last = i;
        u -= p;
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

  /** The k highest weights' tokens, by weight descending then token ascending. */
  private topK(k: number): number[] {
    const { v, probs } = this;
    if (k > INSERTION_TOP_K) {
      const order = Array.from({ length: v }, (_, i) => i);
      order.sort((a, b) => probs[b]! - probs[a]! || a - b);
      return order.slice(0, k);
    }
    // Tokens arrive in ascending order, so a later token of equal weight ranks after: insert only
    // above strictly smaller weights.
    const top = this.kept;
    top.length = 0;
    for (let i = 0; i < v; i++) {
      const p = probs[i]!;
      if (top.length === k && !(p > probs[top[k - 1]!]!)) continue;
      let at = top.length;
      while (at > 0 && probs[top[at - 1]!]! < p) at--;
      top.splice(at, 0, i);
      if (top.length > k) top.pop();
    }
    return top.slice();
  }
}
