/**
 * The registry of offline-RL objectives, keyed by name (docs/ALGORITHMS.md §3), and the three calls a
 * trainer needs: parse an objective's hyperparameters (defaults filled, every problem reported with its
 * field path), declare its data inputs, and build its loss into a graph.
 */
import type { z } from 'zod';
import type { Dim, DType, Graph, Tensor } from '@rest/runtime';
import { InvalidArgumentError } from '@rest/service-kit';
import { ALOL, ALOL_KL, ALOL_REF_FREE, ALOL_SEQ, R_LOL } from './alol.js';
import { BC } from './bc.js';
import { BVMPO } from './bvmpo.js';
import { DPO } from './dpo.js';
import { GOLD } from './gold.js';
import { HYPO } from './hypo.js';
import { OAC } from './oac.js';
import { parseWith, type Objective, type ObjectiveInput, type ObjectiveOutput } from './objective.js';
import { WBC } from './wbc.js';

/** Every objective, by name. */
export const OBJECTIVES = {
  bc: BC,
  wbc: WBC,
  gold: GOLD,
  oac: OAC,
  bvmpo: BVMPO,
  alol: ALOL,
  'alol-ref-free': ALOL_REF_FREE,
  'alol-seq': ALOL_SEQ,
  'alol-kl': ALOL_KL,
  'r-lol': R_LOL,
  dpo: DPO,
  hypo: HYPO,
} as const satisfies Readonly<Record<string, Objective>>;

/** An objective's name. */
export type ObjectiveName = keyof typeof OBJECTIVES;

/** The names, in registry order. */
export const OBJECTIVE_NAMES = Object.keys(OBJECTIVES) as ObjectiveName[];

/** Hyperparameters of objective `N` after defaults. */
export type ObjectiveHyper<N extends ObjectiveName> = z.output<(typeof OBJECTIVES)[N]['hyper']>;

/** Hyperparameters of objective `N` as a caller may give them (every field optional). */
export type ObjectiveHyperInput<N extends ObjectiveName> = z.input<(typeof OBJECTIVES)[N]['hyper']>;

/** Whether `name` is a registered objective. */
export function isObjectiveName(name: string): name is ObjectiveName {
  return Object.hasOwn(OBJECTIVES, name);
}

function entry(name: string): Objective {
  if (!isObjectiveName(name))
    throw InvalidArgumentError.fromViolations([
      {
        field: 'objective',
        problem: `must be one of ${OBJECTIVE_NAMES.join(', ')} (got ${JSON.stringify(name)})`,
      },
    ]);
  return OBJECTIVES[name];
}

/**
 * Validates `raw` (undefined = all defaults) against objective `name`'s schema. Throws
 * InvalidArgumentError listing every problem as `<name>.<field>: <problem>`, or naming an unknown
 * objective.
 */
export function parseObjectiveHyper<N extends ObjectiveName>(name: N, raw?: unknown): ObjectiveHyper<N> {
  return parseWith(name, entry(name).hyper, raw) as ObjectiveHyper<N>;
}

/** The inputs objective `name` reads under `hyper` (already parsed). */
export function objectiveInputs<N extends ObjectiveName>(
  name: N,
  hyper: ObjectiveHyper<N>,
): readonly ObjectiveInput[] {
  return entry(name).inputs(hyper);
}

/**
 * Declares objective `name`'s inputs as graph inputs of `g` (all `dtype`), except those in `provided`
 * (typically `token_logp`, wired from the policy). Dimension letters map through `dims` (e.g.
 * `{ B: 'B', T: 'T', V: 32000 }`); a letter not in it becomes a symbolic dim of the same name.
 */
export function declareObjectiveInputs<N extends ObjectiveName>(
  g: Graph,
  name: N,
  hyper: ObjectiveHyper<N>,
  dtype: Extract<DType, 'f32' | 'f64'>,
  opts: { provided?: Readonly<Record<string, Tensor>>; dims?: Readonly<Record<string, Dim>> } = {},
): Record<string, Tensor> {
  const out: Record<string, Tensor> = { ...opts.provided };
  for (const spec of objectiveInputs(name, hyper)) {
    if (out[spec.name] !== undefined) continue;
    out[spec.name] = g.input(
      spec.name,
      dtype,
      spec.dims.map((d) => opts.dims?.[d] ?? d),
    );
  }
  return out;
}

/**
 * Parses `raw` hyperparameters and builds objective `name`'s loss into `g` from `inputs`. Throws
 * InvalidArgumentError for bad hyperparameters, ObjectiveInputError for a missing or misshaped input.
 */
export function buildObjective<N extends ObjectiveName>(
  g: Graph,
  name: N,
  inputs: Readonly<Record<string, Tensor>>,
  raw?: ObjectiveHyperInput<N>,
): ObjectiveOutput {
  const hyper = parseObjectiveHyper(name, raw);
  return entry(name).build(g, inputs, hyper);
}
