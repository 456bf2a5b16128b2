export { CONFIG, type Config } from './config.js';
export {
  improveLearningRate,
  RUN_SPEC_DEFAULTS,
  type DecodingSpec,
  type DecodingStrategy,
  type ImproveStopRule,
  type OptimizerSpec,
  type RewardNormalization,
  type RunSpec,
  type ThresholdSchedule,
} from './run/spec.js';
export {
  OBJECTIVE_DEFAULTS,
  OBJECTIVE_NAMES,
  type DpoSpec,
  type ExampleSampling,
  type ObjectiveName,
  type ObjectiveSpec,
  type ValueFunctionSpec,
} from './run/objective.js';
export {
  filterImproveStep,
  percentile,
  TAU_EPSILON,
  type FilterOptions,
  type FilterOutcome,
  type FilterStats,
  type PerSourceTauSummary,
  type RewardedSample,
  type SourceSamples,
} from './rest/thresholds.js';
export {
  buildPreferencePairs,
  DEFAULT_MIN_REWARD_GAP,
  type PairCandidate,
  type PairOptions,
  type PairSource,
  type PreferencePair,
} from './rest/pairs.js';
export { withoutGain } from './engine/plan.js';
export { parseRunSpec, readRunSpec, MAX_GROW_STEPS, MAX_IMPROVE_STEPS } from './rpc/run-spec.js';
export {
  coordinatorService,
  AlreadyExistsError,
  type CoordinatorServiceDeps,
} from './rpc/coordinator-service.js';
export { startWorkers, type RunningWorkers, type StartWorkersOptions } from './workers/index.js';
export { DEFAULT_EVAL_METRICS, EVAL_METRICS, type EvalMetric } from './workers/work-messages.js';
