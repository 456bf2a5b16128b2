/**
 * Parses the wire `Objective` of a run spec into a resolved `ObjectiveSpec`: the oneof case is the
 * objective's name, zero scalars take the documented defaults (OBJECTIVE_DEFAULTS), and each
 * hyperparameter is range-checked under its field path.
 */
import { objectives } from '@rest/proto';
import type { Violations } from '@rest/service-kit';
import {
  OBJECTIVE_DEFAULTS,
  OBJECTIVE_NAMES,
  type DpoSpec,
  type ExampleSampling,
  type ObjectiveSpec,
  type ValueFunctionSpec,
} from '../run/objective.js';
import { interval, nonNegative, orDefault, positive, wireEnum } from './checks.js';

const O = objectives;
const D = OBJECTIVE_DEFAULTS;

/** What the objective's defaults depend on elsewhere in the spec. */
export interface ObjectiveContext {
  /** An empty reference_policy_id means this policy. */
  readonly basePolicyId: string;
  /** An unset value-function learning rate means this one. */
  readonly learningRate: number;
}

const SAMPLING: ReadonlyMap<number, ExampleSampling | undefined> = new Map([
  [O.ExampleSampling.EXAMPLE_SAMPLING_UNSPECIFIED, undefined],
  [O.ExampleSampling.EXAMPLE_SAMPLING_UNIFORM, 'uniform'],
  [O.ExampleSampling.EXAMPLE_SAMPLING_PRIORITY, 'priority'],
] as const);
const GOLD_VARIANTS = new Map([
  [O.GoldVariant.GOLD_VARIANT_UNSPECIFIED, 'gold'],
  [O.GoldVariant.GOLD_VARIANT_GOLD, 'gold'],
  [O.GoldVariant.GOLD_VARIANT_R_GOLD, 'r-gold'],
] as const);
const GOLD_REWARDS = new Map([
  [O.GoldTokenReward.GOLD_TOKEN_REWARD_UNSPECIFIED, 'prob'],
  [O.GoldTokenReward.GOLD_TOKEN_REWARD_PROB, 'prob'],
  [O.GoldTokenReward.GOLD_TOKEN_REWARD_LOGPROB, 'logprob'],
] as const);
const KL_ANNEALING = new Map([
  [O.KlAnnealing.KL_ANNEALING_UNSPECIFIED, 'log-linear'],
  [O.KlAnnealing.KL_ANNEALING_LOG_LINEAR, 'log-linear'],
  [O.KlAnnealing.KL_ANNEALING_LINEAR, 'linear'],
  [O.KlAnnealing.KL_ANNEALING_CONSTANT, 'constant'],
] as const);
const ALOL_VARIANTS = new Map([
  [O.AlolVariant.ALOL_VARIANT_UNSPECIFIED, 'alol'],
  [O.AlolVariant.ALOL_VARIANT_ALOL, 'alol'],
  [O.AlolVariant.ALOL_VARIANT_REF_FREE, 'ref-free'],
  [O.AlolVariant.ALOL_VARIANT_SEQ, 'seq'],
  [O.AlolVariant.ALOL_VARIANT_KL, 'kl'],
  [O.AlolVariant.ALOL_VARIANT_RLOL, 'rlol'],
] as const);
const ALOL_VALUES = new Map([
  [O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_UNSPECIFIED, 'monte-carlo'],
  [O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_MONTE_CARLO, 'monte-carlo'],
  [O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_HEAD, 'head'],
] as const);
const PAIR_SELECTION = new Map([
  [O.PairSelection.PAIR_SELECTION_UNSPECIFIED, 'best-worst'],
  [O.PairSelection.PAIR_SELECTION_BEST_WORST, 'best-worst'],
  [O.PairSelection.PAIR_SELECTION_MIN_GAP, 'min-gap'],
] as const);

/** Largest GOLD look-ahead k (the Grow decoding length bound makes longer ones pointless). */
const MAX_LOOKAHEAD = 1024;
/** Largest HyPO k. */
const MAX_ONLINE_SAMPLES = 64;

