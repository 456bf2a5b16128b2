/**
 * What one Improve step trains (domain form, no wire types): the objective with its raw
 * hyperparameters, the optimizer and step budget, validation and the seed. The service builds it from
 * a `rest.v1.ImproveWork` message (src/events/improve-work.ts), `rest train` from its flags; both hand
 * it to the same executor (executor.ts).
 */
import type { DecodingOptions } from '@rest/runtime';
import { InvalidArgumentError, type FieldViolation } from '@rest/service-kit';
import { isObjectiveName, parseObjectiveHyper, type ObjectiveName } from '../objectives/registry.js';

/** How training units are drawn (objectives.proto `ExampleSampling`). */
export type ExampleSampling = 'uniform' | 'priority';

/** The learning-rate shape inside one Improve step (run_spec.proto `LrSchedule`). */
export type LrScheduleKind = 'constant' | 'inverse-sqrt' | 'linear';

/** The objective of the step: a registry entry and how its data are built. */
export interface ObjectiveChoice {
  readonly name: ObjectiveName;
  /** Raw hyperparameters; validated by `parseObjectiveHyper` (defaults filled there). */
  readonly hyper: Readonly<Record<string, unknown>>;
  /**
   * `uniform`: epochs over the units in a seeded order; `priority`: each batch drawn with replacement
   * ∝ the unit's weight (A⁺ for the A-LoL family, R otherwise; A-LoL's `good_priority`).
   */
  readonly sampling: ExampleSampling;
  /** DPO/HyPO pairs: one (best, worst) per source, or every pair with a reward gap ≥ `minRewardGap`. */
  readonly pairSelection: 'best-worst' | 'min-gap';
  /** δ of `min-gap` pairs. */
  readonly minRewardGap: number;
  /**
   * Where the A-LoL family's V(x) comes from: `monte-carlo`, the mean reward of the source's Grow
   * samples; `head`, a value head on the frozen reference policy's encoder states fitted to the
   * rewards of its own validation outputs (objectives/value-head.ts). Only the A-LoL family reads
   * it. @default 'monte-carlo'
   */
  readonly valueEstimate?: 'monte-carlo' | 'head';
  /** Upper bound of the value head's output (its sigmoid's scale), > 0. @default 1 */
  readonly valueMax?: number;
}

/** AdamW, the schedule and the step budget. */
export interface ImproveOptimizer {
  /** Peak learning rate of this Improve step (already decayed for the step), > 0. */
  readonly learningRate: number;
  readonly schedule: LrScheduleKind;
  /** Linear warm-up steps, ≥ 0. */
  readonly warmupSteps: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip; `undefined`: no clipping. */
  readonly maxGradNorm: number | undefined;
  /** Dropout of the policy during training, in [0, 1). */
  readonly dropout: number;
  /** Target tokens (rows × longest target) per batch. */
  readonly batchMaxTokens: number;
  /** Optimizer steps of the Improve step: it always ends at exactly this step. */
  readonly maxSteps: number;
  /** Validate (and checkpoint) every this many steps, and at the last step. */
  readonly evalEverySteps: number;
}

/** An Improve step, resolved. */
export interface ImproveSpec {
  /** Names the step in logs, checkpoints and lineage. */
  readonly jobId: string;
  /** The run it belongs to; '' for offline training. */
  readonly runId: string;
  readonly grow: number;
  readonly improve: number;
  readonly objective: ObjectiveChoice;
  readonly optimizer: ImproveOptimizer;
  /** Validation decoding (fixed for a run so scores compare) and size. */
  readonly eval: { readonly decoding: DecodingOptions; readonly maxSources: number | undefined };
  /** Seed of batching, priority draws and online samples. */
  readonly seed: number;
}

/** Defaults of `rest train` and of unset wire fields (run_spec.proto's documented defaults). */
export const IMPROVE_DEFAULTS = {
  learningRate: 1e-4,
  schedule: 'constant',
  warmupSteps: 0,
  beta1: 0.9,
  beta2: 0.98,
  epsilon: 1e-8,
  weightDecay: 0,
  dropout: 0.1,
  batchMaxTokens: 4096,
  maxSteps: 10000,
  evalEverySteps: 500,
  minRewardGap: 0.1,
} as const;

/** The A-LoL family: advantages, priority weights ∝ A⁺, and only A > 0 units are trained on. */
export const ADVANTAGE_OBJECTIVES: ReadonlySet<ObjectiveName> = new Set([
  'alol',
  'alol-ref-free',
  'alol-seq',
  'alol-kl',
]);

