/**
 * The names and numbers a run is made of, as pure functions of its spec: metrics keys, policy and
 * job ids, Grow shards, derived seeds, reward statistics and the wire form of resolved decoding.
 * Everything here is deterministic, so a restarted coordinator (or a second one) computes the same
 * messages, ids and shard boundaries, and JetStream de-duplication and unique keys absorb repeats.
 */
import { createHash } from 'node:crypto';
import { common } from '@rest/proto';
import type { DecodingSpec } from '../run/spec.js';

/** Keys of a run's metrics points (see the coordinator README, "What a run records"). */
export const metricKeys = {
  /** A policy evaluated on the valid split: the base is g0/i0. */
  eval: (grow: number, improve: number): string => `g${grow}/i${improve}/eval`,
  shard: (grow: number, n: number): string => `g${grow}/grow/shard/${n}`,
  grow: (grow: number): string => `g${grow}/grow`,
  filter: (grow: number, improve: number): string => `g${grow}/i${improve}/filter`,
  train: (grow: number, improve: number): string => `g${grow}/i${improve}/train`,
} as const;

/** The policy (and training job) of Improve step `improve` of Grow `grow`, as the trainer names it. */
export function stepPolicyId(run: string, grow: number, improve: number): string {
  return `${run}.g${grow}.i${improve}`;
}

/** One Grow shard: a contiguous range of source indices. */
export interface GrowShard {
  readonly n: number;
  readonly start: number;
  readonly end: number;
}

/** The Grow shards of `numSources` sources, `perShard` each (the last one may be shorter). */
export function growShards(numSources: number, perShard: number): GrowShard[] {
  if (!Number.isInteger(perShard) || perShard < 1)
    throw new RangeError(`perShard must be >= 1 (got ${perShard})`);
  const shards: GrowShard[] = [];
  for (let start = 0, n = 0; start < numSources; start += perShard, n++) {
    shards.push({ n, start, end: Math.min(start + perShard, numSources) });
  }
  return shards;
}

/**
 * A 63-bit seed derived from the run's seed and a path (e.g. `grow`, 2, `shard`, 5): different paths
 * give independent-looking seeds, the same path always the same one.
 */
export function deriveSeed(runSeed: bigint, ...path: readonly (string | number)[]): bigint {
  const digest = createHash('sha256')
    .update(`${runSeed}/${path.join('/')}`)
    .digest();
  return digest.readBigUInt64BE(0) >> 1n;
}

/** Count, mean, population std, min and max (rest.v1.RewardStats); zeros when empty. */
export interface RewardStats {
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** The statistics of `values`. */
export function rewardStats(values: Iterable<number>): RewardStats {
  let count = 0;
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    count++;
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return { count: 0, mean: 0, std: 0, min: 0, max: 0 };
  const mean = sum / count;
  return { count, mean, std: Math.sqrt(Math.max(0, sumSq / count - mean * mean)), min, max };
}

/** `rewardStats` as metrics values (`reward_mean`, …). */
export function rewardValues(stats: RewardStats): Record<string, number> {
  return {
    reward_mean: stats.mean,
    reward_std: stats.std,
    reward_min: stats.min,
    reward_max: stats.max,
  };
}

const STRATEGIES = {
  greedy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
  sample: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE,
  beam: common.DecodingStrategy.DECODING_STRATEGY_BEAM,
} as const;

/** Resolved decoding in its wire form, with `seed` when given. */
export function decodingToWire(d: DecodingSpec, seed?: bigint): common.DecodingParams {
  return {
    strategy: STRATEGIES[d.strategy],
    temperature: d.temperature,
    topK: d.topK,
    topP: d.topP,
    maxNewTokens: d.maxNewTokens,
    numBeams: d.strategy === 'beam' ? d.numBeams : 0,
    lengthPenalty: d.lengthPenalty,
    numReturnSequences: d.numReturnSequences,
    ...(seed === undefined ? {} : { seed }),
  };
}

/**
 * Whether an Improve step's training point says its best checkpoint is not above its parent: both
 * validation rewards come from the trainer's own job (same sentences, same decoding). A step
 * without them (no validation sources) counts as a gain.
 */
export function withoutGain(train: Readonly<Record<string, number>>): boolean {
  const best = train['valid_reward_mean'];
  const parent = train['valid_reward_initial'];
  return best !== undefined && parent !== undefined && !(best > parent);
}