/** Reads `wire` (unset: bc) into `v`, under `field`. */
export function readObjective(
  v: Violations,
  field: string,
  wire: objectives.Objective | undefined,
  ctx: ObjectiveContext,
): ObjectiveSpec {
  const referencePolicyId = wire?.referencePolicyId || ctx.basePolicyId;
  const one = wire?.objective;
  if (one === undefined) return { name: 'bc', referencePolicyId };
  const f = `${field}.${one.$case}`;
  switch (one.$case) {
    case 'bc':
      return { name: 'bc', referencePolicyId };
    case 'wbc':
      return {
        name: 'wbc',
        referencePolicyId,
        sampling:
          wireEnum(v, `${f}.sampling`, one.wbc.sampling, SAMPLING, O.exampleSamplingToJSON) ?? 'uniform',
      };
    case 'gold': {
      const g = one.gold;
      const variant = wireEnum(v, `${f}.variant`, g.variant, GOLD_VARIANTS, O.goldVariantToJSON);
      const weightMinDefault = variant === 'r-gold' ? D.gold.weightMinRGold : D.gold.weightMin;
      return {
        name: 'gold',
        referencePolicyId,
        variant,
        tokenReward: wireEnum(v, `${f}.token_reward`, g.tokenReward, GOLD_REWARDS, O.goldTokenRewardToJSON),
        weightMin:
          g.weightMin === undefined
            ? weightMinDefault
            : interval(v, `${f}.weight_min`, g.weightMin, 0, 1, '[]'),
        rewardMin: g.rewardMin === undefined ? D.gold.rewardMin : finite(v, `${f}.reward_min`, g.rewardMin),
        lagRefreshSteps: orDefault(g.lagRefreshSteps, D.gold.lagRefreshSteps, (x) => x),
        lookahead:
          g.lookahead === undefined
            ? D.gold.lookahead
            : v.integer(`${f}.lookahead`, g.lookahead, 0, MAX_LOOKAHEAD),
        discount: orDefault(g.discount, D.gold.discount, (x) => interval(v, `${f}.discount`, x, 0, 1, '(]')),
        logprobOffset: orDefault(g.logprobOffset, D.gold.logprobOffset, (x) =>
          finite(v, `${f}.logprob_offset`, x),
        ),
      };
    }
    case 'oac':
      return {
        name: 'oac',
        referencePolicyId,
        value: readValue(v, `${f}.value`, one.oac.value, ctx),
        bcWeight: nonNegative(v, `${f}.bc_weight`, one.oac.bcWeight),
        advantageScaling: !one.oac.disableAdvantageScaling,
      };
    case 'bvmpo': {
      const b = one.bvmpo;
      const klWeightStart = orDefault(b.klWeightStart, D.bvmpo.klWeightStart, (x) =>
        positive(v, `${f}.kl_weight_start`, x),
      );
      const klWeightEnd = orDefault(b.klWeightEnd, D.bvmpo.klWeightEnd, (x) =>
        positive(v, `${f}.kl_weight_end`, x),
      );
      if (klWeightEnd > klWeightStart) {
        v.add(`${f}.kl_weight_end`, `must be <= kl_weight_start (${klWeightEnd} > ${klWeightStart})`);
      }
      return {
        name: 'bvmpo',
        referencePolicyId,
        value: readValue(v, `${f}.value`, b.value, ctx),
        klWeightStart,
        klWeightEnd,
        klAnnealing: wireEnum(v, `${f}.kl_annealing`, b.klAnnealing, KL_ANNEALING, O.klAnnealingToJSON),
        topFraction: orDefault(b.topFraction, D.bvmpo.topFraction, (x) =>
          interval(v, `${f}.top_fraction`, x, 0, 1, '(]'),
        ),
        epsilonEta: orDefault(b.epsilonEta, D.bvmpo.epsilonEta, (x) => positive(v, `${f}.epsilon_eta`, x)),
        epsilonAlpha: orDefault(b.epsilonAlpha, D.bvmpo.epsilonAlpha, (x) =>
          positive(v, `${f}.epsilon_alpha`, x),
        ),
        targetRefreshSteps: orDefault(b.targetRefreshSteps, D.bvmpo.targetRefreshSteps, (x) => x),
      };
    }
    case 'alol': {
      const a = one.alol;
      const variant = wireEnum(v, `${f}.variant`, a.variant, ALOL_VARIANTS, O.alolVariantToJSON);
      // The KL variant has no importance weight, so its ε must be 0 (objectives.proto).
      const clipEpsilon =
        a.clipEpsilon === undefined
          ? variant === 'kl'
            ? 0
            : D.alol.clipEpsilon
          : interval(v, `${f}.clip_epsilon`, a.clipEpsilon, 0, 1, '[)');
      if (variant === 'kl' && clipEpsilon !== 0) {
        v.add(`${f}.clip_epsilon`, `must be 0 for ALOL_VARIANT_KL (got ${clipEpsilon})`);
      }
      return {
        name: 'alol',
        referencePolicyId,
        variant,
        clipEpsilon,
        klBeta: orDefault(a.klBeta, D.alol.klBeta, (x) => positive(v, `${f}.kl_beta`, x)),
        valueEstimate: wireEnum(
          v,
          `${f}.value_estimate`,
          a.valueEstimate,
          ALOL_VALUES,
          O.alolValueEstimateToJSON,
        ),
        valueMax: orDefault(a.valueMax, D.alol.valueMax, (x) => positive(v, `${f}.value_max`, x)),
        sampling: wireEnum(v, `${f}.sampling`, a.sampling, SAMPLING, O.exampleSamplingToJSON) ?? 'priority',
        advantageReplacesThreshold: a.advantageReplacesThreshold,
      };
    }
    case 'dpo':
      return { name: 'dpo', referencePolicyId, ...readDpo(v, f, one.dpo) };
    case 'hypo': {
      const h = one.hypo;
      return {
        name: 'hypo',
        referencePolicyId,
        dpo: readDpo(v, `${f}.dpo`, h.dpo),
        klWeight: orDefault(h.klWeight, D.hypo.klWeight, (x) => positive(v, `${f}.kl_weight`, x)),
        onlineSamples: orDefault(h.onlineSamples, D.hypo.onlineSamples, (x) =>
          v.integer(`${f}.online_samples`, x, 2, MAX_ONLINE_SAMPLES),
        ),
        onlineSourceFraction: orDefault(h.onlineSourceFraction, D.hypo.onlineSourceFraction, (x) =>
          interval(v, `${f}.online_source_fraction`, x, 0, 1, '(]'),
        ),
        advantageClamp: orDefault(h.advantageClamp, D.hypo.advantageClamp, (x) =>
          positive(v, `${f}.advantage_clamp`, x),
        ),
      };
    }
    default: {
      // Unreachable for decoded messages (an unknown field number is dropped by the decoder), but a
      // hand-built message can carry any case name.
      const unknown: { $case: string } = one;
      v.add(`${field}.${unknown.$case}`, `unknown objective; expected one of ${OBJECTIVE_NAMES.join(', ')}`);
      return undefined as never;
    }
  }
}

