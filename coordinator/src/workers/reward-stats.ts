/**
 * Summary statistics of a set of rewards, as the run events carry them (events.proto RewardStats):
 * count, mean, population standard deviation, min and max. Accumulated in f64 with Welford's
 * update, so a shard's statistics do not depend on the order its chunks were scored in beyond
 * rounding.
 */

/** The statistics of a set of rewards; all 0 for an empty set. */
export interface RewardSummary {
  readonly count: number;
  readonly mean: number;
  /** Population standard deviation (divides by count). */
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** Welford accumulator of {@link RewardSummary}. */
export class RewardAccumulator {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;

  /** Adds rewards (finite numbers; callers filter the rest out). */
  add(values: Iterable<number>): void {
    for (const x of values) {
      this.n++;
      const delta = x - this.mean;
      this.mean += delta / this.n;
      this.m2 += delta * (x - this.mean);
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
    }
  }

  /** The statistics so far. */
  summary(): RewardSummary {
    if (this.n === 0) return { count: 0, mean: 0, std: 0, min: 0, max: 0 };
    return {
      count: this.n,
      mean: this.mean,
      std: Math.sqrt(Math.max(0, this.m2 / this.n)),
      min: this.min,
      max: this.max,
    };
  }
}
