/**
 * Decodes a `rest.v1.ImproveWork` message into the domain {@link ImproveJob}: required fields checked,
 * zero scalars read as the documented defaults (the coordinator resolves them, so they are rarely
 * zero), the wire objective mapped to a trainer registry entry with its hyperparameters, every problem
 * reported at once with its field path (InvalidArgumentError: the message is dead-lettered).
 */
import { common, events, objectives, reward, runSpec } from '@rest/proto';
import { Violations } from '@rest/service-kit';
import type { DecodingOptions } from '@rest/runtime';
import type { ImproveJob } from '../jobs/improve-job.js';
import {
  IMPROVE_DEFAULTS,
  checkImproveSpec,
  type ImproveOptimizer,
  type ObjectiveChoice,
  type LrScheduleKind,
} from '../improve/spec.js';
import type { RewardNormalization } from '../improve/metric-reward.js';

const F = 'ImproveWork';
const O = objectives;

const orDefault = (v: number, d: number): number => (v === 0 ? d : v);

/** The wire objective as a registry entry, hyperparameters and data settings. */
export function objectiveChoice(
  v: Violations,
  wire: objectives.Objective | undefined,
  labelSmoothing: number,
): ObjectiveChoice {
  const f = `${F}.objective`;
  const base = {
    sampling: 'uniform' as const,
    pairSelection: 'best-worst' as const,
    minRewardGap: IMPROVE_DEFAULTS.minRewardGap,
  };
  const one = wire?.objective;
  const sampling = (s: objectives.ExampleSampling, dflt: 'uniform' | 'priority'): 'uniform' | 'priority' =>
    s === O.ExampleSampling.EXAMPLE_SAMPLING_UNIFORM
      ? 'uniform'
      : s === O.ExampleSampling.EXAMPLE_SAMPLING_PRIORITY
        ? 'priority'
        : dflt;
  const pairs = (
    d: objectives.DpoParams | undefined,
  ): Pick<ObjectiveChoice, 'pairSelection' | 'minRewardGap'> => ({
    pairSelection: d?.pairSelection === O.PairSelection.PAIR_SELECTION_MIN_GAP ? 'min-gap' : 'best-worst',
    minRewardGap: orDefault(d?.minRewardGap ?? 0, IMPROVE_DEFAULTS.minRewardGap),
  });
  const dpoHyper = (d: objectives.DpoParams | undefined): Record<string, unknown> => ({
    ...(d !== undefined && d.beta !== 0 ? { beta: d.beta } : {}),
    referenceFree: d?.referenceFree ?? false,
  });
  if (one === undefined) return { ...base, name: 'bc', hyper: { labelSmoothing } };
  switch (one.$case) {
    case 'bc':
      return { ...base, name: 'bc', hyper: { labelSmoothing } };
    case 'wbc':
      return { ...base, name: 'wbc', hyper: {}, sampling: sampling(one.wbc.sampling, 'uniform') };
    case 'gold': {
      const g = one.gold;
      if (g.variant === O.GoldVariant.GOLD_VARIANT_R_GOLD)
        v.add(`${f}.gold.variant`, 'GOLD_VARIANT_R_GOLD is not supported by this trainer');
      return {
        ...base,
        name: 'gold',
        hyper: {
          tokenReward: g.tokenReward === O.GoldTokenReward.GOLD_TOKEN_REWARD_LOGPROB ? 'logprob' : 'prob',
          ...(g.weightMin === undefined ? {} : { weightMin: g.weightMin }),
          ...(g.rewardMin === undefined ? {} : { rewardMin: g.rewardMin }),
          ...(g.lookahead === undefined ? {} : { lookahead: g.lookahead }),
          ...(g.lagRefreshSteps === 0 ? {} : { lagRefreshSteps: g.lagRefreshSteps }),
          ...(g.discount === 0 ? {} : { discount: g.discount }),
          ...(g.logprobOffset === 0 ? {} : { logprobOffset: g.logprobOffset }),
          labelSmoothing,
        },
      };
    }
    case 'oac':
      return {
        ...base,
        name: 'oac',
        hyper: {
          ...(one.oac.value !== undefined && one.oac.value.discount !== 0
            ? { discount: one.oac.value.discount }
            : {}),
          bcWeight: one.oac.bcWeight,
          advantageScaling: !one.oac.disableAdvantageScaling,
        },
      };
    case 'bvmpo': {
      const b = one.bvmpo;
      const annealing = new Map<number, string>([
        [O.KlAnnealing.KL_ANNEALING_LOG_LINEAR, 'log-linear'],
        [O.KlAnnealing.KL_ANNEALING_LINEAR, 'linear'],
        [O.KlAnnealing.KL_ANNEALING_CONSTANT, 'constant'],
      ]).get(b.klAnnealing);
      if (b.klAnnealing !== O.KlAnnealing.KL_ANNEALING_UNSPECIFIED && annealing === undefined)
        v.add(`${f}.bvmpo.kl_annealing`, `unknown value ${b.klAnnealing}`);
      // Zero means the documented default: leave it to the objective's schema (which checks ranges).
      const set = <K extends string>(key: K, x: number): Partial<Record<K, number>> =>
        x === 0 ? {} : ({ [key]: x } as Record<K, number>);
      return {
        ...base,
        name: 'bvmpo',
        hyper: {
          ...(b.value !== undefined ? set('discount', b.value.discount) : {}),
          ...set('klWeightStart', b.klWeightStart),
          ...set('klWeightEnd', b.klWeightEnd),
          ...(annealing === undefined ? {} : { klAnnealing: annealing }),
          ...set('topFraction', b.topFraction),
          ...set('epsilonEta', b.epsilonEta),
          ...set('epsilonAlpha', b.epsilonAlpha),
          ...set('targetRefreshSteps', b.targetRefreshSteps),
        },
      };
    }
    case 'alol': {
      const a = one.alol;
      const head = a.valueEstimate === O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_HEAD;
      if (head && a.variant === O.AlolVariant.ALOL_VARIANT_RLOL)
        v.add(`${f}.alol.value_estimate`, 'R-LoL has no value function; leave it unset or MONTE_CARLO');
      if (!(a.valueMax >= 0 && Number.isFinite(a.valueMax)))
        v.add(`${f}.alol.value_max`, `must be a finite number ≥ 0 (0: 1), got ${a.valueMax}`);
      // The value estimate of the A-LoL variants (R-LoL has none).
      const value = {
        valueEstimate: head ? ('head' as const) : ('monte-carlo' as const),
        valueMax: a.valueMax > 0 ? a.valueMax : 1,
      };
      const clip = a.clipEpsilon === undefined ? {} : { clipEpsilon: a.clipEpsilon };
      const s = sampling(a.sampling, 'priority');
      switch (a.variant) {
        case O.AlolVariant.ALOL_VARIANT_REF_FREE:
          return { ...base, ...value, name: 'alol-ref-free', hyper: {}, sampling: s };
        case O.AlolVariant.ALOL_VARIANT_SEQ:
          return { ...base, ...value, name: 'alol-seq', hyper: clip, sampling: s };
        case O.AlolVariant.ALOL_VARIANT_KL:
          return {
            ...base,
            ...value,
            name: 'alol-kl',
            hyper: { ...(a.klBeta === 0 ? {} : { klBeta: a.klBeta }), clipEpsilon: a.clipEpsilon ?? 0 },
            sampling: s,
          };
        case O.AlolVariant.ALOL_VARIANT_RLOL:
          return { ...base, name: 'r-lol', hyper: clip, sampling: s };
        default:
          return { ...base, ...value, name: 'alol', hyper: clip, sampling: s };
      }
    }
    case 'dpo':
      return { ...base, ...pairs(one.dpo), name: 'dpo', hyper: dpoHyper(one.dpo) };
    case 'hypo': {
      const h = one.hypo;
      return {
        ...base,
        ...pairs(h.dpo),
        name: 'hypo',
        hyper: {
          ...dpoHyper(h.dpo),
          ...(h.klWeight === 0 ? {} : { klWeight: h.klWeight }),
          ...(h.onlineSamples === 0 ? {} : { onlineSamples: h.onlineSamples }),
          ...(h.onlineSourceFraction === 0 ? {} : { onlineSourceFraction: h.onlineSourceFraction }),
          ...(h.advantageClamp === 0 ? {} : { advantageClamp: h.advantageClamp }),
        },
      };
    }
  }
}