function readDpo(v: Violations, f: string, wire: objectives.DpoParams | undefined): DpoSpec {
  const d = wire ?? O.DpoParams.create();
  return {
    beta: orDefault(d.beta, D.dpo.beta, (x) => positive(v, `${f}.beta`, x)),
    pairSelection: wireEnum(v, `${f}.pair_selection`, d.pairSelection, PAIR_SELECTION, O.pairSelectionToJSON),
    minRewardGap: orDefault(d.minRewardGap, D.dpo.minRewardGap, (x) => positive(v, `${f}.min_reward_gap`, x)),
    referenceFree: d.referenceFree,
  };
}

function readValue(
  v: Violations,
  f: string,
  wire: objectives.ValueFunctionParams | undefined,
  ctx: ObjectiveContext,
): ValueFunctionSpec {
  const w = wire ?? O.ValueFunctionParams.create();
  return {
    discount: orDefault(w.discount, D.value.discount, (x) => interval(v, `${f}.discount`, x, 0, 1, '(]')),
    learningRate: orDefault(w.learningRate, ctx.learningRate, (x) => positive(v, `${f}.learning_rate`, x)),
    trainSteps: orDefault(w.trainSteps, D.value.trainSteps, (x) => x),
  };
}

function finite(v: Violations, field: string, value: number): number {
  if (!Number.isFinite(value)) v.add(field, `must be finite (got ${value})`);
  return value;
}
