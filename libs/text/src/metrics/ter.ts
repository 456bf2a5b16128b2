/**
 * TER, translation edit rate (Snover et al., 2006), exactly as sacrebleu 2.x computes it
 * (sacrebleu/metrics/ter.py): per segment, the fewest edits (insertions, deletions, substitutions
 * and block shifts, each costing 1) over the references, and the references' mean length; a corpus
 * divides summed edits by summed mean lengths. An empty reference scores 100 against a non-empty
 * hypothesis and 0 against an empty one. Text is tokenized by the Tercom tokenizer
 * (./ter-tokenizer.ts) after stripping trailing whitespace; by default case-insensitive.
 *
 * Lower is better, unlike BLEU and chrF: a reward must negate it.
 */
import { checkCorpus, segmentReferences } from './corpus-input.js';
import { MetricInputError } from './errors.js';
import { internAll } from './ngram-table.js';
import { pyRstrip } from './py-string.js';
import { formatSignature, yesNo, type NumRefs } from './signature.js';
import { terEdits } from './ter-shifts.js';
import { terTokens, type TerTokenizerOptions } from './ter-tokenizer.js';

/** TER options; the defaults are sacrebleu's `TER()` defaults. */
export type TerOptions = TerTokenizerOptions;

/** A TER result with sacrebleu's `TERScore` fields. */
export interface TerScore {
  /** TER in percent (>= 0; can exceed 100). */
  readonly score: number;
  /** Total edits, truncated to an integer as sacrebleu reports it. */
  readonly numEdits: number;
  /** Summed mean reference length in words. */
  readonly refLength: number;
}

/**
 * References of one segment, tokenized by {@link Ter.prepare}; valid only with the `Ter` instance
 * that made it.
 */
export class TerReference {
  /** @internal */
  constructor(
    /** @internal the preparing metric */ readonly owner: Ter,
    /** @internal word → id */ readonly vocab: ReadonlyMap<string, number>,
    /** @internal word ids of each reference */ readonly refs: readonly Int32Array[],
  ) {}
}

/**
 * A configured TER metric (sacrebleu's `TER` class). Statistics per segment are
 * `[edits, meanRefLength]`, summed over a corpus.
 */
export class Ter {
  private readonly opts: Required<TerTokenizerOptions>;
  private readonly oov = new Map<string, number>();

  /** Options are plain flags, so construction cannot fail. */
  constructor(options: TerOptions = {}) {
    this.opts = {
      normalized: options.normalized ?? false,
      noPunct: options.noPunct ?? false,
      asianSupport: options.asianSupport ?? false,
      caseSensitive: options.caseSensitive ?? false,
    };
  }

  /** The words TER sees for `line` (sacrebleu's TercomTokenizer after `rstrip`). */
  tokens(line: string): string[] {
    return terTokens(pyRstrip(line), this.opts);
  }

  /**
   * Tokenizes the references of one segment once, for scoring many hypotheses.
   * @throws {MetricInputError} when `references` is empty.
   */
  prepare(references: readonly string[]): TerReference {
    if (references.length === 0) throw new MetricInputError('TER: at least one reference is required');
    const vocab = new Map<string, number>();
    const refs = references.map((r) => internAll(vocab, this.tokens(r)));
    return new TerReference(this, vocab, refs);
  }

  /**
   * The segment's statistics `[edits, meanRefLength]`: the fewest edits over the references.
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  segmentStatistics(hypothesis: string, references: readonly string[] | TerReference): number[] {
    let prepared: TerReference;
    if (references instanceof TerReference) {
      if (references.owner !== this) {
        throw new MetricInputError(
          'TER: a prepared reference can only be used with the Ter instance that prepared it',
        );
      }
      prepared = references;
    } else {
      prepared = this.prepare(references);
    }
    const words = this.tokens(hypothesis);
    const hyp = new Int32Array(words.length);
    const { vocab } = prepared;
    const oov = this.oov;
    oov.clear();
    // words the references lack still need distinct ids: the edit-distance cache is keyed by them
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      let id = vocab.get(w) ?? oov.get(w);
      if (id === undefined) {
        id = vocab.size + oov.size;
        oov.set(w, id);
      }
      hyp[i] = id;
    }
    let best = Number.MAX_SAFE_INTEGER;
    let refLengths = 0;
    for (const ref of prepared.refs) {
      const edits = terEdits(hyp, ref);
      refLengths += ref.length;
      if (edits < best) best = edits;
    }
    return [best, refLengths / prepared.refs.length];
  }

  /**
   * TER from (summed) statistics as returned by {@link segmentStatistics}.
   * @throws {MetricInputError} when `stats` does not have two entries.
   */
  scoreFromStatistics(stats: readonly number[]): TerScore {
    if (stats.length !== 2)
      throw new MetricInputError(`TER: statistics must have 2 entries, got ${stats.length}`);
    const edits = stats[0]!;
    const refLength = stats[1]!;
    let score: number;
    if (refLength > 0) score = edits / refLength;
    else score = edits > 0 ? 1.0 : 0.0;
    return { score: 100 * score, numEdits: Math.trunc(edits), refLength };
  }

  /**
   * Sentence TER of one hypothesis against its references (raw strings or prepared).
   * @throws {MetricInputError} for no references, or a reference prepared by another instance.
   */
  sentenceScore(hypothesis: string, references: readonly string[] | TerReference): TerScore {
    return this.scoreFromStatistics(this.segmentStatistics(hypothesis, references));
  }

  /**
   * Corpus TER; `references[k][i]` is the k-th reference of segment i.
   * @throws {MetricInputError} for no hypotheses, no streams, or a stream of another length.
   */
  corpusScore(hypotheses: readonly string[], references: readonly (readonly string[])[]): TerScore {
    checkCorpus('TER', hypotheses, references);
    let edits = 0.0;
    let refLength = 0.0;
    for (let i = 0; i < hypotheses.length; i++) {
      const [e, r] = this.segmentStatistics(hypotheses[i]!, segmentReferences(references, i));
      edits += e!;
      refLength += r!;
    }
    return this.scoreFromStatistics([edits, refLength]);
  }

  /**
   * sacrebleu's signature, e.g. `nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0`.
   * @param numRefs references per segment, or `'var'`.
   */
  signature(numRefs: NumRefs): string {
    return formatSignature(numRefs, [
      ['case', this.opts.caseSensitive ? 'mixed' : 'lc'],
      ['tok', 'tercom'],
      ['norm', yesNo(this.opts.normalized)],
      ['punct', yesNo(!this.opts.noPunct)],
      ['asian', yesNo(this.opts.asianSupport)],
    ]);
  }
}

/**
 * Sentence TER as `sacrebleu.sentence_ter`.
 * @throws as {@link Ter.sentenceScore}.
 */
export function sentenceTer(
  hypothesis: string,
  references: readonly string[],
  options: TerOptions = {},
): TerScore {
  return new Ter(options).sentenceScore(hypothesis, references);
}

/**
 * Corpus TER as `sacrebleu.corpus_ter`.
 * @throws as {@link Ter.corpusScore}.
 */
export function corpusTer(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: TerOptions = {},
): TerScore {
  return new Ter(options).corpusScore(hypotheses, references);
}
