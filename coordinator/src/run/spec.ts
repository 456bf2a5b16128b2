/**
 * The domain form of a ReST run's specification (docs/ALGORITHMS.md §2): every field present and
 * every default resolved, so what is stored is what the run uses. `src/rpc/run-spec.ts` parses the
 * wire message (rest.v1.RunSpec) into it; nothing here knows about protobuf.
 */
import type { ObjectiveSpec } from './objective.js';

/** How the next token is chosen while decoding. */
export type DecodingStrategy = 'greedy' | 'sample' | 'beam';

/** Fully resolved decoding parameters (common.proto `DecodingParams`). */
export interface DecodingSpec {
  readonly strategy: DecodingStrategy;
  /** Softmax temperature, > 0; used by `sample` only. */
  readonly temperature: number;
  /** Keep the k most probable tokens; 0 = no cut. `sample` only. */
  readonly topK: number;
  /** Nucleus mass in (0, 1]; 1 = no cut. `sample` only. */
  readonly topP: number;
  /** Upper bound on generated target tokens, EOS included. */
  readonly maxNewTokens: number;
  /** Beam width; `beam` only. */
  readonly numBeams: number;
  /** `beam` only: hypotheses ranked by log-prob / length^lengthPenalty. */
  readonly lengthPenalty: number;
  /** Sequences per source: N for Grow, 1 for evaluation. */
  readonly numReturnSequences: number;
}

/**
 * How τ rises over the Improve steps (ALGORITHMS.md §2.3). Each list holds one entry per Improve
 * step (length = `improveSteps`, strictly increasing); entry i−1 belongs to step i.
 */
export type ThresholdSchedule =
  | {
      /** One global reward threshold per step; a sample passes when R > τ_i (strict). */
      readonly kind: 'fixed';
      readonly thresholds: readonly number[];
      /** Apply τ_1 ← max(τ_1, mean R over D_g + 1e-6). @default true */
      readonly meanGuard: boolean;
    }
  | {
      /** Per source: a candidate passes when R ≥ the p_i-th percentile of its source's candidates. */
      readonly kind: 'percentile';
      /** p_i in (0, 100). */
      readonly percentiles: readonly number[];
    }
  | {
      /** Per source: a candidate passes when R ≥ γ_i·max R + (1 − γ_i)·mean R over its source. */
      readonly kind: 'interpolation';
      /** γ_i in [0, 1]. */
      readonly gammas: readonly number[];
    };

/** When the Improve loop of a Grow step ends early because too little passes the filter. */
export interface ImproveStopRule {
  /** Fewer kept examples than this ends the loop. @default 1000 */
  readonly minExamples: number;
  /** A smaller fraction of sources with ≥ 1 kept example ends the loop, in [0, 1]. @default 0.01 */
  readonly minSourceCoverage: number;
}

/** The reward scale the thresholds are written in (reward.proto `Normalization`). */
export type RewardNormalization = 'raw' | 'clipped01' | 'zscore';

/** AdamW and the learning rate of the Improve steps. */
export interface OptimizerSpec {
  /** Peak learning rate of Improve step 1, > 0. @default 1e-4 */
  readonly learningRate: number;
  /** Factor applied per further Improve step, in (0, 1]. @default 0.5 */
  readonly lrDecayPerImprove: number;
  /** @default 'constant' */
  readonly lrSchedule: 'constant' | 'inverse-sqrt' | 'linear';
  /** @default 0 */
  readonly warmupSteps: number;
  /** @default 0.9 */
  readonly beta1: number;
  /** @default 0.98 */
  readonly beta2: number;
  /** @default 1e-8 */
  readonly epsilon: number;
  /** Decoupled weight decay, ≥ 0. @default 0 */
  readonly weightDecay: number;
  /** Global gradient-norm clip; `undefined` = no clipping. */
  readonly maxGradNorm: number | undefined;
  /** In [0, 1). @default 0.1 */
  readonly labelSmoothing: number;
  /** In [0, 1). @default 0.1 */
  readonly dropout: number;
  /** Target tokens per batch. @default 4096 */
  readonly batchMaxTokens: number;
  /** @default 10000 */
  readonly maxStepsPerImprove: number;
  /** @default 500 */
  readonly evalEverySteps: number;
}

