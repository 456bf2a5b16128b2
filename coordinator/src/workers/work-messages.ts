/**
 * The work messages the workers take, parsed at the edge (STYLE.md §5): `rest.v1.GrowWork` into a
 * {@link GrowJob} and `rest.v1.EvalWork` into an {@link EvalJob}, every problem reported at once
 * with its proto field path (`GrowWork.sources.range.end: must be > start (4 <= 9)`). An
 * InvalidArgumentError from here dead-letters the message: no redelivery can fix it.
 *
 * Decoding parameters stay wire messages: the workers pass them on to the policy server, which
 * validates them against the policy (an INVALID_ARGUMENT from it is as permanent as one from here).
 * Only what the workers themselves depend on is resolved here: N, the seed and the reward scale.
 */
import { validateRunId } from '@rest/bus';
import { common, reward, type events } from '@rest/proto';
import { Violations } from '@rest/service-kit';
import { SPLITS, type Split } from '@rest/store';
import { seedFromText } from './seeds.js';

/** Most sources one Grow shard may hold (a shard is one message; its samples are read back per chunk). */
export const MAX_SHARD_SOURCES = 100_000;
/** Largest N accepted; the policy server bounds one call's candidates further. */
export const MAX_SAMPLES_PER_SOURCE = 1024;

/** The reference metrics an evaluation can report, named as in `EvalSpec.metrics`. */
export const EVAL_METRICS = ['bleu', 'chrf', 'chrf++', 'ter'] as const;
/** One of {@link EVAL_METRICS}. */
export type EvalMetric = (typeof EVAL_METRICS)[number];
/** What an evaluation reports when `EvalSpec.metrics` is empty. */
export const DEFAULT_EVAL_METRICS: readonly EvalMetric[] = ['bleu', 'chrf'];

/**
 * Reward model names become field paths of `samples.rewards` (see @rest/store's SampleRepo), so they
 * are held to its alphabet here, before any sample is written.
 */
const REWARD_MODEL_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The reward every output is scored with. */
export interface RewardRef {
  /** Reward model or metric name; also the key of `samples.rewards`. */
  readonly model: string;
  /** Never UNSPECIFIED: that reads as CLIPPED_01, the run spec's default. */
  readonly normalization: reward.Normalization;
}

/** One Grow shard to sample and score. */
export interface GrowJob {
  readonly messageId: string;
  readonly runId: string;
  /** 1-based. */
  readonly grow: number;
  /** 0-based shard number within the Grow step. */
  readonly shard: number;
  readonly policyId: string;
  readonly dataset: string;
  readonly split: Split;
  /** Dataset indices of the shard's sources, ascending, without duplicates. */
  readonly sources: readonly number[];
  /** N: candidates per source. */
  readonly samplesPerSource: number;
  /** The Grow decoding, with `numReturnSequences` = N; its seed is replaced per chunk. */
  readonly decoding: common.DecodingParams;
  /** The shard's seed (the message's, or one derived from the message's identity). */
  readonly seed: bigint;
  readonly reward: RewardRef;
  readonly includeReferences: boolean;
}

/** One evaluation of a policy on a split. */
export interface EvalJob {
  readonly messageId: string;
  readonly runId: string;
  /** 0 for the base policy. */
  readonly grow: number;
  /** 0 for a Grow-level policy. */
  readonly improve: number;
  readonly policyId: string;
  readonly dataset: string;
  readonly split: Split;
  /** Evaluate the first this many sources; undefined: all. */
  readonly maxSources: number | undefined;
  /** The evaluation decoding with one sequence per source. */
  readonly decoding: common.DecodingParams;
  /** Seed of a SAMPLE evaluation (ignored by GREEDY and BEAM). */
  readonly seed: bigint;
  /** Reference metrics to report, without duplicates. */
  readonly metrics: readonly EvalMetric[];
  readonly reward: RewardRef;
}

function checkRunId(v: Violations, field: string, runId: string): string {
  try {
    return validateRunId(runId);
  } catch {
    v.add(field, `must be 1-128 characters of [A-Za-z0-9_-] (got ${JSON.stringify(runId)})`);
    return runId;
  }
}

function checkSplit(v: Violations, field: string, split: string): Split {
  return v.oneOf(field, split, SPLITS);
}

function checkReward(v: Violations, field: string, spec: events.GrowWork['reward']): RewardRef {
  const r = v.required(field, spec);
  if (r === undefined) return { model: '', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 };
  if (!REWARD_MODEL_PATTERN.test(r.model)) {
    v.add(`${field}.model`, `must be 1-64 characters of [A-Za-z0-9_-] (got ${JSON.stringify(r.model)})`);
  }
  const known: readonly number[] = Object.values(reward.Normalization).filter((n) => n >= 0);
  if (!known.includes(r.normalization)) {
    v.add(`${field}.normalization`, `must be a known Normalization (got ${r.normalization})`);
  }
  return {
    model: r.model,
    normalization:
      r.normalization === reward.Normalization.NORMALIZATION_UNSPECIFIED
        ? reward.Normalization.NORMALIZATION_CLIPPED_01
        : r.normalization,
  };
}

