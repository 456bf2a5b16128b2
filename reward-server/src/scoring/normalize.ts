/**
 * Maps raw scores to the requested scale. Both mappings other than `raw` are oriented so that higher
 * is better, whatever the scorer's raw orientation; for TER (lower is better, in percent):
 *
 *   clipped01 = clip(1 − TER / 100, 0, 1)          zscore = (mean − TER) / std
 *
 * Statistics are the scorer's fixed calibration, never the batch's own, so an item's score does not
 * depend on what it was batched with.
 */
import type { Normalization, ScorerInfo } from './types.js';

/** The score of one raw value under `normalization`. */
export function normalize(raw: number, info: ScorerInfo, normalization: Normalization): number {
  switch (normalization) {
    case 'raw':
      return raw;
    case 'clipped01': {
      const t = (raw - info.rawMin) / (info.rawMax - info.rawMin);
      const oriented = info.higherIsBetter ? t : 1 - t;
      return Math.min(1, Math.max(0, oriented));
    }
    case 'zscore': {
      const z = (raw - info.calibration.mean) / info.calibration.std;
      // `0 - z` rather than `-z`: an item exactly at the mean scores 0, not -0.
      return info.higherIsBetter ? z : 0 - z;
    }
  }
}

/**
 * Mean and population standard deviation of `values`.
 * @throws RangeError when fewer than 2 values are given or all are equal (std would be 0)
 */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  if (values.length < 2) throw new RangeError(`calibration needs at least 2 scores (got ${values.length})`);
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  const std = Math.sqrt(squares / values.length);
  if (!(std > 0)) throw new RangeError('calibration scores are all equal: std would be 0');
  return { mean, std };
}
