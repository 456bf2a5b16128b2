/**
 * The training objective of a run's Improve steps, with every hyperparameter resolved
 * (docs/ALGORITHMS.md §3; the wire form is rest.v1.Objective). The `name` is the objective's name
 * as the trainer knows it (`trainer/src/objectives/<name>.ts`). Defaults live in
 * {@link OBJECTIVE_DEFAULTS} so the adapter, the README and the tests read one table.
 */

/** How training examples are drawn from the filtered set. */
export type ExampleSampling = 'uniform' | 'priority';

/** The behaviour value function OAC and BVMPO fit on the Grow samples, then freeze. */
export interface ValueFunctionSpec {
  /** γ of the return `G_t = γ^(T−t) R`, in (0, 1]. @default 1 */
  readonly discount: number;
  /** Learning rate of the value fit, > 0. @default the run's optimizer learning rate */
  readonly learningRate: number;
  /** Optimizer steps of the value fit. @default 2000 */
  readonly trainSteps: number;
}

/** DPO hyperparameters (ALGORITHMS.md §3.6). */
export interface DpoSpec {
  /** β, > 0. @default 0.1 */
  readonly beta: number;
  /** One (best, worst) pair per source, or every pair with a reward gap ≥ `minRewardGap`. @default 'best-worst' */
  readonly pairSelection: 'best-worst' | 'min-gap';
  /** δ: smallest reward gap of a `min-gap` pair, on the run's reward scale, > 0. @default 0.1 */
  readonly minRewardGap: number;
  /** Drop the S_ref terms. @default false */
  readonly referenceFree: boolean;
}

/** An objective and its resolved hyperparameters; `referencePolicyId` is the frozen π_ref. */
export type ObjectiveSpec = { readonly referencePolicyId: string } & (
  | { readonly name: 'bc' }
  | { readonly name: 'wbc'; readonly sampling: ExampleSampling }
  | {
      readonly name: 'gold';
      readonly variant: 'gold' | 'r-gold';
      readonly tokenReward: 'prob' | 'logprob';
      /** u, in [0, 1]. @default 0.2 (0.1 for r-gold) */
      readonly weightMin: number;
      /** c, the token-reward floor. @default 0.1 */
      readonly rewardMin: number;
      /** K: optimizer steps between refreshes of the lagged copy. @default 3000 */
      readonly lagRefreshSteps: number;
      /** k: look-ahead of the truncated return, ≥ 0. @default 5 */
      readonly lookahead: number;
      /** γ of the truncated return, in (0, 1]. @default 1 */
      readonly discount: number;
      /** b of the logprob reward `log p − b`. @default −10 */
      readonly logprobOffset: number;
    }
  | {
      readonly name: 'oac';
      readonly value: ValueFunctionSpec;
      /** α_BC ≥ 0; 0 disables the BC term. @default 0 */
      readonly bcWeight: number;
      /** Divide advantages by their batch std. @default true */
      readonly advantageScaling: boolean;
    }
  | {
      readonly name: 'bvmpo';
      readonly value: ValueFunctionSpec;
      /** λ at the start of an Improve step, > 0. @default 1 */
      readonly klWeightStart: number;
      /** λ at the end, in (0, klWeightStart]. @default 1e-5 */
      readonly klWeightEnd: number;
      readonly klAnnealing: 'log-linear' | 'linear' | 'constant';
      /** Fraction of tokens kept by advantage, in (0, 1]. @default 0.5 */
      readonly topFraction: number;
      /** ε_η > 0. @default 1e-2 */
      readonly epsilonEta: number;
      /** ε_α > 0. @default 5e-3 */
      readonly epsilonAlpha: number;
      /** @default 1000 */
      readonly targetRefreshSteps: number;
    }
  | {
      readonly name: 'alol';
      readonly variant: 'alol' | 'ref-free' | 'seq' | 'kl' | 'rlol';
      /** ε in [0, 1); must be 0 for the kl variant. @default 0.9 (0 for kl) */
      readonly clipEpsilon: number;
      /** β_KL of the kl variant, > 0. @default 0.2 */
      readonly klBeta: number;
      readonly valueEstimate: 'monte-carlo' | 'head';
      /** Upper bound of the value head's output, > 0. @default 1 */
      readonly valueMax: number;
      /** @default 'priority' */
      readonly sampling: ExampleSampling;
      readonly advantageReplacesThreshold: boolean;
    }
  | ({ readonly name: 'dpo' } & DpoSpec)
  | {
      readonly name: 'hypo';
      readonly dpo: DpoSpec;
      /** λ of the online reverse-KL term, > 0. @default 1e-2 */
      readonly klWeight: number;
      /** k: online samples per source, ≥ 2 (leave-one-out baseline). @default 2 */
      readonly onlineSamples: number;
      /** In (0, 1]. @default 1 */
      readonly onlineSourceFraction: number;
      /** Clamp of ρ_j − b_j in nats, > 0. @default 20 */
      readonly advantageClamp: number;
    }
);

/** Every objective name a run spec accepts. */
export const OBJECTIVE_NAMES = ['bc', 'wbc', 'gold', 'oac', 'bvmpo', 'alol', 'dpo', 'hypo'] as const;

/** Name of an objective family. */
export type ObjectiveName = (typeof OBJECTIVE_NAMES)[number];

/** Documented defaults of the objectives' hyperparameters (objectives.proto, ALGORITHMS.md §3). */
export const OBJECTIVE_DEFAULTS = {
  gold: {
    weightMin: 0.2,
    weightMinRGold: 0.1,
    rewardMin: 0.1,
    lagRefreshSteps: 3000,
    lookahead: 5,
    discount: 1,
    logprobOffset: -10,
  },
  value: { discount: 1, trainSteps: 2000 },
  bvmpo: {
    klWeightStart: 1,
    klWeightEnd: 1e-5,
    topFraction: 0.5,
    epsilonEta: 1e-2,
    epsilonAlpha: 5e-3,
    targetRefreshSteps: 1000,
  },
  alol: { clipEpsilon: 0.9, klBeta: 0.2, valueMax: 1 },
  dpo: { beta: 0.1, minRewardGap: 0.1 },
  hypo: { klWeight: 1e-2, onlineSamples: 2, onlineSourceFraction: 1, advantageClamp: 20 },
} as const;
