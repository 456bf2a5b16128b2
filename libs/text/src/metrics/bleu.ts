/**
 * BLEU (Papineni et al., 2002) exactly as sacrebleu 2.x computes it (sacrebleu/metrics/bleu.py):
 * per segment, the hypothesis length, the closest reference length (ties to the shorter), and per
 * order the clipped n-gram matches against the max-merged reference counts and the hypothesis n-gram
 * count; a corpus sums those statistics, then applies the brevity penalty and the geometric mean of
 * the smoothed precisions. Smoothing follows Chen & Cherry (2014, W14-3346) as sacrebleu names it:
 * `floor` (method 1), `add-k` (method 2), `exp` (method 3, NIST/mteval's), `none`. `effectiveOrder`
 * averages only over the orders the hypothesis has n-grams of.
 *
 * Floating-point operations are done in sacrebleu's order, so scores agree to the last bit or two
 * (only `Math.exp`/`Math.log` may differ from C's libm by an ulp).
 *
 * Grow scores N candidates against one reference: {@link Bleu.prepare} tokenizes and counts the
 * references once, and {@link Bleu.sentenceScore} accepts the result.
 */
import { bleuTokenizer, type BleuTokenizer, type BleuTokenizerName } from './bleu-tokenizers.js';
import { checkCorpus, segmentReferences } from './corpus-input.js';
import { MetricInputError, MetricOptionError } from './errors.js';
import { internAll, NgramTable } from './ngram-table.js';
import { pyFixed2, pyRstrip } from './py-string.js';
import { formatSignature, yesNo, type NumRefs } from './signature.js';

/** BLEU smoothing methods, as sacrebleu names them. */
export const BLEU_SMOOTH_METHODS = ['exp', 'floor', 'add-k', 'none'] as const;

/** One of {@link BLEU_SMOOTH_METHODS}. */
export type BleuSmoothMethod = (typeof BLEU_SMOOTH_METHODS)[number];

/** The smoothing value used when none is given: 0.1 for `floor`, 1 for `add-k` (Chen & Cherry). */
export const BLEU_SMOOTH_DEFAULTS: Readonly<Record<'floor' | 'add-k', number>> = { floor: 0.1, 'add-k': 1 };

/** BLEU options; the defaults are sacrebleu's `BLEU()` defaults. */
export interface BleuOptions {
  /** Lower-case hypotheses and references first. @default false */
  lowercase?: boolean;
  /** Tokenizer name (`13a`, `intl`, `char`, `none`). @default '13a' */
  tokenize?: string;
  /** Smoothing method. @default 'exp' */
  smoothMethod?: BleuSmoothMethod;
  /** Value for `floor` and `add-k`; ignored by the others. @default {@link BLEU_SMOOTH_DEFAULTS} */
  smoothValue?: number;
  /** Highest n-gram order. @default 4 */
  maxNgramOrder?: number;
  /**
   * Average only over orders with hypothesis n-grams. @default false here, as in sacrebleu's
   * `BLEU` class; {@link sentenceBleu} defaults it to true, as `sacrebleu.sentence_bleu` does.
   */
  effectiveOrder?: boolean;
}

/** A BLEU result with sacrebleu's `BLEUScore` fields. */
export interface BleuScore {
  /** BLEU in [0, 100]. */
  readonly score: number;
  /** Matched n-grams per order (after `add-k` smoothing, as sacrebleu reports them). */
  readonly counts: readonly number[];
  /** Hypothesis n-grams per order (after `add-k` smoothing). */
  readonly totals: readonly number[];
  /** Smoothed precisions per order, in percent. */
  readonly precisions: readonly number[];
  /** Brevity penalty in [0, 1]. */
  readonly bp: number;
  /** Hypothesis length in tokens (summed over a corpus). */
  readonly sysLen: number;
  /** Effective reference length in tokens (summed over a corpus). */
  readonly refLen: number;
}

/**
 * References of one segment, tokenized and counted by {@link Bleu.prepare}; valid only with the
 * `Bleu` instance that made it.
 */
export class BleuReference {
  /** @internal */
  constructor(
    /** @internal the preparing metric */ readonly owner: Bleu,
    /** @internal token → id */ readonly vocab: ReadonlyMap<string, number>,
    /** @internal merged n-gram counts */ readonly table: NgramTable,
    /** @internal length of each reference in tokens */ readonly lengths: readonly number[],
  ) {}

  /** Number of references. */
  get numRefs(): number {
    return this.lengths.length;
  }
}

/**
 * Computes BLEU from sufficient statistics, as sacrebleu's `BLEU.compute_bleu`: used per sentence
 * and, with summed statistics, per corpus. Inputs are not modified.
 * @param correct matched n-grams per order.
 * @param total hypothesis n-grams per order (same length as `correct`).
 * @param sysLen hypothesis length; @param refLen effective reference length.
 * @param options smoothing, effective order; `maxNgramOrder` is taken from `correct.length`.
 */
