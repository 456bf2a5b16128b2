/**
 * Metric rewards computed in-process (no reward server): sentence BLEU, chrF, chrF++ and TER against
 * each item's reference, exactly as the reward server's metric scorers compute them (sacrebleu's
 * sentence-level defaults), mapped to the run's scale the same way:
 *
 *   raw        the metric in percent (TER: lower is better)
 *   clipped01  score / 100 (TER: clip(1 − TER / 100, 0, 1))
 *   zscore     (score − 50) / 25, oriented so higher is better — the reward server's placeholder
 *              calibration, used until a calibration file is configured there
 *
 * Learned reward models need the RewardService (src/rpc/reward-client.ts).
 */
import { Bleu, Chrf, Ter } from '@rest/text';
import { InvalidArgumentError } from '@rest/service-kit';
import type { RewardFn, RewardItem } from './data.js';

/** The metric names that can be scored locally. */
export const METRIC_REWARDS = ['bleu', 'chrf', 'chrf++', 'ter'] as const;
/** One of {@link METRIC_REWARDS}. */
export type MetricRewardName = (typeof METRIC_REWARDS)[number];

/** The reward scales (reward.proto `Normalization`). */
export type RewardNormalization = 'raw' | 'clipped01' | 'zscore';

/** Whether `name` is a metric this package scores itself. */
export function isMetricReward(name: string): name is MetricRewardName {
  return (METRIC_REWARDS as readonly string[]).includes(name);
}

function scorer(name: MetricRewardName): (hypothesis: string, reference: string) => number {
  switch (name) {
    case 'bleu': {
      const m = new Bleu({ effectiveOrder: true });
      return (h, r) => m.sentenceScore(h, m.prepare([r])).score;
    }
    case 'chrf':
    case 'chrf++': {
      const m = new Chrf({ wordOrder: name === 'chrf' ? 0 : 2 });
      return (h, r) => m.sentenceScore(h, m.prepare([r])).score;
    }
    case 'ter': {
      const m = new Ter();
      return (h, r) => m.sentenceScore(h, m.prepare([r])).score;
    }
  }
}

/** Maps a raw metric value (percent) to `normalization`. */
export function normalizeMetric(
  name: MetricRewardName,
  raw: number,
  normalization: RewardNormalization,
): number {
  const higherIsBetter = name !== 'ter';
  switch (normalization) {
    case 'raw':
      return raw;
    case 'clipped01': {
      const t = raw / 100;
      return Math.min(1, Math.max(0, higherIsBetter ? t : 1 - t));
    }
    case 'zscore': {
      const z = (raw - 50) / 25;
      return higherIsBetter ? z : 0 - z;
    }
  }
}

/**
 * A reward function scoring each item's hypothesis against its reference with metric `name`.
 * The returned function throws InvalidArgumentError naming an item without a reference.
 */
export function metricReward(name: MetricRewardName, normalization: RewardNormalization): RewardFn {
  const score = scorer(name);
  return (items: readonly RewardItem[]) => {
    const missing = items.findIndex((i) => i.reference === undefined);
    if (missing >= 0)
      return Promise.reject(
        new InvalidArgumentError(`items[${missing}]: metric reward ${name} needs a reference`),
      );
    return Promise.resolve(
      items.map((i) => normalizeMetric(name, score(i.hypothesis, i.reference!), normalization)),
    );
  };
}
