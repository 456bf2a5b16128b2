export { CONFIG, loadConfig, type Config } from './config.js';
export {
  loadRewardModel,
  LearnedRewardModel,
  type LoadRewardModelOptions,
  type ModelBatching,
} from './learned/learned-model.js';
export {
  MANIFEST_FILE,
  INPUT_ROLES,
  parseManifest,
  RewardModelError,
  type InputRole,
  type RewardManifest,
} from './learned/manifest.js';
export {
  compileTemplate,
  encodePair,
  type EncodedPair,
  type TemplatePart,
  type Truncation,
} from './learned/pair-encoder.js';
export { CalibrationFileError, readCalibrationFile } from './scoring/calibration-file.js';
export {
  createMetricScorers,
  METRIC_NAMES,
  PLACEHOLDER_CALIBRATION,
  type MetricName,
} from './scoring/metric-scorers.js';
export { normalize, meanStd } from './scoring/normalize.js';
export { ScorerRegistry, DuplicateScorerError } from './scoring/registry.js';
export {
  NORMALIZATIONS,
  type Calibration,
  type ItemProblem,
  type Normalization,
  type PreparedItems,
  type RewardScorer,
  type ScoreItem,
  type ScorerInfo,
  type ScorerKind,
} from './scoring/types.js';
export { startRewardServer, type RewardServer, type StartRewardServerOptions } from './server.js';
export {
  formatInspectTable,
  inspectReward,
  type InspectOptions,
  type InspectReport,
  type ProbeRow,
} from './diagnostics/inspect.js';
export { applyProbe, PROBES, type Probe } from './diagnostics/probes.js';
export { type Agreement } from './qe/agreement.js';
export { qeManifest, qeTemplate, writeQeRewardBundle, type QeBundleSpec } from './qe/bundle.js';
export { kendallTauB, pearson } from './qe/correlation.js';
export { decodeAll, readCorpus, splitSources, type Corpus, type DecodeAllOptions } from './qe/corpus.js';
export { PERTURBATIONS, type Perturbation } from './qe/perturb.js';
export { qeParams, qeInferenceGraph, QE_IO, type QeModelConfig } from './qe/qe-model.js';
export {
  checkTrainRewardOptions,
  QE_METRICS,
  TRAIN_REWARD_DEFAULTS,
  type QeMetric,
  type TrainRewardEvent,
  type TrainRewardOptions,
  type TrainRewardResult,
} from './qe/train-options.js';
export { trainRewardModel } from './qe/train-reward.js';