export function computeBleu(
  correct: readonly number[],
  total: readonly number[],
  sysLen: number,
  refLen: number,
  options: Pick<BleuOptions, 'smoothMethod' | 'smoothValue' | 'effectiveOrder'> = {},
): BleuScore {
  const method = options.smoothMethod ?? 'exp';
  const value =
    options.smoothValue ?? (method === 'floor' || method === 'add-k' ? BLEU_SMOOTH_DEFAULTS[method] : 0);
  const maxOrder = correct.length;
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(maxOrder).fill(0);
  const counts = correct.slice();
  const totals = total.slice();
  // sacrebleu stops here when nothing matched (its issue #141), before any smoothing
  if (!counts.some((c) => c !== 0)) return { score: 0, counts, totals, precisions, bp, sysLen, refLen };

  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      counts[n - 1] = counts[n - 1]! + value;
      totals[n - 1] = totals[n - 1]! + value;
    }
    const t = totals[n - 1]!;
    if (t === 0) break;
    if (options.effectiveOrder === true) effOrder = n;
    const c = counts[n - 1]!;
    if (c === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * t);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * value) / t;
      }
    } else {
      precisions[n - 1] = (100 * c) / t;
    }
  }
  let logSum = 0;
  // sacrebleu's my_log floors log(0) at -9999999999 rather than -Infinity
  for (let k = 0; k < effOrder; k++) logSum += precisions[k] === 0 ? -9999999999 : Math.log(precisions[k]!);
  return { score: bp * Math.exp(logSum / effOrder), counts, totals, precisions, bp, sysLen, refLen };
}

interface ResolvedBleuOptions {
  readonly lowercase: boolean;
  readonly tokenizer: BleuTokenizer;
  readonly smoothMethod: BleuSmoothMethod;
  readonly smoothValue: number | undefined;
  readonly maxNgramOrder: number;
  readonly effectiveOrder: boolean;
}

function resolve(options: BleuOptions): ResolvedBleuOptions {
  const smoothMethod = options.smoothMethod ?? 'exp';
  if (!(BLEU_SMOOTH_METHODS as readonly string[]).includes(smoothMethod)) {
    throw new MetricOptionError(
      'smoothMethod',
      `unknown method ${JSON.stringify(smoothMethod)} (known: ${BLEU_SMOOTH_METHODS.join(', ')})`,
    );
  }
  if (options.smoothValue !== undefined && !Number.isFinite(options.smoothValue)) {
    throw new MetricOptionError('smoothValue', 'must be a finite number');
  }
  const maxNgramOrder = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new MetricOptionError('maxNgramOrder', 'must be an integer >= 1');
  }
  return {
    lowercase: options.lowercase ?? false,
    tokenizer: bleuTokenizer(options.tokenize ?? '13a'),
    smoothMethod,
    smoothValue: options.smoothValue,
    maxNgramOrder,
    effectiveOrder: options.effectiveOrder ?? false,
  };
}

/**
 * A configured BLEU metric (sacrebleu's `BLEU` class). Statistics per segment are
 * `[sysLen, refLen, correct_1..N, total_1..N]`, summed over a corpus as sacrebleu does.
 */
export class Bleu {
  private readonly opts: ResolvedBleuOptions;
  private hypIds: Int32Array = new Int32Array(256);
  private readonly matches: Float64Array;
  private readonly scratchTable: NgramTable;
  private readonly scratchVocab = new Map<string, number>();

  /**
   * @throws {UnknownTokenizerError} for an unknown `tokenize`.
   * @throws {MetricOptionError} for an unknown `smoothMethod`, a non-finite `smoothValue` or a
   *   `maxNgramOrder` that is not an integer >= 1.
   */
  constructor(options: BleuOptions = {}) {
    this.opts = resolve(options);
    this.matches = new Float64Array(this.opts.maxNgramOrder);
    this.scratchTable = new NgramTable(this.opts.maxNgramOrder);
  }

  /** The tokenizer name in use. */
  get tokenizerName(): BleuTokenizerName {
    return this.opts.tokenizer.name;
  }

  private preprocess(line: string): string[] {
    return this.opts.tokenizer.tokens(pyRstrip(this.opts.lowercase ? line.toLowerCase() : line));
  }

  /**
   * Tokenizes and counts the references of one segment once, for scoring many hypotheses.
   * @throws {MetricInputError} when `references` is empty.
   */
  prepare(references: readonly string[]): BleuReference {
    return this.build(references, new NgramTable(this.opts.maxNgramOrder), new Map());
  }

  private build(references: readonly string[], table: NgramTable, vocab: Map<string, number>): BleuReference {
    if (references.length === 0) throw new MetricInputError('BLEU: at least one reference is required');
    const seqs = references.map((r) => internAll(vocab, this.preprocess(r)));
    return new BleuReference(
      this,
      vocab,
      table.build(seqs),
      seqs.map((s) => s.length),
    );
  }