/** A ReST run, resolved (see the module comment). */
export interface RunSpec {
  readonly displayName: string;
  readonly dataset: {
    readonly name: string;
    /** @default 'train' */
    readonly trainSplit: string;
    /** @default 'valid' */
    readonly validSplit: string;
    /** @default 'test' */
    readonly testSplit: string;
    /** Use at most this many training sources; `undefined` = all. */
    readonly maxTrainSources: number | undefined;
  };
  /** The policy the first Grow step samples from. */
  readonly basePolicyId: string;
  readonly reward: {
    /** Reward model or metric name (RewardService.ListRewardModels). */
    readonly model: string;
    /** @default 'clipped01' */
    readonly normalization: RewardNormalization;
  };
  /** G ≥ 1. */
  readonly growSteps: number;
  /** I ≥ 1. */
  readonly improveSteps: number;
  readonly thresholds: ThresholdSchedule;
  readonly improveStop: ImproveStopRule;
  /**
   * Take every Improve step even when one does not raise the validation reward. Off (the default),
   * a Grow's Improve loop ends at the first step whose best checkpoint is not above its parent on
   * the trainer's validation, and the parent carries on (ALGORITHMS.md §2.1).
   */
  readonly continueWithoutGain: boolean;
  /** N in [1, 1024]: candidates per source per Grow step. */
  readonly samplesPerSource: number;
  /** @default sample, temperature 0.8, no top-k/top-p cut, 128 tokens, N sequences */
  readonly growDecoding: DecodingSpec;
  /** @default bc */
  readonly objective: ObjectiveSpec;
  readonly optimizer: OptimizerSpec;
  readonly eval: {
    /** @default beam 4, length penalty 0.6, one sequence */
    readonly decoding: DecodingSpec;
    /** Evaluate at most this many sources of a split; `undefined` = all. */
    readonly maxSources: number | undefined;
    /** Reference metrics besides the reward (e.g. "bleu"). */
    readonly metrics: readonly string[];
  };
  /** Keep the human references in D_g, scored and filtered like samples. */
  readonly includeReferences: boolean;
  /** Seed of the run; `undefined`: the coordinator draws one and stores it. */
  readonly seed: bigint | undefined;
  /** @default 256 */
  readonly sourcesPerGrowShard: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** Documented defaults of a run spec (run_spec.proto, ALGORITHMS.md §2.2–2.3). */
export const RUN_SPEC_DEFAULTS = {
  splits: { train: 'train', valid: 'valid', test: 'test' },
  normalization: 'clipped01',
  growDecoding: {
    strategy: 'sample',
    temperature: 0.8,
    topK: 0,
    topP: 1,
    maxNewTokens: 128,
    numBeams: 4,
    lengthPenalty: 1,
  },
  evalDecoding: {
    strategy: 'beam',
    temperature: 1,
    topK: 0,
    topP: 1,
    maxNewTokens: 128,
    numBeams: 4,
    lengthPenalty: 0.6,
  },
  improveStop: { minExamples: 1000, minSourceCoverage: 0.01 },
  optimizer: {
    learningRate: 1e-4,
    lrDecayPerImprove: 0.5,
    beta1: 0.9,
    beta2: 0.98,
    epsilon: 1e-8,
    labelSmoothing: 0.1,
    dropout: 0.1,
    batchMaxTokens: 4096,
    maxStepsPerImprove: 10000,
    evalEverySteps: 500,
  },
  sourcesPerGrowShard: 256,
  /** Largest N accepted. */
  maxSamplesPerSource: 1024,
} as const;

/**
 * The peak learning rate of Improve step `step` (1-based): `learningRate · lrDecayPerImprove^(step−1)`.
 * @throws RangeError when `step` is not an integer ≥ 1
 */
export function improveLearningRate(optimizer: OptimizerSpec, step: number): number {
  if (!Number.isInteger(step) || step < 1)
    throw new RangeError(`Improve step must be an integer >= 1 (got ${step})`);
  return optimizer.learningRate * optimizer.lrDecayPerImprove ** (step - 1);
}
