import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../autodiff/gradients.js';
import { Graph } from '../graph/graph.js';
import { Session } from '../session/session.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { mul } from './arithmetic.js';
import { reduceSum } from './reduce.js';
import { dropout } from './random.js';

test('dropout: gradient is the same mask scaled by 1/(1-p), rate about p', async () => {
  const g = new Graph();
  const x = g.input('x', 'f64', [4000]);
  const y = dropout(x, 0.25, 11);
  const [dx] = gradients(reduceSum(mul(y, 3), [0]), [x]);
  g.output(y, 'y');
  g.output(dx!, 'dx');
  const s = await Session.create(g);
  const xs = randF64([4000], rng(1), 0.5, 1.5);
  const out = await s.run({ x: xs });
  const yv = out.y!.data as Float64Array;
  const dxv = out.dx!.data as Float64Array;
  let dropped = 0;
  for (let i = 0; i < 4000; i++) {
    const keep = yv[i] !== 0;
    if (!keep) dropped++;
    const want = keep ? 3 / 0.75 : 0;
    assert.ok(Math.abs(dxv[i]! - want) < 1e-12, `dx[${i}] = ${dxv[i]}, want ${want}`);
    if (keep) assert.ok(Math.abs(yv[i]! - xs.data[i]! / 0.75) < 1e-12);
  }
  assert.ok(Math.abs(dropped / 4000 - 0.25) < 0.03, `dropped ${dropped}`);
  await s.release();
});

test('dropout under a graph seed: the same masks in a new session, each node its own, new ones each run', async () => {
  const build = (seed: number | undefined): Graph => {
    const g = new Graph();
    g.randomSeed = seed;
    const x = g.input('x', 'f32', [512]);
    g.output(dropout(x, 0.5), 'a');
    g.output(dropout(x, 0.5), 'b');
    return g;
  };
  const ones = { dtype: 'f32' as const, dims: [512], data: new Float32Array(512).fill(1) };
  /** Two runs' masks of both nodes, as strings of 0/1. */
  const draw = async (seed: number | undefined): Promise<string[]> => {
    const s = await Session.create(build(seed));
    const masks: string[] = [];
    for (let run = 0; run < 2; run++) {
      const out = await s.run({ x: ones });
      for (const k of ['a', 'b'])
        masks.push(Array.from(out[k]!.data as Float32Array, (v) => (v === 0 ? 0 : 1)).join(''));
    }
    await s.release();
    return masks;
  };
  const first = await draw(7);
  assert.deepEqual(await draw(7), first, 'a new session of the same graph draws the same masks');
  const [a1, b1, a2] = first;
  assert.notEqual(a1, b1, 'two dropout nodes draw different masks');
  assert.notEqual(a1, a2, 'a second run draws new masks');
  assert.notDeepEqual(await draw(8), first, 'another seed, other masks');
});
