/**
 * BPE vocabulary trainer: a joint source/target vocabulary learned from plain sentences, under NFKC and
 * SentencePiece's Metaspace pre-tokenisation (see `pre-tokenize.ts`), with SentencePiece-style byte
 * fallback so that every string encodes without `<unk>`.
 *
 * Vocabulary layout: specials (`<pad>` 0, `</s>` 1, `<unk>` 2), the 256 byte tokens `<0x00>`..`<0xFF>`,
 * the alphabet (every code point seen at least `minCharFrequency` times, by count desc then code
 * point), then one token per merge in merge order.
 *
 * Merges are chosen by the highest word-frequency-weighted pair count; ties go to the pair whose left
 * token has the smaller id, then the smaller right id, so equal inputs give byte-identical outputs.
 * Pair counts are updated incrementally: each merge revisits only the words that contain its pair,
 * found through a pair → words index, and a lazily invalidated heap picks the next best pair.
 *
 * Deliberately absent: unigram training, sentence sampling, and dropout. Training is synchronous; the
 * progress callback is called from inside the loop.
 */
import { byteToken, SPECIAL_TOKENS } from './special-tokens.js';
import { PairHeap } from './pair-heap.js';
import { metaspaceNormalize, metaspaceWords } from './pre-tokenize.js';
import { TokenizerTrainingError } from './errors.js';

/** Where training is: `count` while reading sentences, `merge` while learning merges. */
export type BpeTrainingProgress =
  | { readonly phase: 'count'; readonly sentences: number; readonly totalSentences: number | undefined }
  | { readonly phase: 'merge'; readonly merges: number; readonly maxMerges: number };

/** Options of `trainBpe`. */
export interface BpeTrainerOptions {
  /** Target vocabulary size, specials and byte tokens included. @default 8000 */
  readonly vocabSize?: number;
  /** Stop early once the best pair occurs fewer times than this. @default 2 */
  readonly minPairFrequency?: number;
  /** Characters seen fewer times than this stay out of the alphabet and encode as bytes. @default 1 */
  readonly minCharFrequency?: number;
  /** Number of sentences, when known up front, for the `count` phase's progress. */
  readonly totalSentences?: number;
  /** Called every `progressEvery` sentences while counting and about 200 times while merging. */
  readonly onProgress?: (progress: BpeTrainingProgress) => void;
  /** @default 10000 */
  readonly progressEvery?: number;
}

/** A trained BPE vocabulary: `vocab[id]` is the token with that id; `merges` in rank order. */
export interface TrainedBpe {
  readonly vocab: readonly string[];
  readonly merges: readonly (readonly [string, string])[];
}

/** Defaults of `BpeTrainerOptions`. */
export const BPE_TRAINER_DEFAULTS = {
  vocabSize: 8000,
  minPairFrequency: 2,
  minCharFrequency: 1,
  progressEvery: 10_000,
} as const;

// Pair keys pack two ids into one safe integer; ids stay below 2^21.
const ID_LIMIT = 0x200000;
const NO_SYMBOL = -1;

function pairKey(a: number, b: number): number {
  return a * ID_LIMIT + b;
}

/**
 * Learns a BPE vocabulary from `sentences` (source and target sentences together for a joint vocabulary).
 * @throws TokenizerTrainingError when `vocabSize` cannot hold the specials, bytes and alphabet, or an
 *   option is out of range.
 */
