/**
 * Finite-difference gradient checking for f64 graphs (test helper, exported through the `./testing`
 * entry). The checked function is reduced to a scalar with a fixed random weighting, `L = sum(w * y)`,
 * so every output element carries a distinct upstream gradient. Each float input element is nudged by
 * ±h and `(L(x+h) - L(x-h)) / 2h` compared with the emitted gradient.
 *
 * Error measure: `|analytic - numeric| / max(|analytic|, |numeric|, floor)` per element, max over all
 * elements; the floor (1e-3) keeps round-off on near-zero gradients from reading as relative error.
 */
import { gradients } from '../autodiff/gradients.js';
import { Graph, type Tensor } from '../graph/graph.js';
import { mul } from '../ops/arithmetic.js';
import { reduceSum } from '../ops/reduce.js';
import { Session, type HostTensor } from '../session/session.js';
import { isStatic, showShape } from '../graph/dims.js';
import { rng } from '../params/random.js';

export { rng };

/** Uniform f64 data in [lo, hi). */
export function uniform(n: number, rand: () => number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** Result of a gradient check. */
export interface GradCheckResult {
  maxRelError: number;
  /** Per input: max error and where. */
  perInput: { name: string; maxRelError: number; at: number; analytic: number; numeric: number }[];
}

/** Options for {@link gradCheck}. */
export interface GradCheckOptions {
  /** @default 1e-5 */
  h?: number;
  /** @default 1e-3 */
  floor?: number;
  /** Inputs to differentiate; @default every f64 input */
  wrt?: readonly string[];
  seed?: number;
}

/**
 * Builds `fn` on a fresh f64 graph with the given inputs, emits its gradients and compares them with
 * central differences. Throws when the output is not statically shaped.
 */
export async function gradCheck(
  inputs: Readonly<Record<string, HostTensor>>,
  fn: (xs: Record<string, Tensor>, g: Graph) => Tensor,
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const h = opts.h ?? 1e-5;
  const floor = opts.floor ?? 1e-3;
  const g = new Graph('grad_check');
  const xs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) xs[name] = g.input(name, t.dtype, t.dims);
  const y = fn(xs, g);
  if (!isStatic(y.dims)) throw new Error(`gradCheck: output ${showShape(y.dims)} must be static`);
  const rand = rng(opts.seed ?? 7);
  const n = y.dims.reduce((a, b) => a * b, 1);
  const w = g.constant('f64', y.dims, uniform(n, rand, 0.5, 1.5), 'weights');
  const loss = y.rank === 0 ? mul(y, w) : reduceSum(mul(y, w), [...Array(y.rank).keys()]);
  const wrtNames = opts.wrt ?? Object.keys(inputs).filter((k) => inputs[k]!.dtype === 'f64');
  const grads = gradients(
    loss,
    wrtNames.map((k) => xs[k]!),
  );
  g.output(loss, 'loss');
  wrtNames.forEach((k, i) => g.output(grads[i]!, `d_${k}`));
  const session = await Session.create(g, { intraOpThreads: 1 });
  try {
    const base = await session.run(inputs);
    const evalLoss = async (feeds: Record<string, HostTensor>): Promise<number> =>
      (await session.run(feeds, {}, ['loss'])).loss!.data[0] as number;
    const result: GradCheckResult = { maxRelError: 0, perInput: [] };
    for (const k of wrtNames) {
      const x = inputs[k]!;
      const data = Float64Array.from(x.data as Float64Array);
      const analytic = base[`d_${k}`]!.data as Float64Array;
      const entry = { name: k, maxRelError: 0, at: -1, analytic: 0, numeric: 0 };
      const feeds: Record<string, HostTensor> = { ...inputs, [k]: { dtype: 'f64', dims: x.dims, data } };
      for (let i = 0; i < data.length; i++) {
        const x0 = data[i]!;
        data[i] = x0 + h;
        const up = await evalLoss(feeds);
        data[i] = x0 - h;
        const down = await evalLoss(feeds);
        data[i] = x0;
        const numeric = (up - down) / (2 * h);
        const a = analytic[i]!;
        const err = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), floor);
        if (!(err <= entry.maxRelError))
          Object.assign(entry, { maxRelError: err, at: i, analytic: a, numeric });
      }
      result.perInput.push(entry);
      result.maxRelError = Math.max(result.maxRelError, entry.maxRelError);
    }
    return result;
  } finally {
    await session.release();
  }
}

/** A random f64 host tensor with values in [lo, hi). */
export function randF64(dims: readonly number[], rand: () => number, lo = -1, hi = 1): HostTensor<'f64'> {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'f64', dims, data: uniform(n, rand, lo, hi) };
}

/** An i64 host tensor. */
export function i64s(dims: readonly number[], values: readonly number[]): HostTensor<'i64'> {
  return { dtype: 'i64', dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

/** Largest error tolerated by the per-op checks (issue 3). */
export const OP_GRAD_TOLERANCE = 1e-6;
