export { CONFIG, type Config } from './config.js';
export {
  OBJECTIVES,
  OBJECTIVE_NAMES,
  isObjectiveName,
  parseObjectiveHyper,
  objectiveInputs,
  declareObjectiveInputs,
  buildObjective,
  type ObjectiveName,
  type ObjectiveHyper,
  type ObjectiveHyperInput,
} from './objectives/registry.js';
export {
  ObjectiveInputError,
  type Objective,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objectives/objective.js';
export { tokenLogProbs, tokenLogProbsWithMean, sequenceLogProb } from './objectives/log-probs.js';
export { monteCarloValues, monteCarloBaseline, type ScoredExample } from './objectives/mc-baseline.js';
export {
  encodeSources,
  fitValueHead,
  ValueHead,
  valueHeadParams,
  type EncodedSource,
  type ValueHeadFit,
  type ValueHeadOptions,
} from './objectives/value-head.js';
export { bvmpoKlWeight, type BvmpoHyper } from './objectives/bvmpo.js';
export type { BcHyper } from './objectives/bc.js';
export type { WbcHyper } from './objectives/wbc.js';
export type { GoldHyper } from './objectives/gold.js';
export type { OacHyper } from './objectives/oac.js';
export type { AlolClippedHyper, AlolKlHyper } from './objectives/alol.js';
export type { DpoHyper } from './objectives/dpo.js';
export type { HypoHyper } from './objectives/hypo.js';
export {
  IMPROVE_DEFAULTS,
  SUPPORTED_OBJECTIVES,
  checkImproveSpec,
  learningRateAtStep,
  type ImproveSpec,
  type ImproveOptimizer,
  type ObjectiveChoice,
  type ExampleSampling,
  type LrScheduleKind,
} from './improve/spec.js';
export type { ScoredCandidate, ValidItem, ImproveData, RewardFn, RewardItem } from './improve/data.js';
export {
  runImprove,
  type ImproveEvent,
  type ImproveResult,
  type ProgressReport,
  type ExecutorInputs,
  type ExecutorOptions,
} from './improve/executor.js';
export {
  FolderCheckpointStore,
  type Checkpoint,
  type CheckpointStore,
  type EvalPoint,
  type LoopProgress,
} from './improve/checkpoints.js';
export { translate, validate, type Validation } from './improve/evaluate.js';
export {
  METRIC_REWARDS,
  isMetricReward,
  metricReward,
  normalizeMetric,
  type MetricRewardName,
  type RewardNormalization,
} from './improve/metric-reward.js';
export {
  parseShardFile,
  readShardFile,
  shardCandidates,
  formatShardFile,
  type ShardFileLine,
  type ShardFileOptions,
} from './offline/shard-file.js';
export { trainOffline, type OfflineTrainOptions, type OfflineSource } from './offline/train-offline.js';
export { rewardResolver, type RewardClientOptions } from './rpc/reward-client.js';
export { startTrainerServer, type TrainerServer, type StartTrainerServerOptions } from './server.js';
export { loadConfig } from './config.js';
export { JobRepo, JOBS_COLLECTION, JOB_STATES, type JobDoc, type JobState } from './jobs/job-repo.js';
export { REFERENCE_SAMPLE_POLICY } from './jobs/store-data.js';
