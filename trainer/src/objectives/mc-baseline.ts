/**
 * The Monte-Carlo value baseline `V(x)` = mean reward of the Grow samples of source x
 * (docs/ALGORITHMS.md §3.5 "For us": with 25–100 scored samples per source it is a cheap alternative to
 * A-LoL's learned value head, which is out of scope here). Plain TypeScript over arrays, computed once
 * per Grow step and fed as the objectives' `baseline [B]` input.
 */
import { InvalidArgumentError } from '@rest/service-kit';

/** One scored example of D_g. */
export interface ScoredExample {
  /** Identifies the source sentence x. */
  readonly sourceId: string;
  /** R(x, y), the normalised reward. */
  readonly reward: number;
  /** True for a sample of π_θ from the Grow step; false for the human reference (it gets a value but does not set it). */
  readonly sampled: boolean;
}

/**
 * `V(x)` per source: the mean reward of its sampled examples. Throws InvalidArgumentError for a
 * non-finite reward (naming its index).
 */
export function monteCarloValues(examples: readonly ScoredExample[]): Map<string, number> {
  const sums = new Map<string, { total: number; count: number }>();
  examples.forEach((e, i) => {
    if (!Number.isFinite(e.reward))
      throw new InvalidArgumentError(`examples[${i}].reward: must be finite (got ${e.reward})`);
    if (!e.sampled) return;
    const acc = sums.get(e.sourceId) ?? { total: 0, count: 0 };
    acc.total += e.reward;
    acc.count += 1;
    sums.set(e.sourceId, acc);
  });
  return new Map([...sums].map(([id, { total, count }]) => [id, total / count]));
}

/**
 * The baseline `[B]` of each example: `V(x)` of its source, from {@link monteCarloValues} over the same
 * list unless `values` is given. Throws InvalidArgumentError naming an example whose source has no
 * sampled example.
 */
export function monteCarloBaseline(
  examples: readonly ScoredExample[],
  values: ReadonlyMap<string, number> = monteCarloValues(examples),
): Float64Array {
  return Float64Array.from(examples, (e, i) => {
    const v = values.get(e.sourceId);
    if (v === undefined)
      throw new InvalidArgumentError(`examples[${i}].sourceId: source ${e.sourceId} has no sampled example`);
    return v;
  });
}