function optimizer(
  v: Violations,
  o: runSpec.OptimizerParams | undefined,
  maxSteps: number,
): ImproveOptimizer {
  const schedule: LrScheduleKind =
    o?.lrSchedule === runSpec.LrSchedule.LR_SCHEDULE_INVERSE_SQRT
      ? 'inverse-sqrt'
      : o?.lrSchedule === runSpec.LrSchedule.LR_SCHEDULE_LINEAR
        ? 'linear'
        : 'constant';
  if (o === undefined) v.add(`${F}.optimizer`, 'is required');
  const d = IMPROVE_DEFAULTS;
  return {
    learningRate: orDefault(o?.learningRate ?? 0, d.learningRate),
    schedule,
    warmupSteps: o?.warmupSteps ?? 0,
    beta1: orDefault(o?.beta1 ?? 0, d.beta1),
    beta2: orDefault(o?.beta2 ?? 0, d.beta2),
    epsilon: orDefault(o?.epsilon ?? 0, d.epsilon),
    weightDecay: o?.weightDecay ?? 0,
    maxGradNorm: o === undefined || o.maxGradNorm === 0 ? undefined : o.maxGradNorm,
    dropout: o?.dropout ?? d.dropout,
    batchMaxTokens: orDefault(o?.batchMaxTokens ?? 0, d.batchMaxTokens),
    maxSteps,
    evalEverySteps: orDefault(o?.evalEverySteps ?? 0, d.evalEverySteps),
  };
}

