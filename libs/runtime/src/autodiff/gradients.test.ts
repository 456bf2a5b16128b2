import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../graph/graph.js';
import { GraphError } from '../graph/errors.js';
import { Session } from '../session/session.js';
import { add, mul } from '../ops/arithmetic.js';
import { exp } from '../ops/activations.js';
import { gather } from '../ops/indexing.js';
import { reduceSum } from '../ops/reduce.js';
import { gradients } from './gradients.js';

test('gradients: fan-out is accumulated with one Sum', async () => {
  const g = new Graph();
  const x = g.input('x', 'f64', [2]);
  const y = add(add(mul(x, x), mul(x, 3)), exp(x)); // x used 4 times
  const [dx] = gradients(reduceSum(y, [0]), [x]);
  g.output(dx!, 'dx');
  assert.equal(g.nodes.filter((n) => n.opType === 'Sum').length, 1);
  const s = await Session.create(g);
  const out = await s.run({ x: { dtype: 'f64', dims: [2], data: new Float64Array([0.5, -1]) } });
  const want = [0.5, -1].map((v) => 2 * v + 3 + Math.exp(v));
  assert.deepEqual(Array.from(out.dx!.data as Float64Array), want);
  await s.release();
});

test('gradients: branches that do not reach the loss, and nodes that do not need a gradient, are pruned', () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [2]);
  const unused = g.input('u', 'f32', [2]);
  const side = exp(mul(unused, x)); // depends on x but never reaches the loss
  const loss = reduceSum(mul(x, 2), [0]);
  const before = g.nodes.length;
  gradients(loss, [x]);
  const emitted = g.nodes.slice(before);
  assert.ok(emitted.every((n) => !n.inputs.includes(side) && !n.inputs.includes(unused)));
  assert.ok(emitted.length <= 4, `emitted ${emitted.map((n) => n.opType).join(',')}`);
});

test('gradients: no gradient into integer tensors; differentiating an int throws GraphError', () => {
  const g = new Graph();
  const table = g.input('table', 'f32', [5, 3]);
  const ids = g.input('ids', 'i64', [4]);
  const loss = reduceSum(gather(table, ids), [0, 1]);
  const [dTable] = gradients(loss, [table]);
  assert.deepEqual(dTable!.dims, [5, 3]);
  assert.throws(() => gradients(loss, [ids]), GraphError);
});

test('gradients: a loss that does not depend on wrt gives zeros', async () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [3]);
  const y = g.input('y', 'f32', [3]);
  const [dx] = gradients(reduceSum(y, [0]), [x]);
  g.output(dx!, 'dx');
  const s = await Session.create(g);
  const f = (v: number[]) => ({ dtype: 'f32' as const, dims: [3], data: new Float32Array(v) });
  const out = await s.run({ x: f([1, 2, 3]), y: f([1, 1, 1]) });
  assert.deepEqual(Array.from(out.dx!.data as Float32Array), [0, 0, 0]);
  await s.release();
});
