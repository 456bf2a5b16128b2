/**
 * chrF (Popović, 2015) and chrF++ (Popović, 2017) exactly as sacrebleu 2.x computes them
 * (sacrebleu/metrics/chrf.py, helpers.py): character n-grams of orders 1..charOrder over the text
 * with Python whitespace removed (kept with `whitespace`), plus, for chrF++ (`wordOrder` 2), word
 * n-grams of orders 1..wordOrder over whitespace tokens with one leading or trailing ASCII
 * punctuation mark split off. Per order the statistics are [hypothesis n-grams, reference n-grams,
 * clipped matches]; the hypothesis count is 0 for an order the reference has no n-grams of. With
 * several references the one giving the best sentence F-score supplies the statistics.
 *
 * The score is F-beta (beta 2 weighs recall higher) of the precision and recall averaged over the
 * orders that both sides have n-grams of (sacrebleu's default, "eff:yes"); with `epsSmoothing` it is
 * instead the mean of per-order F-scores with 1e-16 standing in for undefined values (chrF++.py,
 * Moses and NLTK; "eff:no"). The same rule applies to sentence and corpus scores, the latter over
 * summed statistics. Characters are code points, as in Python, not UTF-16 units.
 */
import { checkCorpus, segmentReferences } from './corpus-input.js';
import { MetricInputError, MetricOptionError } from './errors.js';
import { internAll, NgramTable } from './ngram-table.js';
import { codePointsInto, pySplit } from './py-string.js';
import { formatSignature, yesNo, type NumRefs } from './signature.js';

/** chrF options; the defaults are sacrebleu's `CHRF()` defaults (plain chrF2). */
export interface ChrfOptions {
  /** Highest character n-gram order. @default 6 */
  charOrder?: number;
  /** Highest word n-gram order: 0 for chrF, 2 for chrF++. @default 0 */
  wordOrder?: number;
  /** Recall weight of the F-score. @default 2 */
  beta?: number;
  /** Lower-case both sides first. @default false */
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams. @default false */
  whitespace?: boolean;
  /** Epsilon smoothing instead of the effective-order average. @default false */
  epsSmoothing?: boolean;
}

/** A chrF result. */
export interface ChrfScore {
  /** chrF in [0, 100]. */
  readonly score: number;
  /** sacrebleu's name for the variant, e.g. `chrF2` or `chrF2++`. */
  readonly name: string;
}

interface RefSide {
  /** n-grams of code points */
  readonly chars: NgramTable;
  readonly charLen: number;
  readonly wordVocab: ReadonlyMap<string, number>;
  readonly words: NgramTable;
  readonly wordLen: number;
}

/**
 * References of one segment, counted by {@link Chrf.prepare}; valid only with the `Chrf` instance
 * that made it.
 */
export class ChrfReference {
  /** @internal */
  constructor(
    /** @internal the preparing metric */ readonly owner: Chrf,
    /** @internal one entry per reference */ readonly refs: readonly RefSide[],
  ) {}
}

const EMPTY = new Int32Array(0);

// Python's string.punctuation
const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/**
 * chrF++'s word split (sacrebleu's `_remove_punctuation`, after m-popovic/chrF): whitespace tokens,
 * a final ASCII punctuation mark split off, else an initial one; never both, so "(hi)" gives
 * "(hi" and ")". A one-character token is kept whole.
 */
export function chrfWords(text: string): string[] {
  const out: string[] = [];
  // UTF-16 length is safe here: a one-code-point token that is two units is never ASCII punctuation
  for (const w of pySplit(text)) {
    if (w.length === 1) out.push(w);
    else if (PUNCTS.has(w[w.length - 1]!)) out.push(w.slice(0, -1), w[w.length - 1]!);
    else if (PUNCTS.has(w[0]!)) out.push(w[0]!, w.slice(1));
    else out.push(w);
  }
  return out;
}

interface ResolvedChrfOptions {
  readonly charOrder: number;
  readonly wordOrder: number;
  readonly beta: number;
  readonly lowercase: boolean;
  readonly whitespace: boolean;
  readonly epsSmoothing: boolean;
}

function resolve(options: ChrfOptions): ResolvedChrfOptions {
  const r = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  if (!Number.isInteger(r.charOrder) || r.charOrder < 1)
    throw new MetricOptionError('charOrder', 'must be an integer >= 1');
  if (!Number.isInteger(r.wordOrder) || r.wordOrder < 0)
    throw new MetricOptionError('wordOrder', 'must be an integer >= 0');
  if (!Number.isFinite(r.beta) || r.beta < 0)
    throw new MetricOptionError('beta', 'must be a finite number >= 0');
  return r;
}

