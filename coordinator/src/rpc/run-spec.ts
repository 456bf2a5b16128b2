/**
 * Parses the wire rest.v1.RunSpec into the domain `RunSpec` (STYLE.md §5: parse, don't just
 * check): every default resolved, every problem reported at once with its proto field path, e.g.
 * `CreateRunRequest.spec.threshold_schedule.fixed.thresholds[2]: must be greater than thresholds[1] (0.8 <= 0.8)`.
 *
 * Threshold lists must have exactly one entry per Improve step: a shorter list is rejected rather
 * than padded, since repeating the last τ would break the strictly increasing schedule of
 * ALGORITHMS.md §2.1. Lists are strictly increasing (the proto comment's "non-decreasing" is
 * tightened to Algorithm 1's τ_{i+1} > τ_i, and likewise for p and γ, which the paper raises per step).
 */
import { reward, runSpec } from '@rest/proto';
import { validate, type Violations } from '@rest/service-kit';
import type { OptimizerSpec, RewardNormalization, RunSpec, ThresholdSchedule } from '../run/spec.js';
import { RUN_SPEC_DEFAULTS as DEFAULTS } from '../run/spec.js';
import { interval, nonNegative, orDefault, positive, strictlyIncreasing, wireEnum } from './checks.js';
import { readDecoding } from './decoding.js';
import { readObjective } from './objective.js';

/** Largest G and I a run may ask for. */
export const MAX_GROW_STEPS = 100;
/** Largest I a run may ask for. */
export const MAX_IMPROVE_STEPS = 100;
const MAX_DISPLAY_NAME = 200;
const MAX_SOURCES_PER_SHARD = 65_536;

const NORMALIZATIONS: ReadonlyMap<number, RewardNormalization> = new Map([
  [reward.Normalization.NORMALIZATION_UNSPECIFIED, DEFAULTS.normalization],
  [reward.Normalization.NORMALIZATION_RAW, 'raw'],
  [reward.Normalization.NORMALIZATION_CLIPPED_01, 'clipped01'],
  [reward.Normalization.NORMALIZATION_ZSCORE, 'zscore'],
] as const);
const LR_SCHEDULES = new Map([
  [runSpec.LrSchedule.LR_SCHEDULE_UNSPECIFIED, 'constant'],
  [runSpec.LrSchedule.LR_SCHEDULE_CONSTANT, 'constant'],
  [runSpec.LrSchedule.LR_SCHEDULE_INVERSE_SQRT, 'inverse-sqrt'],
  [runSpec.LrSchedule.LR_SCHEDULE_LINEAR, 'linear'],
] as const);

/**
 * Parses a wire run spec into the domain type.
 * @param field the path of the spec in its request, prefixed to every violation
 * @throws InvalidArgumentError listing every problem with its field path
 */
export function parseRunSpec(wire: runSpec.RunSpec | undefined, field = 'CreateRunRequest.spec'): RunSpec {
  return validate((v) => readRunSpec(v, field, wire));
}

