/**
 * What every offline-RL objective is (docs/ALGORITHMS.md §3): a named graph fragment over per-token
 * log-probabilities, with the graph inputs it reads, its hyperparameters (a zod schema with defaults)
 * and `build`, which emits the batch loss and a few metrics into the caller's graph.
 *
 * Dimension letters used by every objective's input table:
 *   B  rows of the batch (examples; for DPO/HyPO the 2P rows of P pairs, chosen half first)
 *   T  target positions (EOS included, padding masked out)
 *   V  vocabulary
 *   Q  online samples (HyPO), k consecutive rows per prompt;  U  their target positions
 *
 * An objective never sees the model: the caller feeds the policy's per-token log-probs (e.g. from
 * {@link tokenLogProbs}) into `token_logp`, so the same fragment serves any policy graph.
 */
import { z } from 'zod';
import type { Graph, Tensor } from '@rest/runtime';
import { InvalidArgumentError, type FieldViolation } from '@rest/service-kit';

/** One graph input an objective reads. */
export interface ObjectiveInput {
  /** Input name, snake_case (`token_logp`, `reward`, ...). */
  readonly name: string;
  /** Shape in the module's dimension letters (`['B', 'T']`); `[]` for a scalar. */
  readonly dims: readonly string[];
  /** What to feed and where it comes from. */
  readonly doc: string;
  /**
   * Whether the loss is differentiated through it: it must be wired to the policy (or to a trainable
   * parameter). Every other input is data, detached inside the fragment.
   */
  readonly differentiable: boolean;
}

/** What `build` returns. Both are float scalars of `token_logp`'s dtype. */
export interface ObjectiveOutput {
  /** `[]`: the batch loss to minimise. */
  readonly loss: Tensor;
  /** `[]` each: diagnostics (no gradient needed). */
  readonly metrics: Readonly<Record<string, Tensor>>;
}

/** An objective; `S` is its hyperparameter schema. */
export interface Objective<S extends z.ZodType = z.ZodType> {
  /** Registry key, e.g. `alol-seq`. */
  readonly name: string;
  /** One line: the loss and its source. */
  readonly description: string;
  /** The section of docs/ALGORITHMS.md the formula comes from. */
  readonly spec: string;
  /** The weighted NLL its gradient equals (weights detached), for the README and the tests. */
  readonly reducesTo: string;
  /** Hyperparameters; parse with {@link parseObjectiveHyper} to get defaults and field-named errors. */
  readonly hyper: S;
  /** The inputs `build` reads under these hyperparameters. */
  inputs(hyper: z.output<S>): readonly ObjectiveInput[];
  /**
   * Emits the loss into `g`. `inputs` maps input names to tensors of `g`. Throws ObjectiveInputError
   * for a missing or misshaped input; the runtime's ShapeError for shapes that do not broadcast.
   */
  build(g: Graph, inputs: Readonly<Record<string, Tensor>>, hyper: z.output<S>): ObjectiveOutput;
}

/** A required input is missing, has the wrong rank, or is not a float tensor (a wiring bug). */
export class ObjectiveInputError extends Error {
  override name = 'ObjectiveInputError';
}

/** Reads input `spec.name` and checks its rank and dtype; throws ObjectiveInputError. */
export function inputOf(
  objective: string,
  inputs: Readonly<Record<string, Tensor>>,
  spec: ObjectiveInput,
): Tensor {
  const t = inputs[spec.name];
  const want = `[${spec.dims.join(', ')}]`;
  if (t === undefined) throw new ObjectiveInputError(`${objective}: input ${spec.name} ${want} is missing`);
  if (t.rank !== spec.dims.length)
    throw new ObjectiveInputError(
      `${objective}: input ${spec.name} must be ${want}, got [${t.dims.join(', ')}]`,
    );
  if (t.dtype !== 'f32' && t.dtype !== 'f64')
    throw new ObjectiveInputError(`${objective}: input ${spec.name} must be f32 or f64, got ${t.dtype}`);
  return t;
}

/**
 * Parses hyperparameters with `schema`, filling defaults. Throws InvalidArgumentError listing every
 * problem with its field path, e.g. `alol.clipEpsilon: Too big: expected number to be <1` or
 * `bc.labelSmothing: unknown field`.
 */
export function parseWith<S extends z.ZodType>(objective: string, schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const violations: FieldViolation[] = parsed.error.issues.flatMap((issue) => {
    const at = [objective, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((k) => ({ field: [...at, k].join('.'), problem: 'unknown field' }));
    return [{ field: at.join('.'), problem: issue.message }];
  });
  throw InvalidArgumentError.fromViolations(violations);
}

/** The common input specs, so every objective documents `token_logp` and `mask` the same way. */
export const TOKEN_LOGP: ObjectiveInput = {
  name: 'token_logp',
  dims: ['B', 'T'],
  doc: 'log π_θ(y_t | x, y_<t) of the policy being trained (e.g. tokenLogProbs of its logits)',
  differentiable: true,
};

/** `[B, T]` target mask. */
export const MASK: ObjectiveInput = {
  name: 'mask',
  dims: ['B', 'T'],
  doc: 'm_t: 1 for real target tokens including EOS, 0 for padding',
  differentiable: false,
};

/** `[B, T]` vocabulary-mean log-prob, for label smoothing. */
export const MEAN_LOGP: ObjectiveInput = {
  name: 'mean_logp',
  dims: ['B', 'T'],
  doc: '(1/|V|) Σ_v log π_θ(v | x, y_<t) of the policy (tokenLogProbsWithMean); only when labelSmoothing > 0',
  differentiable: true,
};

/** `[B]` sequence reward. */
export const REWARD: ObjectiveInput = {
  name: 'reward',
  dims: ['B'],
  doc: 'R(x, y): the normalised reward-model score of the example',
  differentiable: false,
};

/** `[B]` value baseline. */
export const BASELINE: ObjectiveInput = {
  name: 'baseline',
  dims: ['B'],
  doc: 'V(x): value of the source (monteCarloBaseline, or a value head), so A = R − V',
  differentiable: false,
};

/** `[B]` sequence log-prob under the frozen reference policy. */
export const REFERENCE_SEQ_LOGP: ObjectiveInput = {
  name: 'reference_seq_logp',
  dims: ['B'],
  doc: 'S_ref = Σ_t m_t log π_ref(y_t | ·), cached with the example (same tokens, mask and EOS)',
  differentiable: false,
};

/** Schema of a probability-like bound in [0, 1). */
export const unitInterval = (dflt: number): z.ZodDefault<z.ZodNumber> =>
  z.number().min(0).lt(1).default(dflt);
