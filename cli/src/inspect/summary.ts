/**
 * What `rest inspect` reports about a run's rewards, as plain data (its `--json` output): per Grow
 * step, a histogram of its policy samples' rewards; per Improve step, the threshold, the examples kept
 * and a histogram of their rewards on the same bins, so the two line up.
 */
import {
  histogram,
  rewardDomain,
  summarize,
  type HistogramBin,
  type Summary,
} from '../report/distribution.js';
import { scoredRewards, type GrowStep, type RunData } from '../report/run-data.js';

/** An Improve step's filter outcome. */
export interface ImproveSummary {
  readonly improve: number;
  /** τ its shards (or its filter point) recorded: a reward for fixed schedules, p or γ for per-source ones. */
  readonly threshold: number | undefined;
  /** Examples kept (the union of its shards), stored references included. */
  readonly kept: number;
  /** Of which are stored references. */
  readonly keptReferences: number;
  /** Sources with at least one kept example. */
  readonly keptSources: number;
  readonly shards: number;
  /** True when the coordinator recorded the step as not trained (too few examples). */
  readonly skipped: boolean;
  readonly keptReward: Summary;
  readonly histogram: readonly HistogramBin[];
}

/** A Grow step's samples. */
export interface GrowSummary {
  readonly grow: number;
  /** Policy samples stored (k < N). */
  readonly samples: number;
  /** Of which have a reward under the shown model; the histogram counts exactly these. */
  readonly scored: number;
  readonly sources: number;
  /** Stored human references (k = N), not in the histogram. */
  readonly references: number;
  readonly reward: Summary;
  readonly histogram: readonly HistogramBin[];
  readonly improves: readonly ImproveSummary[];
}

/** The whole inspection summary. */
export interface InspectSummary {
  readonly run: {
    readonly id: string;
    readonly state: string;
    readonly grow: number;
    readonly improve: number;
    readonly policyId: string | null;
    readonly error: string | null;
  };
  readonly rewardModel: string;
  readonly normalization: string | undefined;
  /** `fixed`, `percentile` or `interpolation`, when the spec tells. */
  readonly schedule: string | undefined;
  readonly growSteps: number | undefined;
  readonly improveSteps: number | undefined;
  readonly samplesPerSource: number | undefined;
  readonly grows: readonly GrowSummary[];
}

function growSummary(data: RunData, g: GrowStep, bins: number): GrowSummary {
  const rewards = scoredRewards(g);
  const domain = rewardDomain(rewards, data.normalization);
  return {
    grow: g.grow,
    samples: g.samples.length,
    scored: rewards.length,
    sources: g.sources,
    references: g.references.length,
    reward: summarize(rewards),
    histogram: histogram(rewards, domain, bins),
    improves: g.improves.map((i) => ({
      improve: i.improve,
      threshold: i.thresholds[0] ?? i.filter?.['threshold'],
      kept: i.kept.size,
      keptReferences: i.keptReferences,
      keptSources: i.keptSources,
      shards: i.shards,
      skipped: i.filter?.['skipped'] === 1,
      keptReward: summarize(i.keptRewards),
      histogram: histogram(i.keptRewards, domain, bins),
    })),
  };
}

/** Summarises a run, optionally one Grow step only. */
export function summarizeRun(data: RunData, bins: number, onlyGrow?: number): InspectSummary {
  const r = data.run;
  return {
    run: {
      id: r._id,
      state: r.state,
      grow: r.grow,
      improve: r.improve,
      policyId: r.policyId,
      error: r.error,
    },
    rewardModel: data.rewardModel,
    normalization: data.normalization,
    schedule: data.spec.schedule?.kind,
    growSteps: data.spec.growSteps,
    improveSteps: data.spec.improveSteps,
    samplesPerSource: data.spec.samplesPerSource,
    grows: data.grows
      .filter((g) => onlyGrow === undefined || g.grow === onlyGrow)
      .map((g) => growSummary(data, g, bins)),
  };
}