/** Like {@link parseRunSpec}, recording into `v` (for requests that validate more than the spec). */
export function readRunSpec(v: Violations, field: string, wire: runSpec.RunSpec | undefined): RunSpec {
  if (wire === undefined) return missing(v, field);
  const f = field;
  const growSteps = v.integer(`${f}.grow_steps`, wire.growSteps, 1, MAX_GROW_STEPS);
  const improveSteps = v.integer(`${f}.improve_steps`, wire.improveSteps, 1, MAX_IMPROVE_STEPS);
  const samplesPerSource = v.integer(
    `${f}.samples_per_source`,
    wire.samplesPerSource,
    1,
    DEFAULTS.maxSamplesPerSource,
  );
  const basePolicyId = v.nonEmpty(`${f}.base_policy_id`, wire.basePolicyId);
  const rewardSpec: RunSpec['reward'] | undefined =
    wire.reward === undefined ? missing(v, `${f}.reward`) : readReward(v, `${f}.reward`, wire.reward);
  const optimizer = readOptimizer(v, `${f}.optimizer`, wire.optimizer ?? runSpec.OptimizerParams.create());
  const schedule = wire.thresholdSchedule;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(wire.labels)) {
    v.nonEmpty(`${f}.labels`, key);
    labels[key] = value;
  }
  const evalWire = wire.eval ?? runSpec.EvalSpec.create();
  return {
    displayName: v.maxLength(`${f}.display_name`, wire.displayName, MAX_DISPLAY_NAME),
    dataset:
      wire.dataset === undefined ? missing(v, `${f}.dataset`) : readDataset(v, `${f}.dataset`, wire.dataset),
    basePolicyId,
    reward: rewardSpec,
    growSteps,
    improveSteps,
    thresholds:
      schedule === undefined
        ? missing(v, `${f}.threshold_schedule`)
        : readSchedule(v, `${f}.threshold_schedule`, schedule, improveSteps, rewardSpec?.normalization),
    improveStop: {
      minExamples: orDefault(schedule?.minExamples ?? 0, DEFAULTS.improveStop.minExamples, (x) => x),
      minSourceCoverage: orDefault(
        schedule?.minSourceCoverage ?? 0,
        DEFAULTS.improveStop.minSourceCoverage,
        (x) => interval(v, `${f}.threshold_schedule.min_source_coverage`, x, 0, 1, '[]'),
      ),
    },
    continueWithoutGain: schedule?.continueWithoutGain ?? false,
    samplesPerSource,
    growDecoding: readDecoding(v, `${f}.grow_decoding`, wire.growDecoding, {
      defaults: DEFAULTS.growDecoding,
      numReturnSequences: samplesPerSource,
      requiredBy: `samples_per_source (${samplesPerSource})`,
    }),
    objective: readObjective(v, `${f}.objective`, wire.objective, {
      basePolicyId,
      learningRate: optimizer.learningRate,
    }),
    optimizer,
    eval: {
      decoding: readDecoding(v, `${f}.eval.decoding`, evalWire.decoding, {
        defaults: DEFAULTS.evalDecoding,
        numReturnSequences: 1,
        requiredBy: 'one sequence per source',
      }),
      maxSources: evalWire.maxSources === 0 ? undefined : evalWire.maxSources,
      metrics: readMetrics(v, `${f}.eval.metrics`, evalWire.metrics),
    },
    includeReferences: wire.includeReferences,
    seed: wire.seed,
    sourcesPerGrowShard: orDefault(wire.sourcesPerGrowShard, DEFAULTS.sourcesPerGrowShard, (x) =>
      v.integer(`${f}.sources_per_grow_shard`, x, 1, MAX_SOURCES_PER_SHARD),
    ),
    labels,
  };
}

function readDataset(v: Violations, f: string, w: runSpec.DatasetSpec): RunSpec['dataset'] {
  const trainSplit = w.trainSplit || DEFAULTS.splits.train;
  const validSplit = w.validSplit || DEFAULTS.splits.valid;
  const testSplit = w.testSplit || DEFAULTS.splits.test;
  // Choosing checkpoints or reporting on the split the policy samples from would hide overfitting.
  if (validSplit === trainSplit) v.add(`${f}.valid_split`, `must differ from train_split ("${trainSplit}")`);
  if (testSplit === trainSplit) v.add(`${f}.test_split`, `must differ from train_split ("${trainSplit}")`);
  return {
    name: v.nonEmpty(`${f}.name`, w.name),
    trainSplit,
    validSplit,
    testSplit,
    maxTrainSources: w.maxTrainSources === 0 ? undefined : w.maxTrainSources,
  };
}

function readReward(v: Violations, f: string, w: runSpec.RewardSpec): RunSpec['reward'] {
  return {
    model: v.nonEmpty(`${f}.model`, w.model),
    normalization: wireEnum(
      v,
      `${f}.normalization`,
      w.normalization,
      NORMALIZATIONS,
      reward.normalizationToJSON,
    ),
  };
}