/** Objectives trained on preference pairs (2P rows, chosen first). */
export const PAIR_OBJECTIVES: ReadonlySet<ObjectiveName> = new Set(['dpo', 'hypo']);

/** Objectives this executor can feed: all of the registry's. */
export const SUPPORTED_OBJECTIVES: ReadonlySet<ObjectiveName> = new Set([
  'bc',
  'wbc',
  'gold',
  'oac',
  'bvmpo',
  'alol',
  'alol-ref-free',
  'alol-seq',
  'alol-kl',
  'r-lol',
  'dpo',
  'hypo',
]);

/**
 * Checks a spec as a whole (objective supported, hyperparameters valid, optimizer in range), reporting
 * every problem with its field path. Throws InvalidArgumentError.
 */
export function checkImproveSpec(spec: ImproveSpec, field = 'spec'): void {
  const problems: FieldViolation[] = [];
  const add = (f: string, problem: string): void => void problems.push({ field: `${field}.${f}`, problem });
  const name = spec.objective.name as string;
  if (!isObjectiveName(name)) add('objective.name', `unknown objective ${JSON.stringify(name)}`);
  else if (!SUPPORTED_OBJECTIVES.has(name))
    add('objective.name', `${name} is not supported by this trainer (needs a learned value/dual setup)`);
  else {
    try {
      parseObjectiveHyper(name, spec.objective.hyper);
    } catch (e) {
      if (e instanceof InvalidArgumentError)
        for (const v of e.violations) add(`objective.hyper.${v.field}`, v.problem);
      else throw e;
    }
  }
  if (!(spec.objective.minRewardGap > 0)) add('objective.minRewardGap', 'must be > 0');
  const estimate = spec.objective.valueEstimate ?? 'monte-carlo';
  if (estimate !== 'monte-carlo' && estimate !== 'head')
    add('objective.valueEstimate', `must be monte-carlo or head, got ${JSON.stringify(estimate)}`);
  else if (estimate === 'head' && isObjectiveName(name) && !ADVANTAGE_OBJECTIVES.has(name))
    add('objective.valueEstimate', `head: only the A-LoL family reads a value estimate, not ${name}`);
  const valueMax = spec.objective.valueMax ?? 1;
  if (!(valueMax > 0 && Number.isFinite(valueMax)))
    add('objective.valueMax', `must be a finite number > 0, got ${valueMax}`);
  const o = spec.optimizer;
  if (!(o.learningRate > 0)) add('optimizer.learningRate', `must be > 0, got ${o.learningRate}`);
  const intMin = (k: keyof ImproveOptimizer, min: number): void => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < min) add(`optimizer.${k}`, `must be an integer >= ${min}, got ${v}`);
  };
  intMin('warmupSteps', 0);
  intMin('batchMaxTokens', 1);
  intMin('maxSteps', 1);
  intMin('evalEverySteps', 1);
  if (!(o.dropout >= 0 && o.dropout < 1)) add('optimizer.dropout', `must be in [0, 1), got ${o.dropout}`);
  for (const k of ['beta1', 'beta2'] as const)
    if (!(o[k] >= 0 && o[k] < 1)) add(`optimizer.${k}`, `must be in [0, 1), got ${o[k]}`);
  if (!(o.epsilon > 0)) add('optimizer.epsilon', `must be > 0, got ${o.epsilon}`);
  if (!(o.weightDecay >= 0)) add('optimizer.weightDecay', `must be >= 0, got ${o.weightDecay}`);
  if (o.maxGradNorm !== undefined && !(o.maxGradNorm > 0))
    add('optimizer.maxGradNorm', `must be > 0, got ${o.maxGradNorm}`);
  if (!Number.isInteger(spec.seed) || spec.seed < 0) add('seed', `must be an integer >= 0, got ${spec.seed}`);
  if (spec.eval.maxSources !== undefined && !(spec.eval.maxSources >= 1))
    add('eval.maxSources', `must be >= 1, got ${spec.eval.maxSources}`);
  if (problems.length > 0) throw InvalidArgumentError.fromViolations(problems);
}

/** The peak learning rate at `step` (1-based) of `o`'s schedule, computed on the host. */
export function learningRateAtStep(o: ImproveOptimizer, step: number): number {
  const warm = o.warmupSteps;
  if (warm > 0 && step <= warm) return (o.learningRate * step) / warm;
  switch (o.schedule) {
    case 'constant':
      return o.learningRate;
    case 'inverse-sqrt':
      return o.learningRate * Math.sqrt(Math.max(warm, 1) / step);
    case 'linear': {
      const left = Math.max(0, o.maxSteps - step + 1);
      return (o.learningRate * left) / Math.max(1, o.maxSteps - warm);
    }
  }
}
