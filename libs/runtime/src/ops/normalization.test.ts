import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../graph/graph.js';
import { gradients } from '../autodiff/gradients.js';
import { Session, type HostTensor } from '../session/session.js';
import { rng, uniform } from '../testing/gradient-check.js';
import { mul } from './arithmetic.js';
import { reduceSum } from './reduce.js';
import { layerNorm } from './normalization.js';

// The f64 path is checked against finite differences (softmax.test.ts); the f32 path reads the op's
// own mean and 1/σ instead, so it is checked against the f64 path here.
test('layerNorm: f32 gradient from the op’s Mean/InvStdDev matches the f64 recomputed gradient', async (t) => {
  const r = rng(11);
  const dims = [3, 5, 16];
  const data = {
    x: uniform(240, r, -3, 3),
    s: uniform(16, r, 0.5, 1.5),
    b: uniform(16, r),
    w: uniform(240, r),
  };
  const run = async (dtype: 'f32' | 'f64'): Promise<Record<string, HostTensor>> => {
    const g = new Graph(`ln_${dtype}`);
    const x = g.input('x', dtype, dims);
    const s = g.input('s', dtype, [16]);
    const b = g.input('b', dtype, [16]);
    const w = g.input('w', dtype, dims);
    const loss = reduceSum(mul(layerNorm(x, s, b), w), [0, 1, 2]);
    gradients(loss, [x, s, b]).forEach((d, i) => g.output(d, ['dx', 'ds', 'db'][i]));
    const session = await Session.create(g);
    const conv = (a: Float64Array): Float32Array | Float64Array =>
      dtype === 'f32' ? Float32Array.from(a) : a;
    const feeds: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(data))
      feeds[k] = { dtype, dims: k === 's' || k === 'b' ? [16] : dims, data: conv(v) };
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  const [a, e] = [await run('f32'), await run('f64')];
  for (const name of ['dx', 'ds', 'db']) {
    const got = a[name]!.data as Float32Array;
    const want = e[name]!.data as Float64Array;
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    t.diagnostic(`${name}: max abs diff ${maxAbs.toExponential(2)} (max |grad| ${scale.toExponential(2)})`);
    assert.ok(maxAbs <= 1e-5 * Math.max(1, scale), `${name}: max abs diff ${maxAbs}`);
  }
});