export function trainBpe(sentences: Iterable<string>, options: BpeTrainerOptions = {}): TrainedBpe {
  const vocabSize = options.vocabSize ?? BPE_TRAINER_DEFAULTS.vocabSize;
  const minPairFrequency = options.minPairFrequency ?? BPE_TRAINER_DEFAULTS.minPairFrequency;
  const minCharFrequency = options.minCharFrequency ?? BPE_TRAINER_DEFAULTS.minCharFrequency;
  const progressEvery = options.progressEvery ?? BPE_TRAINER_DEFAULTS.progressEvery;
  const onProgress = options.onProgress;
  const problems: string[] = [];
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize >= ID_LIMIT) {
    problems.push(`vocabSize: must be an integer in [1, ${ID_LIMIT}), got ${vocabSize}`);
  }
  if (!Number.isInteger(minPairFrequency) || minPairFrequency < 1) {
    problems.push(`minPairFrequency: must be an integer >= 1, got ${minPairFrequency}`);
  }
  if (!Number.isInteger(minCharFrequency) || minCharFrequency < 1) {
    problems.push(`minCharFrequency: must be an integer >= 1, got ${minCharFrequency}`);
  }
  if (!Number.isInteger(progressEvery) || progressEvery < 1) {
    problems.push(`progressEvery: must be an integer >= 1, got ${progressEvery}`);
  }
  if (problems.length > 0) throw new TokenizerTrainingError(problems.join('; '));

  // 1. Word counts.
  const wordCounts = new Map<string, number>();
  let sentenceCount = 0;
  for (const sentence of sentences) {
    for (const word of metaspaceWords(metaspaceNormalize(sentence))) {
      wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
    sentenceCount++;
    if (onProgress !== undefined && sentenceCount % progressEvery === 0) {
      onProgress({ phase: 'count', sentences: sentenceCount, totalSentences: options.totalSentences });
    }
  }
  onProgress?.({ phase: 'count', sentences: sentenceCount, totalSentences: options.totalSentences });

  // 2. Vocabulary head: specials, bytes, alphabet.
  const vocab: string[] = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.unk];
  for (let byte = 0; byte < 256; byte++) vocab.push(byteToken(byte));
  const ids = new Map<string, number>();
  vocab.forEach((token, id) => ids.set(token, id));

  const charCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + count);
  }
  const alphabet = [...charCounts]
    .filter(([, count]) => count >= minCharFrequency)
    .sort((x, y) => y[1] - x[1] || (x[0].codePointAt(0) ?? 0) - (y[0].codePointAt(0) ?? 0))
    .map(([ch]) => ch);
  for (const ch of alphabet) {
    if (!ids.has(ch)) {
      ids.set(ch, vocab.length);
      vocab.push(ch);
    }
  }
  if (vocab.length > vocabSize) {
    throw new TokenizerTrainingError(
      `vocabSize ${vocabSize} cannot hold 3 specials, 256 bytes and the ${alphabet.length}-character alphabet ` +
        `(${vocab.length} tokens); raise vocabSize or minCharFrequency`,
    );
  }

  // 3. Words as id arrays; characters outside the alphabet are barriers no pair crosses.
  const words: Int32Array[] = [];
  const freqs: number[] = [];
  for (const [word, count] of wordCounts) {
    const chars = Array.from(word);
    words.push(Int32Array.from(chars, (ch) => ids.get(ch) ?? NO_SYMBOL));
    freqs.push(count);
  }
  wordCounts.clear();

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const symbols = words[w] as Int32Array;
    const freq = freqs[w] as number;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const a = symbols[i] as number;
      const b = symbols[i + 1] as number;
      if (a === NO_SYMBOL || b === NO_SYMBOL) continue;
      const key = pairKey(a, b);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + freq);
      let where = pairWords.get(key);
      if (where === undefined) pairWords.set(key, (where = new Set()));
      where.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) {
    heap.push({ count, a: Math.floor(key / ID_LIMIT), b: key % ID_LIMIT });
  }

  // 4. Merges.
  const merges: [string, string][] = [];
  const maxMerges = vocabSize - vocab.length;
  const progressStep = Math.max(1, Math.floor(maxMerges / 200));
  const delta = new Map<number, number>();
  while (vocab.length < vocabSize) {
    const best = heap.pop();
    if (best === undefined) break;
    const key = pairKey(best.a, best.b);
    const live = pairCounts.get(key) ?? 0;
    if (live !== best.count) {
      // Stale: a fresher entry was pushed when the count rose; re-queue only when it fell.
      if (live > 0 && live < best.count) heap.push({ count: live, a: best.a, b: best.b });
      continue;
    }
    if (live < minPairFrequency) break;
    const left = vocab[best.a] as string;
    const right = vocab[best.b] as string;
    const merged = left + right;
    let newId = ids.get(merged);
    if (newId === undefined) {
      newId = vocab.length;
      ids.set(merged, newId);
      vocab.push(merged);
    }
    merges.push([left, right]);

    delta.clear();
    for (const w of pairWords.get(key) ?? []) {
      const old = words[w] as Int32Array;
      const next = mergeWord(old, best.a, best.b, newId);
      if (next === old) continue;
      const freq = freqs[w] as number;
      addPairs(old, -freq, delta);
      addPairs(next, freq, delta);
      words[w] = next;
      for (let i = 0; i + 1 < next.length; i++) {
        if (next[i] !== newId && next[i + 1] !== newId) continue;
        const a = next[i] as number;
        const b = next[i + 1] as number;
        if (a === NO_SYMBOL || b === NO_SYMBOL) continue;
        const k = pairKey(a, b);
        let where = pairWords.get(k);
        if (where === undefined) pairWords.set(k, (where = new Set()));
        where.add(w);
      }
    }
    pairWords.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const count = (pairCounts.get(k) ?? 0) + d;
      if (count <= 0) pairCounts.delete(k);
      else pairCounts.set(k, count);
      if (d > 0) heap.push({ count, a: Math.floor(k / ID_LIMIT), b: k % ID_LIMIT });
    }
    if (onProgress !== undefined && merges.length % progressStep === 0) {
      onProgress({ phase: 'merge', merges: merges.length, maxMerges });
    }
  }
  onProgress?.({ phase: 'merge', merges: merges.length, maxMerges });
  return { vocab, merges };
}

/** Replaces every non-overlapping (a, b), left to right, by `merged`; returns `symbols` itself when absent. */
function mergeWord(symbols: Int32Array, a: number, b: number, merged: number): Int32Array {
  let out: Int32Array | undefined;
  let n = 0;
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i] as number;
    if (s === a && i + 1 < symbols.length && symbols[i + 1] === b) {
      if (out === undefined) {
        out = new Int32Array(symbols.length - 1);
        out.set(symbols.subarray(0, i));
        n = i;
      }
      out[n++] = merged;
      i++;
    } else if (out !== undefined) {
      out[n++] = s;
    }
  }
  return out === undefined ? symbols : out.subarray(0, n);
}

function addPairs(symbols: Int32Array, weight: number, delta: Map<number, number>): void {
  for (let i = 0; i + 1 < symbols.length; i++) {
    const a = symbols[i] as number;
    const b = symbols[i + 1] as number;
    if (a === NO_SYMBOL || b === NO_SYMBOL) continue;
    const key = pairKey(a, b);
    delta.set(key, (delta.get(key) ?? 0) + weight);
  }
}