  private own(references: readonly string[] | BleuReference): BleuReference {
    if (!(references instanceof BleuReference)) {
      // raw strings are counted into reused buffers: the result never outlives this call
      this.scratchVocab.clear();
      return this.build(references, this.scratchTable, this.scratchVocab);
    }
    if (references.owner !== this) {
      throw new MetricInputError(
        'BLEU: a prepared reference can only be used with the Bleu instance that prepared it',
      );
    }
    return references;
  }

  /**
   * The segment's sufficient statistics `[sysLen, refLen, correct_1..N, total_1..N]`.
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  segmentStatistics(hypothesis: string, references: readonly string[] | BleuReference): number[] {
    const ref = this.own(references);
    const tokens = this.preprocess(hypothesis);
    const len = tokens.length;
    if (this.hypIds.length < len) this.hypIds = new Int32Array(Math.max(len, this.hypIds.length * 2));
    const ids = this.hypIds;
    for (let i = 0; i < len; i++) ids[i] = ref.vocab.get(tokens[i]!) ?? -1;
    const matches = this.matches;
    matches.fill(0);
    ref.table.addMatches(ids, len, matches);

    let closestDiff = -1;
    let closestLen = -1;
    for (const refLen of ref.lengths) {
      const diff = Math.abs(len - refLen);
      if (closestDiff === -1 || diff < closestDiff) {
        closestDiff = diff;
        closestLen = refLen;
      } else if (diff === closestDiff && refLen < closestLen) {
        closestLen = refLen;
      }
    }
    const order = this.opts.maxNgramOrder;
    const stats = new Array<number>(2 + 2 * order);
    stats[0] = len;
    stats[1] = closestLen;
    for (let n = 0; n < order; n++) {
      stats[2 + n] = matches[n]!;
      stats[2 + order + n] = Math.max(0, len - n);
    }
    return stats;
  }

  /**
   * BLEU from (summed) statistics as returned by {@link segmentStatistics}.
   * @throws {MetricInputError} when `stats` has the wrong length.
   */
  scoreFromStatistics(stats: readonly number[]): BleuScore {
    const order = this.opts.maxNgramOrder;
    if (stats.length !== 2 + 2 * order) {
      throw new MetricInputError(`BLEU: statistics must have ${2 + 2 * order} entries, got ${stats.length}`);
    }
    return computeBleu(stats.slice(2, 2 + order), stats.slice(2 + order), stats[0]!, stats[1]!, this.opts);
  }

  /**
   * Sentence BLEU of one hypothesis against its references (raw strings or prepared).
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  sentenceScore(hypothesis: string, references: readonly string[] | BleuReference): BleuScore {
    return this.scoreFromStatistics(this.segmentStatistics(hypothesis, references));
  }

  /**
   * Corpus BLEU. `references` holds reference streams, as in sacrebleu: `references[k][i]` is the
   * k-th reference of segment i.
   * @throws {MetricInputError} for no hypotheses, no streams, or a stream of another length.
   */
  corpusScore(hypotheses: readonly string[], references: readonly (readonly string[])[]): BleuScore {
    checkCorpus('BLEU', hypotheses, references);
    const sum = new Array<number>(2 + 2 * this.opts.maxNgramOrder).fill(0);
    for (let i = 0; i < hypotheses.length; i++) {
      const stats = this.segmentStatistics(hypotheses[i]!, segmentReferences(references, i));
      for (let k = 0; k < sum.length; k++) sum[k] = sum[k]! + stats[k]!;
    }
    return this.scoreFromStatistics(sum);
  }

  /**
   * sacrebleu's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
   * @param numRefs references per segment, or `'var'`.
   */
  signature(numRefs: NumRefs): string {
    const { smoothMethod, smoothValue } = this.opts;
    let smooth: string = smoothMethod;
    if (smoothMethod === 'floor' || smoothMethod === 'add-k') {
      smooth += `[${pyFixed2(smoothValue ?? BLEU_SMOOTH_DEFAULTS[smoothMethod])}]`;
    }
    return formatSignature(numRefs, [
      ['case', this.opts.lowercase ? 'lc' : 'mixed'],
      ['eff', yesNo(this.opts.effectiveOrder)],
      ['tok', this.opts.tokenizer.name],
      ['smooth', smooth],
    ]);
  }
}

/**
 * Sentence BLEU as `sacrebleu.sentence_bleu`: effective order on unless turned off.
 * @throws as {@link Bleu}'s constructor and {@link Bleu.sentenceScore}.
 */
export function sentenceBleu(
  hypothesis: string,
  references: readonly string[],
  options: BleuOptions = {},
): BleuScore {
  return new Bleu({ ...options, effectiveOrder: options.effectiveOrder ?? true }).sentenceScore(
    hypothesis,
    references,
  );
}

/**
 * Corpus BLEU as `sacrebleu.corpus_bleu` (effective order off unless turned on).
 * @throws as {@link Bleu}'s constructor and {@link Bleu.corpusScore}.
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: BleuOptions = {},
): BleuScore {
  return new Bleu(options).corpusScore(hypotheses, references);
}
