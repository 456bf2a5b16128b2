/**
 * The Improve-step filter of ReST (docs/ALGORITHMS.md §2.1, §2.3, §4): which scored Grow samples
 * of D_g train Improve step i. Pure: the caller reads the rewards, this decides, and the caller
 * materialises the kept keys. It does not dedupe candidates and does not decide whether a
 * reference belongs in D_g (pass it in its source's group when `includeReferences` is on).
 *
 * - fixed: one global τ_i, a sample passes when R > τ_i (strict, §2.1). At step 1 the guard
 *   τ_1 ← max(τ_1, mean R over D_g + 1e-6) keeps the first filtered set above the policy's own
 *   value; any step's τ is raised to previous τ + 1e-6 when it would not rise (the guard can push
 *   τ_1 past τ_2), so thresholds stay strictly increasing.
 * - percentile: per source, R ≥ the p-th percentile of that source's rewards (linear
 *   interpolation between order statistics, numpy's default), so ties at the cut all pass.
 * - interpolation: per source, R ≥ γ·max R + (1 − γ)·mean R.
 * Per-source schedules skip sources with fewer than 2 candidates (§4): with one candidate the
 * cut equals its own reward and would keep it whatever p or γ is.
 */
import type { ImproveStopRule, ThresholdSchedule } from '../run/spec.js';

/** Added to the mean reward by the τ_1 guard and to the previous τ by the monotone check. */
export const TAU_EPSILON = 1e-6;

/** One scored candidate (a Grow sample or a human reference). */
export interface RewardedSample {
  /** Unique key of the sample in the store. */
  readonly key: string;
  /** R(x, y) on the run's reward scale. */
  readonly reward: number;
}

/** The scored candidates of one source x. */
export interface SourceSamples {
  readonly sourceId: string;
  readonly samples: readonly RewardedSample[];
}

/** Summary of the per-source cuts of a percentile or interpolation step. */
export interface PerSourceTauSummary {
  readonly min: number;
  readonly mean: number;
  readonly max: number;
  /** Sources left out because they have fewer than 2 candidates. */
  readonly sourcesSkipped: number;
}

/** What the filter of one Improve step did. */
export interface FilterStats {
  readonly step: number;
  readonly kind: ThresholdSchedule['kind'];
  /** fixed only: the scheduled τ_i, the τ used, and what raised it (if anything). */
  readonly tau:
    | {
        readonly scheduled: number;
        readonly used: number;
        readonly raisedBy: 'mean-guard' | 'monotone' | undefined;
      }
    | undefined;
  /** percentile / interpolation only. */
  readonly perSourceTau: PerSourceTauSummary | undefined;
  /** Mean R over every candidate of D_g (NaN when D_g is empty). */
  readonly meanReward: number;
  readonly totalCount: number;
  readonly keptCount: number;
  /** keptCount / totalCount (0 when D_g is empty). */
  readonly keptFraction: number;
  readonly sourcesTotal: number;
  /** Sources with at least one kept candidate. */
  readonly sourcesCovered: number;
  /** sourcesCovered / sourcesTotal (0 when there are no sources). */
  readonly sourceCoverage: number;
}

/**
 * The outcome of one Improve step's filter: `kept` with the sample keys (in input order), or
 * `too-few` when the stop rule ends the Improve loop (`reasons` says which limit failed). Both
 * carry the stats; `fixed` steps also report the τ used, which the next step needs as `previousTau`.
 */
export type FilterOutcome =
  | { readonly kind: 'kept'; readonly keys: readonly string[]; readonly stats: FilterStats }
  | {
      readonly kind: 'too-few';
      readonly reasons: readonly ('min-examples' | 'min-source-coverage')[];
      readonly keys: readonly string[];
      readonly stats: FilterStats;
    };

/** Inputs of {@link filterImproveStep} besides the samples. */
export interface FilterOptions {
  /** The schedule; its list must hold an entry for `step`. */
  readonly schedule: ThresholdSchedule;
  /** The stop rule (RunSpec.improveStop). */
  readonly stop: ImproveStopRule;
  /** Improve step i, 1-based. */
  readonly step: number;
  /** fixed only: the τ used by step i − 1 (its stats' `tau.used`); `undefined` at step 1. */
  readonly previousTau?: number | undefined;
}

/**
 * Chooses the samples of Improve step `step` (see the module comment for the rules).
 * @throws RangeError when `step` has no schedule entry, or a reward is not finite
 */