/** The decoding of validation outputs; unset: greedy (deterministic, cheap). */
export function decodingOf(p: common.DecodingParams | undefined): DecodingOptions {
  const S = common.DecodingStrategy;
  const strategy =
    p?.strategy === S.DECODING_STRATEGY_BEAM
      ? 'beam'
      : p?.strategy === S.DECODING_STRATEGY_SAMPLE
        ? 'sample'
        : 'greedy';
  return {
    strategy,
    ...(p !== undefined && p.maxNewTokens !== 0 ? { maxNewTokens: p.maxNewTokens } : {}),
    ...(strategy === 'beam'
      ? { beamSize: orDefault(p?.numBeams ?? 0, 4), lengthPenalty: p?.lengthPenalty ?? 1 }
      : {}),
    ...(strategy === 'sample'
      ? {
          temperature: orDefault(p?.temperature ?? 0, 1),
          topK: p?.topK ?? 0,
          topP: orDefault(p?.topP ?? 0, 1),
          seed: Number((p?.seed ?? 0n) % 2n ** 32n),
        }
      : {}),
  };
}

function normalizationOf(n: reward.Normalization): RewardNormalization {
  switch (n) {
    case reward.Normalization.NORMALIZATION_RAW:
      return 'raw';
    case reward.Normalization.NORMALIZATION_ZSCORE:
      return 'zscore';
    default:
      return 'clipped01';
  }
}

/** Parses an ImproveWork message. Throws InvalidArgumentError listing every problem. */
export function parseImproveWork(w: events.ImproveWork): ImproveJob {
  const v = new Violations();
  v.nonEmpty(`${F}.job_id`, w.jobId);
  v.nonEmpty(`${F}.run_id`, w.runId);
  v.nonEmpty(`${F}.parent_policy_id`, w.parentPolicyId);
  v.nonEmpty(`${F}.dataset`, w.dataset);
  if (w.grow < 1) v.add(`${F}.grow`, 'must be >= 1');
  if (w.improve < 1) v.add(`${F}.improve`, 'must be >= 1');
  if (w.numShards < 1) v.add(`${F}.num_shards`, 'must be >= 1');
  if (w.reward === undefined || w.reward.model.trim() === '') v.add(`${F}.reward.model`, 'is required');
  const labelSmoothing = w.optimizer?.labelSmoothing ?? 0.1;
  const objective = objectiveChoice(v, w.objective, labelSmoothing);
  const spec = {
    jobId: w.jobId,
    runId: w.runId,
    grow: w.grow,
    improve: w.improve,
    objective,
    optimizer: optimizer(
      v,
      w.optimizer,
      orDefault(w.optimizer?.maxStepsPerImprove ?? 0, IMPROVE_DEFAULTS.maxSteps),
    ),
    eval: {
      decoding: decodingOf(w.eval?.decoding),
      maxSources: w.eval === undefined || w.eval.maxSources === 0 ? undefined : w.eval.maxSources,
    },
    seed: Number(w.seed % 2n ** 32n),
  };
  v.throwIfAny();
  checkImproveSpec(spec, F);
  return {
    spec,
    parentPolicyId: w.parentPolicyId,
    referencePolicyId: w.objective?.referencePolicyId || w.parentPolicyId,
    numShards: w.numShards,
    dataset: w.dataset,
    validSplit: w.validSplit || 'valid',
    reward: { model: w.reward!.model, normalization: normalizationOf(w.reward!.normalization) },
  };
}
