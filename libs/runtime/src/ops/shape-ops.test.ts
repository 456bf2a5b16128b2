import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCases } from '../testing/op-cases.js';
import { i64s, randF64, rng } from '../testing/gradient-check.js';
import { mul, sub } from './arithmetic.js';
import {
  cast,
  concat,
  expand,
  reshape,
  slice,
  split,
  squeeze,
  stopGradient,
  transpose,
  unsqueeze,
} from './shape-ops.js';
import { Graph } from '../graph/graph.js';
import { gradients } from '../autodiff/gradients.js';
import { Session } from '../session/session.js';
import { reduceSum } from './reduce.js';
import { ShapeError } from '../graph/errors.js';

const r = rng(8);
gradCases('shape', [
  ['reshape [2,3,4] -> [0,-1]', { x: randF64([2, 3, 4], r) }, ({ x }) => reshape(x!, [0, -1])],
  ['transpose [2,3,4] perm [2,0,1]', { x: randF64([2, 3, 4], r) }, ({ x }) => transpose(x!, [2, 0, 1])],
  [
    'concat axis 1 of three',
    { a: randF64([2, 1], r), b: randF64([2, 3], r), c: randF64([2, 2], r) },
    ({ a, b, c }) => concat([a!, b!, mul(c!, c!)], 1),
  ],
  [
    'split [1,3] both used',
    { x: randF64([2, 4], r) },
    ({ x }) => {
      const [p, q] = split(x!, 1, [1, 3]);
      return sub(mul(p!, p!), q!);
    },
  ],
  ['split one part unused', { x: randF64([4, 2], r) }, ({ x }) => split(x!, 0, 2)[1]!],
  ['slice with negative start', { x: randF64([3, 5], r) }, ({ x }) => slice(x!, [1, -3], [3, 100], [0, 1])],
  [
    'unsqueeze then squeeze',
    { x: randF64([3, 2], r) },
    ({ x }) => squeeze(mul(unsqueeze(x!, [0, 2]), 2), [0]),
  ],
  ['expand [3,1] to [2,3,4]', { x: randF64([3, 1], r) }, ({ x }) => expand(x!, [2, 3, 4])],
  [
    'cast from i64 passes no gradient',
    { x: randF64([3], r), k: i64s([3], [1, 2, 3]) },
    ({ x, k }) => mul(x!, cast(k!, 'f64')),
  ],
]);

test('reshape: incompatible static sizes throw ShapeError', () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [2, 3]);
  assert.throws(() => reshape(x, [4, -1, 2]), ShapeError);
  assert.throws(
    () => reshape(x, [5]),
    (e: unknown) => e instanceof ShapeError && /Reshape: cannot reshape \[2, 3\] to \[5\]/.test(e.message),
  );
});

test('reshape: symbolic -1 keeps the product of symbols', () => {
  const g = new Graph();
  const x = g.input('x', 'f32', ['B', 'T', 8]);
  assert.deepEqual(reshape(x, [-1, 8]).dims, ['B*T', 8]);
});

test('stopGradient: d(x * sg(x))/dx is sg(x), not 2x', async () => {
  const g = new Graph();
  const x = g.input('x', 'f64', [3]);
  const [dx] = gradients(reduceSum(mul(x, stopGradient(x)), [0]), [x]);
  g.output(dx!, 'dx');
  const s = await Session.create(g);
  const out = await s.run({ x: { dtype: 'f64', dims: [3], data: new Float64Array([1, -2, 3]) } });
  assert.deepEqual(Array.from(out.dx!.data as Float64Array), [1, -2, 3]);
  await s.release();
});