export function filterImproveStep(groups: readonly SourceSamples[], options: FilterOptions): FilterOutcome {
  const { schedule, step } = options;
  const list = scheduleValues(schedule);
  const value = Number.isInteger(step) && step >= 1 ? list[step - 1] : undefined;
  if (value === undefined)
    throw new RangeError(
      `no ${schedule.kind} threshold for Improve step ${step} (schedule has ${list.length})`,
    );

  let totalCount = 0;
  let rewardSum = 0;
  for (const group of groups) {
    for (const s of group.samples) {
      if (!Number.isFinite(s.reward))
        throw new RangeError(`reward of sample ${s.key} is not finite (${s.reward})`);
      totalCount++;
      rewardSum += s.reward;
    }
  }
  const meanReward = totalCount === 0 ? Number.NaN : rewardSum / totalCount;

  const keys: string[] = [];
  let sourcesCovered = 0;
  let tau: FilterStats['tau'];
  let perSourceTau: FilterStats['perSourceTau'];

  if (schedule.kind === 'fixed') {
    let used = value;
    let raisedBy: 'mean-guard' | 'monotone' | undefined;
    if (step === 1 && schedule.meanGuard && totalCount > 0 && used < meanReward + TAU_EPSILON) {
      used = meanReward + TAU_EPSILON;
      raisedBy = 'mean-guard';
    }
    if (options.previousTau !== undefined && used <= options.previousTau) {
      used = options.previousTau + TAU_EPSILON;
      raisedBy = 'monotone';
    }
    tau = { scheduled: value, used, raisedBy };
    for (const group of groups) {
      const before = keys.length;
      for (const s of group.samples) if (s.reward > used) keys.push(s.key);
      if (keys.length > before) sourcesCovered++;
    }
  } else {
    const cuts: number[] = [];
    let sourcesSkipped = 0;
    for (const group of groups) {
      if (group.samples.length < 2) {
        sourcesSkipped++;
        continue;
      }
      const rewards = group.samples.map((s) => s.reward);
      const cut = schedule.kind === 'percentile' ? percentile(rewards, value) : interpolate(rewards, value);
      cuts.push(cut);
      const before = keys.length;
      for (const s of group.samples) if (s.reward >= cut) keys.push(s.key);
      if (keys.length > before) sourcesCovered++;
    }
    // A loop, not Math.min(...cuts): spreading one argument per source overflows the stack.
    let min = Number.NaN;
    let max = Number.NaN;
    let sum = 0;
    for (const cut of cuts) {
      if (!(cut >= min)) min = cut;
      if (!(cut <= max)) max = cut;
      sum += cut;
    }
    perSourceTau = { min, mean: cuts.length === 0 ? Number.NaN : sum / cuts.length, max, sourcesSkipped };
  }

  const sourcesTotal = groups.length;
  const stats: FilterStats = {
    step,
    kind: schedule.kind,
    tau,
    perSourceTau,
    meanReward,
    totalCount,
    keptCount: keys.length,
    keptFraction: totalCount === 0 ? 0 : keys.length / totalCount,
    sourcesTotal,
    sourcesCovered,
    sourceCoverage: sourcesTotal === 0 ? 0 : sourcesCovered / sourcesTotal,
  };
  const reasons: ('min-examples' | 'min-source-coverage')[] = [];
  if (keys.length === 0 || keys.length < options.stop.minExamples) reasons.push('min-examples');
  if (sourcesTotal === 0 || stats.sourceCoverage < options.stop.minSourceCoverage)
    reasons.push('min-source-coverage');
  return reasons.length === 0 ? { kind: 'kept', keys, stats } : { kind: 'too-few', reasons, keys, stats };
}

function scheduleValues(schedule: ThresholdSchedule): readonly number[] {
  switch (schedule.kind) {
    case 'fixed':
      return schedule.thresholds;
    case 'percentile':
      return schedule.percentiles;
    case 'interpolation':
      return schedule.gammas;
  }
}

/**
 * The p-th percentile (p in [0, 100]) of `values` by linear interpolation between the order
 * statistics at rank h = (n − 1)·p/100 (numpy's default "linear" method).
 * @throws RangeError when `values` is empty
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const low = sorted[lo] as number;
  const high = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return low + (h - lo) * (high - low);
}

/** τ(x) = γ·max + (1 − γ)·mean of a non-empty reward list. */
function interpolate(values: readonly number[], gamma: number): number {
  const max = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return gamma * max + (1 - gamma) * mean;
}
