/**
 * Reward distributions: fixed-width histograms and summary statistics, shared by `rest report` (whose
 * charts get pre-binned counts, so an HTML file never carries every sample) and `rest inspect` (whose
 * unicode bars and JSON carry the same bins), so the two always agree.
 */

/** One histogram bin: `[from, to)`, the last bin closed on the right. */
export interface HistogramBin {
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

/** Mean, population standard deviation, min and max; all NaN for no values. */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** Bins of a reward histogram. @default 20 */
export const DEFAULT_BINS = 20;

/**
 * The x range of a reward histogram: [0, 1] on the `clipped01` scale (so every Grow's histogram
 * shares one axis), else the data's range (a unit range around a single value).
 */
export function rewardDomain(
  values: readonly number[],
  normalization: string | undefined,
): readonly [number, number] {
  if (normalization === 'clipped01' && values.every((v) => v >= 0 && v <= 1)) return [0, 1];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

/**
 * Counts `values` into `bins` equal bins over `domain`; values outside it go to the end bins, so the
 * counts always sum to `values.length`.
 * @throws RangeError when `bins` is not a positive integer or the domain is empty.
 */
export function histogram(
  values: readonly number[],
  domain: readonly [number, number],
  bins: number = DEFAULT_BINS,
): HistogramBin[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be an integer >= 1 (got ${bins})`);
  const [lo, hi] = domain;
  if (!(hi > lo)) throw new RangeError(`histogram domain [${lo}, ${hi}] is empty`);
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    counts[b]! += 1;
  }
  return counts.map((count, b) => ({
    from: lo + b * width,
    to: b === bins - 1 ? hi : lo + (b + 1) * width,
    count,
  }));
}

/** Summary statistics of `values`. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { count: values.length, mean, std: Math.sqrt(sq / values.length), min, max };
}