/**
 * A configured chrF / chrF++ metric (sacrebleu's `CHRF` class). Statistics per segment are
 * `[hyp, ref, match]` for each character order then each word order, summed over a corpus.
 */
export class Chrf {
  private readonly opts: ResolvedChrfOptions;
  private chars: Int32Array = new Int32Array(256);
  private ids: Int32Array = new Int32Array(256);
  private readonly matches: Float64Array;
  private readonly scratch: { chars: NgramTable; words: NgramTable; wordVocab: Map<string, number> }[] = [];

  /** @throws {MetricOptionError} for a `charOrder` < 1, a negative `wordOrder` or a bad `beta`. */
  constructor(options: ChrfOptions = {}) {
    this.opts = resolve(options);
    this.matches = new Float64Array(Math.max(this.opts.charOrder, this.opts.wordOrder));
  }

  /** sacrebleu's name for this variant: `chrF<beta>` plus one `+` per word order. */
  get name(): string {
    return `chrF${this.opts.beta}${'+'.repeat(this.opts.wordOrder)}`;
  }

  private codePoints(text: string): number {
    const { buf, length } = codePointsInto(text, !this.opts.whitespace, this.chars);
    this.chars = buf;
    return length;
  }

  /**
   * Counts the references of one segment once, for scoring many hypotheses.
   * @throws {MetricInputError} when `references` is empty.
   */
  prepare(references: readonly string[]): ChrfReference {
    return this.build(references, false);
  }

  /** With `reuse`, counts into this instance's scratch tables: valid until the next call only. */
  private build(references: readonly string[], reuse: boolean): ChrfReference {
    if (references.length === 0) throw new MetricInputError('chrF: at least one reference is required');
    const { charOrder, wordOrder } = this.opts;
    const refs = references.map((raw, k): RefSide => {
      const text = this.opts.lowercase ? raw.toLowerCase() : raw;
      const n = this.codePoints(text);
      let scratch = this.scratch[k];
      if (reuse && scratch === undefined) {
        scratch = {
          chars: new NgramTable(charOrder),
          words: new NgramTable(Math.max(1, wordOrder)),
          wordVocab: new Map(),
        };
        this.scratch[k] = scratch;
      }
      const wordVocab = reuse ? scratch!.wordVocab : new Map<string, number>();
      wordVocab.clear();
      const wordIds = wordOrder > 0 ? internAll(wordVocab, chrfWords(text)) : EMPTY;
      return {
        chars: (reuse ? scratch!.chars : new NgramTable(charOrder)).build([this.chars.subarray(0, n)]),
        charLen: n,
        wordVocab,
        words: (reuse ? scratch!.words : new NgramTable(Math.max(1, wordOrder))).build([wordIds]),
        wordLen: wordIds.length,
      };
    });
    return new ChrfReference(this, refs);
  }

  private own(references: readonly string[] | ChrfReference): ChrfReference {
    if (!(references instanceof ChrfReference)) return this.build(references, true);
    if (references.owner !== this) {
      throw new MetricInputError(
        'chrF: a prepared reference can only be used with the Chrf instance that prepared it',
      );
    }
    return references;
  }

  private ensureIds(n: number): Int32Array {
    if (this.ids.length < n) this.ids = new Int32Array(Math.max(n, this.ids.length * 2));
    return this.ids;
  }

  /** Appends one side's [hyp, ref, match] triples for orders 1..order. */
  private addOrders(
    out: number[],
    table: NgramTable,
    hypIds: Int32Array,
    hypLen: number,
    refLen: number,
    order: number,
  ): void {
    const m = this.matches;
    m.fill(0);
    table.addMatches(hypIds, hypLen, m);
    for (let n = 1; n <= order; n++) {
      const refCount = Math.max(0, refLen - n + 1);
      out.push(refCount > 0 ? Math.max(0, hypLen - n + 1) : 0, refCount, m[n - 1]!);
    }
  }