function readSchedule(
  v: Violations,
  f: string,
  w: runSpec.ThresholdSchedule,
  improveSteps: number,
  normalization: RewardNormalization | undefined,
): ThresholdSchedule {
  const one = w.schedule;
  if (one === undefined) {
    v.add(`${f}.schedule`, 'must be set: fixed, percentile or interpolation');
    return undefined as never;
  }
  if (w.disableMeanGuard && one.$case !== 'fixed') {
    v.add(`${f}.disable_mean_guard`, 'applies only to the fixed schedule');
  }
  // Only check the length against a valid I; a bad I is reported on its own.
  const lengthKnown =
    Number.isInteger(improveSteps) && improveSteps >= 1 && improveSteps <= MAX_IMPROVE_STEPS;
  const list = (
    name: string,
    values: readonly number[],
    check: (path: string, x: number) => number,
  ): number[] => {
    const path = `${f}.${one.$case}.${name}`;
    if (lengthKnown && values.length !== improveSteps) {
      v.add(path, `must have one entry per Improve step: ${improveSteps} (got ${values.length})`);
    }
    const checked = v.each(path, values, check);
    strictlyIncreasing(v, path, values);
    return checked;
  };
  switch (one.$case) {
    case 'fixed':
      return {
        kind: 'fixed',
        // ReST's thresholds are written for a [0, 1] reward; other scales only need finite values.
        thresholds: list('thresholds', one.fixed.thresholds, (path, x) =>
          normalization === 'clipped01'
            ? interval(v, path, x, 0, 1, '[]')
            : interval(v, path, x, -Infinity, Infinity, '()'),
        ),
        meanGuard: !w.disableMeanGuard,
      };
    case 'percentile':
      return {
        kind: 'percentile',
        percentiles: list('percentiles', one.percentile.percentiles, (path, x) =>
          interval(v, path, x, 0, 100, '()'),
        ),
      };
    case 'interpolation':
      return {
        kind: 'interpolation',
        gammas: list('gammas', one.interpolation.gammas, (path, x) => interval(v, path, x, 0, 1, '[]')),
      };
  }
}

function readOptimizer(v: Violations, f: string, w: runSpec.OptimizerParams): OptimizerSpec {
  const d = DEFAULTS.optimizer;
  return {
    learningRate: orDefault(w.learningRate, d.learningRate, (x) =>
      interval(v, `${f}.learning_rate`, x, 0, 1, '(]'),
    ),
    lrDecayPerImprove: orDefault(w.lrDecayPerImprove, d.lrDecayPerImprove, (x) =>
      interval(v, `${f}.lr_decay_per_improve`, x, 0, 1, '(]'),
    ),
    lrSchedule: wireEnum(v, `${f}.lr_schedule`, w.lrSchedule, LR_SCHEDULES, runSpec.lrScheduleToJSON),
    warmupSteps: w.warmupSteps,
    beta1: orDefault(w.beta1, d.beta1, (x) => interval(v, `${f}.beta1`, x, 0, 1, '[)')),
    beta2: orDefault(w.beta2, d.beta2, (x) => interval(v, `${f}.beta2`, x, 0, 1, '[)')),
    epsilon: orDefault(w.epsilon, d.epsilon, (x) => positive(v, `${f}.epsilon`, x)),
    weightDecay: nonNegative(v, `${f}.weight_decay`, w.weightDecay),
    maxGradNorm: w.maxGradNorm === 0 ? undefined : positive(v, `${f}.max_grad_norm`, w.maxGradNorm),
    labelSmoothing:
      w.labelSmoothing === undefined
        ? d.labelSmoothing
        : interval(v, `${f}.label_smoothing`, w.labelSmoothing, 0, 1, '[)'),
    dropout: w.dropout === undefined ? d.dropout : interval(v, `${f}.dropout`, w.dropout, 0, 1, '[)'),
    batchMaxTokens: orDefault(w.batchMaxTokens, d.batchMaxTokens, (x) => x),
    maxStepsPerImprove: orDefault(w.maxStepsPerImprove, d.maxStepsPerImprove, (x) => x),
    evalEverySteps: orDefault(w.evalEverySteps, d.evalEverySteps, (x) => x),
  };
}

function readMetrics(v: Violations, f: string, metrics: readonly string[]): string[] {
  const seen = new Set<string>();
  return v.each(f, metrics, (path, name) => {
    v.nonEmpty(path, name);
    if (seen.has(name)) v.add(path, `duplicates "${name}"`);
    seen.add(name);
    return name;
  });
}

/** Records `field: is required`; the returned value is never used (validate() throws). */
function missing(v: Violations, field: string): never {
  v.add(field, 'is required');
  return undefined as never;
}
