// @rest/runtime public entry: graph builder, ops, autodiff, optimizers, checkpoints, sessions, models.
export type { DType } from './onnx/dtype.js';
export { encodeModel } from './onnx/model-proto.js';
export type {
  ProtoModel,
  ProtoGraph,
  ProtoNode,
  ProtoTensor,
  ProtoValueInfo,
  ProtoAttribute,
} from './onnx/model-proto.js';
export { Graph, Tensor, graphOf } from './graph/graph.js';
export type { GraphNode, NodeSpec, VjpRule, TensorData, ExportOptions } from './graph/graph.js';
export type { Dim, Shape } from './graph/dims.js';
export { ShapeError, DTypeError, GraphError, NoGradientError } from './graph/errors.js';
export { add, sub, mul, div, pow, neg, log } from './ops/arithmetic.js';
export { sqrt, exp, tanh, erf, relu, sigmoid, softplus, gelu } from './ops/activations.js';
export { equal, less, greater, and, not, where, min, max, clip } from './ops/select.js';
export { matMul, gemm } from './ops/matmul.js';
export type { GemmOptions } from './ops/matmul.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { layerNorm } from './ops/normalization.js';
export { gather, gatherElements, scatterND } from './ops/indexing.js';
export {
  reshape,
  reshapeLike,
  transpose,
  concat,
  split,
  slice,
  unsqueeze,
  squeeze,
  expand,
  shape,
  size,
  cast,
  stopGradient,
} from './ops/shape-ops.js';
export { reduceSum, reduceMean, reduceMax, reduceLogSumExp } from './ops/reduce.js';
export { randomUniformLike, dropout } from './ops/random.js';
export { ifThenElse } from './ops/control.js';
export { scalar, int64s } from './ops/helpers.js';
export { gradients } from './autodiff/gradients.js';
export type { GradientOptions } from './autodiff/gradients.js';
export { ParamTable, ParamTableError } from './params/param-table.js';
export type { ParamSpec, ParamEntry, Init, FlatBuffer } from './params/param-table.js';
export { rng } from './params/random.js';
export { learningRate, learningRateAt, ScheduleError } from './optim/schedules.js';
export type { Schedule } from './optim/schedules.js';
export { adamw, sgd, clipByGlobalNorm, OPTIMIZER_SLOTS, OPTIMIZER_HYPER } from './optim/optimizers.js';
export type { OptimizerKind, UpdateContext, Updated } from './optim/optimizers.js';
export { buildTrainStep } from './optim/train-step.js';
export type { TrainStepSpec, ForwardFn, StepMode } from './optim/train-step.js';
export { Trainer, TrainerError } from './optim/trainer.js';
export type { Hyper, TrainerOptions, StepResult, TrainState } from './optim/trainer.js';
export { saveCheckpoint, loadCheckpoint, CheckpointError } from './checkpoint/safetensors.js';
export { Session, SessionIoError, hostTensor } from './session/session.js';
export type { HostTensor, ValueSpec, SessionOptions, ExecutionProvider } from './session/session.js';
export { transformerParams, checkConfig, ModelConfigError } from './models/config.js';
export type { TransformerConfig } from './models/config.js';
export {
  encode,
  decode,
  logits,
  labelSmoothedCrossEntropy,
  transformerLoss,
  transformerTrainingForward,
} from './models/transformer.js';
export type { TransformerBatch } from './models/transformer.js';
export { sinusoidTable } from './models/layers.js';
export {
  encoderGraph,
  decoderGraph,
  decoderStepGraph,
  crossCacheGraph,
  cacheNames,
  ENCODER_FILE,
  DECODER_FILE,
} from './models/inference-graphs.js';
export type { DecoderGraphOptions } from './models/inference-graphs.js';
export { writePolicyBundle, readBundleManifest, BundleError, BUNDLE_FILES } from './policy/bundle.js';
export type { BundleLineage, BundleManifest, GenerationDefaults, PolicyBundleSpec } from './policy/bundle.js';
export { Seq2SeqModel, takeRows } from './policy/seq2seq.js';
export type { DecoderState, LoadOptions } from './policy/seq2seq.js';
export { generate, scoreTargets, resolveDecoding, rowSeed, DecodingError } from './policy/generate.js';
export type { DecodingOptions, Candidate } from './policy/generate.js';
export { ContinuousBatch } from './policy/continuous.js';
export type { ContinuousHandle, ContinuousOptions } from './policy/continuous.js';
