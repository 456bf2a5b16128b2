/**
 * Corpus-level reference metrics of an evaluation, computed with @rest/text (the same code the reward
 * server's sentence-level metrics use, exact to sacrebleu's `corpus_bleu` / `corpus_chrf` /
 * `corpus_ter` with default options). One reference per segment.
 */
import { corpusBleu, corpusChrf, corpusTer } from '@rest/text';
import type { EvalMetric } from './work-messages.js';

/**
 * The corpus scores of `hypotheses` against `references` (same length, one reference each), by
 * metric name; all in percent, TER lower-is-better as sacrebleu reports it.
 * @throws MetricInputError from @rest/text when the lists are empty or differ in length.
 */
export function corpusMetrics(
  metrics: readonly EvalMetric[],
  hypotheses: readonly string[],
  references: readonly string[],
): Record<string, number> {
  const refs = [references];
  const out: Record<string, number> = {};
  for (const m of metrics) {
    switch (m) {
      case 'bleu':
        out[m] = corpusBleu(hypotheses, refs).score;
        break;
      case 'chrf':
        out[m] = corpusChrf(hypotheses, refs).score;
        break;
      case 'chrf++':
        out[m] = corpusChrf(hypotheses, refs, { wordOrder: 2 }).score;
        break;
      case 'ter':
        out[m] = corpusTer(hypotheses, refs).score;
        break;
    }
  }
  return out;
}