function checkSources(v: Violations, work: events.GrowWork): number[] {
  const s = work.sources;
  if (s === undefined) {
    v.add('GrowWork.sources', 'is required (range or indices)');
    return [];
  }
  switch (s.$case) {
    case 'range': {
      const { start, end } = s.range;
      if (end <= start) {
        v.add('GrowWork.sources.range.end', `must be > start (${end} <= ${start})`);
        return [];
      }
      if (end - start > MAX_SHARD_SOURCES) {
        v.add(
          'GrowWork.sources.range',
          `must hold at most ${MAX_SHARD_SOURCES} sources (got ${end - start})`,
        );
        return [];
      }
      return Array.from({ length: end - start }, (_, i) => start + i);
    }
    case 'indices': {
      const list = s.indices.indices;
      v.items('GrowWork.sources.indices.indices', list, 1, MAX_SHARD_SOURCES);
      for (let i = 1; i < list.length; i++) {
        if (list[i]! <= list[i - 1]!) {
          v.add(
            `GrowWork.sources.indices.indices[${i}]`,
            `must be greater than indices[${i - 1}] (${list[i]} <= ${list[i - 1]})`,
          );
          break;
        }
      }
      return [...list];
    }
  }
}

/**
 * Parses a GrowWork message.
 * @throws InvalidArgumentError listing every problem with its field path.
 */
export function parseGrowWork(work: events.GrowWork): GrowJob {
  const v = new Violations();
  const runId = checkRunId(v, 'GrowWork.run_id', work.runId);
  v.integer('GrowWork.grow', work.grow, 1, Number.MAX_SAFE_INTEGER);
  v.nonEmpty('GrowWork.policy_id', work.policyId);
  v.nonEmpty('GrowWork.dataset', work.dataset);
  const split = checkSplit(v, 'GrowWork.split', work.split);
  const sources = checkSources(v, work);
  const n = v.integer('GrowWork.samples_per_source', work.samplesPerSource, 1, MAX_SAMPLES_PER_SOURCE);
  const decoding = v.required('GrowWork.decoding', work.decoding) ?? common.DecodingParams.create();
  if (decoding.numReturnSequences !== 0 && decoding.numReturnSequences !== n) {
    v.add(
      'GrowWork.decoding.num_return_sequences',
      `must be 0 or samples_per_source (${n}), got ${decoding.numReturnSequences}`,
    );
  }
  const rewardRef = checkReward(v, 'GrowWork.reward', work.reward);
  v.throwIfAny();
  const identity = `${runId}/g${work.grow}/grow/shard/${work.shard}`;
  return {
    messageId: work.messageId === '' ? identity : work.messageId,
    runId,
    grow: work.grow,
    shard: work.shard,
    policyId: work.policyId,
    dataset: work.dataset,
    split,
    sources,
    samplesPerSource: n,
    decoding: { ...decoding, numReturnSequences: n },
    seed: decoding.seed ?? seedFromText(identity),
    reward: rewardRef,
    includeReferences: work.includeReferences,
  };
}

/**
 * Parses an EvalWork message; an empty `eval.metrics` asks for {@link DEFAULT_EVAL_METRICS}.
 * @throws InvalidArgumentError listing every problem with its field path.
 */
export function parseEvalWork(work: events.EvalWork): EvalJob {
  const v = new Violations();
  const runId = checkRunId(v, 'EvalWork.run_id', work.runId);
  v.nonEmpty('EvalWork.policy_id', work.policyId);
  v.nonEmpty('EvalWork.dataset', work.dataset);
  const split = checkSplit(v, 'EvalWork.split', work.split);
  const spec = v.required('EvalWork.eval', work.eval);
  const decoding = spec?.decoding ?? common.DecodingParams.create();
  if (spec !== undefined && spec.decoding === undefined) v.add('EvalWork.eval.decoding', 'is required');
  if (decoding.numReturnSequences > 1) {
    v.add(
      'EvalWork.eval.decoding.num_return_sequences',
      `must be 0 or 1 (got ${decoding.numReturnSequences})`,
    );
  }
  const seen = new Set<EvalMetric>();
  const metrics = v.each('EvalWork.eval.metrics', spec?.metrics ?? [], (path, name) => {
    const metric = v.oneOf(path, name, EVAL_METRICS);
    if (seen.has(metric)) v.add(path, `duplicates "${name}"`);
    seen.add(metric);
    return metric;
  });
  const rewardRef = checkReward(v, 'EvalWork.reward', work.reward);
  v.throwIfAny();
  const identity = `${runId}/g${work.grow}/i${work.improve}/eval/${split}`;
  return {
    messageId: work.messageId === '' ? identity : work.messageId,
    runId,
    grow: work.grow,
    improve: work.improve,
    policyId: work.policyId,
    dataset: work.dataset,
    split,
    maxSources: spec.maxSources === 0 ? undefined : spec.maxSources,
    decoding: { ...decoding, numReturnSequences: 1 },
    seed: decoding.seed ?? seedFromText(identity),
    metrics: metrics.length === 0 ? DEFAULT_EVAL_METRICS : metrics,
    reward: rewardRef,
  };
}
