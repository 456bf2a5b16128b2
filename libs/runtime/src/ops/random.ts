/**
 * Randomness: RandomUniformLike and inverted dropout built on it. The mask is data, not a function of
 * the input, so dropout's gradient is the same masked scaling (through Mul's rule).
 */
import { DTypeError } from '../graph/errors.js';
import type { Tensor } from '../graph/graph.js';
import { div, mul } from './arithmetic.js';
import { greater } from './select.js';
import { cast } from './shape-ops.js';

/**
 * A node's seed from the graph's seed and the node's index: a 32-bit mix of the two, cut to 24 bits so
 * that the float attribute holds it exactly.
 */
function nodeSeed(graphSeed: number, index: number): number {
  let h = (Math.floor(graphSeed) ^ Math.floor(graphSeed / 2 ** 32)) >>> 0;
  h = Math.imul(h ^ (index + 0x9e3779b9), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) & 0xffffff;
}

/**
 * Uniform samples in `[low, high)` shaped like `x`. A fixed `seed` makes runs repeatable; without one
 * the node takes a seed derived from the graph's `randomSeed` when that is set. onnxruntime seeds a
 * node's generator once per session and draws on from it at every run.
 */
export function randomUniformLike(x: Tensor, low = 0, high = 1, seed?: number): Tensor {
  if (x.dtype !== 'f32' && x.dtype !== 'f64')
    throw new DTypeError('RandomUniformLike', `expects float, got ${x.dtype}`);
  const attributes: Record<string, { kind: 'float'; value: number }> = {
    low: { kind: 'float', value: low },
    high: { kind: 'float', value: high },
  };
  const graphSeed = x.graph.randomSeed;
  const s = seed ?? (graphSeed === undefined ? undefined : nodeSeed(graphSeed, x.graph.nodes.length));
  if (s !== undefined) attributes.seed = { kind: 'float', value: s };
  return x.graph.emit({
    opType: 'RandomUniformLike',
    inputs: [x],
    outputs: [{ dtype: x.dtype, dims: x.dims }],
    attributes,
    hint: 'uniform',
  })[0]!;
}

/** Inverted dropout: zeroes each element with probability `p` and scales survivors by `1/(1-p)`. */
export function dropout(x: Tensor, p: number, seed?: number): Tensor {
  if (p <= 0) return x;
  return x.graph.scope('dropout', () => {
    const keep = cast(greater(randomUniformLike(x, 0, 1, seed), p), x.dtype);
    return div(mul(x, keep), 1 - p);
  });
}