  /**
   * The segment's statistics, from the reference with the best F-score (the first on ties).
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  segmentStatistics(hypothesis: string, references: readonly string[] | ChrfReference): number[] {
    const prepared = this.own(references);
    const { charOrder, wordOrder } = this.opts;
    const text = this.opts.lowercase ? hypothesis.toLowerCase() : hypothesis;
    const nChars = this.codePoints(text);
    const words = wordOrder > 0 ? chrfWords(text) : [];
    let best: number[] = [];
    let bestF = -1;
    for (const ref of prepared.refs) {
      const stats: number[] = [];
      this.addOrders(stats, ref.chars, this.chars, nChars, ref.charLen, charOrder);
      if (wordOrder > 0) {
        const ids = this.ensureIds(words.length);
        for (let i = 0; i < words.length; i++) ids[i] = ref.wordVocab.get(words[i]!) ?? -1;
        this.addOrders(stats, ref.words, ids, words.length, ref.wordLen, wordOrder);
      }
      const f = prepared.refs.length === 1 ? 0 : this.fScore(stats);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    return best;
  }

  private fScore(stats: readonly number[]): number {
    const order = this.opts.charOrder + this.opts.wordOrder;
    const eps = 1e-16;
    const factor = this.opts.beta ** 2;
    let score = 0.0;
    let effectiveOrder = 0;
    let avgPrec = 0.0;
    let avgRec = 0.0;
    for (let i = 0; i < order; i++) {
      const nHyp = stats[3 * i]!;
      const nRef = stats[3 * i + 1]!;
      const nMatch = stats[3 * i + 2]!;
      const prec = nHyp > 0 ? nMatch / nHyp : eps;
      const rec = nRef > 0 ? nMatch / nRef : eps;
      const denom = factor * prec + rec;
      score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
      if (nHyp > 0 && nRef > 0) {
        avgPrec += prec;
        avgRec += rec;
        effectiveOrder += 1;
      }
    }
    if (this.opts.epsSmoothing) return (100 * score) / order;
    if (effectiveOrder === 0) {
      avgPrec = avgRec = 0.0;
    } else {
      avgPrec /= effectiveOrder;
      avgRec /= effectiveOrder;
    }
    if (avgPrec + avgRec === 0) return 0.0;
    score = (1 + factor) * avgPrec * avgRec;
    score /= factor * avgPrec + avgRec;
    return 100 * score;
  }

  /**
   * chrF from (summed) statistics as returned by {@link segmentStatistics}.
   * @throws {MetricInputError} when `stats` has the wrong length.
   */
  scoreFromStatistics(stats: readonly number[]): ChrfScore {
    const want = 3 * (this.opts.charOrder + this.opts.wordOrder);
    if (stats.length !== want)
      throw new MetricInputError(`chrF: statistics must have ${want} entries, got ${stats.length}`);
    return { score: this.fScore(stats), name: this.name };
  }

  /**
   * Sentence chrF of one hypothesis against its references (raw strings or prepared).
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  sentenceScore(hypothesis: string, references: readonly string[] | ChrfReference): ChrfScore {
    return this.scoreFromStatistics(this.segmentStatistics(hypothesis, references));
  }

  /**
   * Corpus chrF over summed statistics; `references[k][i]` is the k-th reference of segment i.
   * @throws {MetricInputError} for no hypotheses, no streams, or a stream of another length.
   */
  corpusScore(hypotheses: readonly string[], references: readonly (readonly string[])[]): ChrfScore {
    checkCorpus('chrF', hypotheses, references);
    const sum = new Array<number>(3 * (this.opts.charOrder + this.opts.wordOrder)).fill(0);
    for (let i = 0; i < hypotheses.length; i++) {
      const stats = this.segmentStatistics(hypotheses[i]!, segmentReferences(references, i));
      for (let k = 0; k < sum.length; k++) sum[k] = sum[k]! + stats[k]!;
    }
    return this.scoreFromStatistics(sum);
  }

  /**
   * sacrebleu's signature, e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
   * @param numRefs references per segment, or `'var'`.
   */
  signature(numRefs: NumRefs): string {
    return formatSignature(numRefs, [
      ['case', this.opts.lowercase ? 'lc' : 'mixed'],
      ['eff', yesNo(!this.opts.epsSmoothing)],
      ['nc', String(this.opts.charOrder)],
      ['nw', String(this.opts.wordOrder)],
      ['space', yesNo(this.opts.whitespace)],
    ]);
  }
}

/**
 * Sentence chrF as `sacrebleu.sentence_chrf` (chrF++ with `wordOrder: 2`).
 * @throws as {@link Chrf}'s constructor and {@link Chrf.sentenceScore}.
 */
export function sentenceChrf(
  hypothesis: string,
  references: readonly string[],
  options: ChrfOptions = {},
): ChrfScore {
  return new Chrf(options).sentenceScore(hypothesis, references);
}

/**
 * Corpus chrF as `sacrebleu.corpus_chrf`.
 * @throws as {@link Chrf}'s constructor and {@link Chrf.corpusScore}.
 */
export function corpusChrf(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: ChrfOptions = {},
): ChrfScore {
  return new Chrf(options).corpusScore(hypotheses, references);
}
