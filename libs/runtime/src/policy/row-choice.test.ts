// RowChooser against a plain reference: a full float64 log-softmax with Math.exp, an arg-max over the
// allowed tokens, and the truncation by sorting the whole vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../params/random.js';
import { RowChooser, logSumExp, type SamplingSettings } from './row-choice.js';

const V = 300;
const BANNED = [0, 7];
/** Log-probs computed two ways (Math.exp vs fastExp, other summation) agree to this. */
const LOGPROB_TOLERANCE = 1e-12;

/** Rows with ties (values on a coarse grid) and a banned token that is sometimes the maximum. */
function rows(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * V).map(() => Math.round(r() * 40) / 4 - 5);
  for (let i = 0; i < n; i += 3) out[i * V + 7] = 50;
  return out;
}

function referenceLogSoftmax(logits: Float32Array, off: number): number[] {
  const xs = Array.from(logits.subarray(off, off + V));
  const max = Math.max(...xs);
  const z = max + Math.log(xs.reduce((a, x) => a + Math.exp(x - max), 0));
  return xs.map((x) => x - z);
}

/** The weights' order the truncations use: weight descending, token ascending. */
function referenceCandidates(w: number[], s: SamplingSettings): number[] {
  let pool = w.map((_, i) => i).sort((a, b) => w[b]! - w[a]! || a - b);
  if (s.topK > 0) pool = pool.slice(0, s.topK);
  if (s.topP < 1) {
    const total = pool.reduce((a, i) => a + w[i]!, 0);
    const kept: number[] = [];
    let acc = 0;
    for (const i of pool) {
      kept.push(i);
      acc += w[i]!;
      if (acc >= s.topP * total) break;
    }
    pool = kept;
  }
  return pool.filter((i) => w[i]! > 0);
}

test('RowChooser.greedy: the first most probable allowed token and its log-softmax value', () => {
  const n = 40;
  const logits = rows(n, 1);
  const chooser = new RowChooser(V, BANNED);
  for (let r = 0; r < n; r++) {
    const lp = referenceLogSoftmax(logits, r * V);
    let best = -1;
    for (let i = 0; i < V; i++) if (!BANNED.includes(i) && (best < 0 || lp[i]! > lp[best]!)) best = i;
    assert.equal(chooser.greedy(logits, r * V), best, `row ${r}`);
    assert.ok(Math.abs(chooser.logprob - lp[best]!) <= LOGPROB_TOLERANCE, `row ${r}`);
    assert.ok(Math.abs(logSumExp(logits, r * V, V) - (logits[r * V]! - lp[0]!)) <= LOGPROB_TOLERANCE);
  }
});

test('RowChooser.sample: draws only the truncated candidates, with the model log-prob', () => {
  const n = 30;
  const logits = rows(n, 2);
  for (const s of [
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.7, topK: 5, topP: 1 },
    { temperature: 1.3, topK: 0, topP: 0.5 },
    { temperature: 1, topK: 200, topP: 0.9 }, // past the insertion limit: sorted
    { temperature: 0.9, topK: 12, topP: 0.8 },
  ]) {
    const chooser = new RowChooser(V, BANNED, s);
    for (let r = 0; r < n; r++) {
      const off = r * V;
      const allowedMax = Math.max(
        ...Array.from(logits.subarray(off, off + V)).filter((_, i) => !BANNED.includes(i)),
      );
      const w = Array.from(logits.subarray(off, off + V), (x, i) =>
        BANNED.includes(i) ? 0 : Math.exp((x - allowedMax) / s.temperature),
      );
      const candidates = new Set(referenceCandidates(w, s));
      const lp = referenceLogSoftmax(logits, off);
      for (const u of [0, 0.3, 0.999999]) {
        const tok = chooser.sample(logits, off, () => u);
        assert.ok(candidates.has(tok), `${JSON.stringify(s)} row ${r}: token ${tok} is not a candidate`);
        assert.ok(Math.abs(chooser.logprob - lp[tok]!) <= LOGPROB_TOLERANCE);
      }
      // u = 0 draws the first candidate in the order the draw walks them.
      const first = s.topK === 0 && s.topP === 1 ? Math.min(...candidates) : referenceCandidates(w, s)[0];
      assert.equal(
        chooser.sample(logits, off, () => 0),
        first,
      );
    }
  }
});

test('RowChooser on normalised rows: the raw rows’ choices, and the values read as log-probs', () => {
  const n = 30;
  const raw = rows(n, 3);
  const normalised = new Float32Array(raw.length); // [n, V] f32 log-probs, as the decoder graph emits
  for (let r = 0; r < n; r++) normalised.set(referenceLogSoftmax(raw, r * V), r * V);
  for (const s of [
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.7, topK: 5, topP: 1 },
    { temperature: 1.3, topK: 0, topP: 0.5 },
  ]) {
    const fromRaw = new RowChooser(V, BANNED, s);
    const fromLogProbs = new RowChooser(V, BANNED, s, true);
    for (let r = 0; r < n; r++) {
      const off = r * V;
      const tok = fromLogProbs.greedy(normalised, off);
      assert.equal(tok, fromRaw.greedy(raw, off), `row ${r}`);
      assert.equal(fromLogProbs.logprob, normalised[off + tok], `row ${r}: the value itself`);
      for (const u of [0, 0.3, 0.999999]) {
        const drawn = fromLogProbs.sample(normalised, off, () => u);
        assert.equal(
          drawn,
          fromRaw.sample(raw, off, () => u),
          `${JSON.stringify(s)} row ${r} u ${u}`,
        );
        assert.equal(fromLogProbs.logprob, normalised[off + drawn]);
      }
    }
  }
});
