/**
 * Helpers for the objectives' unit tests (not built into dist: see trainer/tsconfig.json). Every
 * graph here is float64: an objective is built from feeds, run once, and its loss, metrics and
 * gradients with respect to named inputs come back as plain numbers.
 */
import assert from 'node:assert/strict';
import { gradients, Graph, mul, neg, reduceSum, Session, type HostTensor, type Tensor } from '@rest/runtime';
import { gradCheck, OP_GRAD_TOLERANCE } from '@rest/runtime/testing';
import { buildObjective, type ObjectiveHyperInput, type ObjectiveName } from './registry.js';

/** Feeds by input name. */
export type Feeds = Record<string, HostTensor>;

/** A float64 host tensor; `values` may be nested rows. */
export function t64(
  dims: readonly number[],
  values: readonly number[] | readonly (readonly number[])[],
): HostTensor<'f64'> {
  const data = Float64Array.from((values as readonly (number | readonly number[])[]).flat());
  assert.equal(
    data.length,
    dims.reduce((a, b) => a * b, 1),
    `data for [${dims.join(', ')}]`,
  );
  return { dtype: 'f64', dims, data };
}

/** The float64 data of a host tensor as a plain array. */
export function values(t: HostTensor | undefined): number[] {
  assert.ok(t !== undefined, 'missing tensor');
  return Array.from(t.data as Float64Array);
}

function declare(g: Graph, feeds: Feeds): Record<string, Tensor> {
  const xs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) xs[name] = g.input(name, t.dtype, t.dims);
  return xs;
}

/** What {@link runObjective} returns. */
export interface Run {
  loss: number;
  metrics: Record<string, number>;
  grads: Record<string, number[]>;
}

/** Builds objective `name` over `feeds`, runs it, and returns loss, metrics and `d loss / d wrt`. */
export async function runObjective<N extends ObjectiveName>(
  name: N,
  hyper: ObjectiveHyperInput<N> | undefined,
  feeds: Feeds,
  wrt: readonly string[] = [],
): Promise<Run> {
  const g = new Graph(`test_${name}`);
  const xs = declare(g, feeds);
  const { loss, metrics } = buildObjective(g, name, xs, hyper);
  g.output(loss, 'loss');
  for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
  const grads = gradients(
    loss,
    wrt.map((k) => xs[k]!),
  );
  wrt.forEach((k, i) => g.output(grads[i]!, `d.${k}`));
  const out = await runGraph(g, feeds);
  const run: Run = { loss: values(out.loss)[0]!, metrics: {}, grads: {} };
  for (const k of Object.keys(metrics)) run.metrics[k] = values(out[`metric.${k}`])[0]!;
  for (const k of wrt) run.grads[k] = values(out[`d.${k}`]);
  return run;
}

/** Runs `g` once on the CPU (one intra-op thread: the machine is shared) and releases the session. */
export async function runGraph(g: Graph, feeds: Feeds): Promise<Record<string, HostTensor>> {
  const session = await Session.create(g, { intraOpThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/**
 * The gradient of the weighted NLL `Σ_{b,t} w_{b,t} (−logp_{b,t})` with respect to `logp`, emitted and
 * run as its own graph: what each objective's gradient must reduce to once its weights are detached.
 */
export async function weightedNllGradient(
  logp: HostTensor<'f64'>,
  weights: readonly number[],
): Promise<number[]> {
  const g = new Graph('weighted_nll');
  const lp = g.input('logp', 'f64', logp.dims);
  const w = g.constant('f64', logp.dims, Float64Array.from(weights), 'w');
  const loss = reduceSum(mul(w, neg(lp)), [...logp.dims.keys()]);
  const [d] = gradients(loss, [lp]);
  g.output(d!, 'd');
  return values((await runGraph(g, { logp })).d);
}

/** Asserts `got ≈ want` elementwise within `tol` (absolute + relative), naming the tensor and the max abs diff. */
export function assertClose(
  name: string,
  got: readonly number[],
  want: readonly number[],
  tol = 1e-12,
): void {
  assert.equal(got.length, want.length, `${name}: length ${got.length} vs ${want.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const diff = Math.abs(got[i]! - want[i]!);
    const allowed = tol * Math.max(1, Math.abs(want[i]!));
    if (!(diff <= allowed) && (at < 0 || diff > worst)) {
      worst = diff;
      at = i;
    }
  }
  assert.ok(
    at < 0,
    `${name}: max abs diff ${worst.toExponential(3)} at ${at} (got ${got[at]}, want ${want[at]})`,
  );
}

/**
 * Central finite differences of objective `name` (through `@rest/runtime/testing`) with respect to the
 * inputs in `wrt`: those on which the loss depends only through the differentiated path (no detached
 * weight computed from them), so the numeric and the emitted gradient must agree.
 */
export async function finiteDifferenceCheck<N extends ObjectiveName>(
  name: N,
  hyper: ObjectiveHyperInput<N> | undefined,
  feeds: Feeds,
  wrt: readonly string[],
  tolerance = OP_GRAD_TOLERANCE,
): Promise<number> {
  const res = await gradCheck(feeds, (xs, g) => buildObjective(g, name, xs, hyper).loss, { wrt });
  assert.ok(res.maxRelError <= tolerance, `${name}: ${JSON.stringify(res.perInput)}`);
  return res.maxRelError;
}

/** `[B, T]` mask rows from lengths. */
export function maskOf(lengths: readonly number[], T: number): HostTensor<'f64'> {
  return t64(
    [lengths.length, T],
    lengths.flatMap((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0))),
  );
}

/** Logistic sigmoid and softplus in float64, for the references. */
export const sigma = (u: number): number =>
  u >= 0 ? 1 / (1 + Math.exp(-u)) : Math.exp(u) / (1 + Math.exp(u));
/** `log(1 + e^u)` without overflow. */
export const softplus = (u: number): number => Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u)));
