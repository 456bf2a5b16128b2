/**
 * Shape checks shared by the corpus-level scorers. sacrebleu `zip`s hypotheses with reference
 * streams and so silently drops the tail of the longer one; here a length mismatch is an error.
 */
import { MetricInputError } from './errors.js';

/**
 * Checks corpus inputs: at least one hypothesis and one reference stream, and every stream as long
 * as the hypotheses (`references[k][i]` is the k-th reference of segment i).
 * @throws {MetricInputError} otherwise, naming the metric and the offending stream.
 */
export function checkCorpus(
  metric: string,
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
): void {
  if (hypotheses.length === 0) throw new MetricInputError(`${metric}: no hypotheses`);
  if (references.length === 0) throw new MetricInputError(`${metric}: no reference streams`);
  references.forEach((stream, k) => {
    if (stream.length !== hypotheses.length) {
      throw new MetricInputError(
        `${metric}: references[${k}] has ${stream.length} segments, hypotheses have ${hypotheses.length}`,
      );
    }
  });
}

/** The references of segment `i` across the streams. */
export function segmentReferences(references: readonly (readonly string[])[], i: number): string[] {
  return references.map((stream) => stream[i]!);
}
