import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck, OP_GRAD_TOLERANCE, randF64, rng } from '../testing/gradient-check.js';
import { add, div, log, mul, neg, pow, sub } from './arithmetic.js';
import { Graph } from '../graph/graph.js';
import { ShapeError } from '../graph/errors.js';

const r = rng(1);
const cases: [string, Parameters<typeof gradCheck>[0], Parameters<typeof gradCheck>[1]][] = [
  [
    'add broadcast [2,3,4]+[3,1]',
    { a: randF64([2, 3, 4], r), b: randF64([3, 1], r) },
    ({ a, b }) => add(a!, b!),
  ],
  ['add scalar', { a: randF64([2, 3], r) }, ({ a }) => add(a!, 2)],
  ['sub broadcast [4]-[2,4]', { a: randF64([4], r), b: randF64([2, 4], r) }, ({ a, b }) => sub(a!, b!)],
  [
    'mul broadcast [2,1,4]*[3,1]',
    { a: randF64([2, 1, 4], r), b: randF64([3, 1], r) },
    ({ a, b }) => mul(a!, b!),
  ],
  ['mul fan-out x*x', { a: randF64([5], r) }, ({ a }) => mul(a!, a!)],
  [
    'div broadcast [2,3]/[3]',
    { a: randF64([2, 3], r), b: randF64([3], r, 0.5, 2) },
    ({ a, b }) => div(a!, b!),
  ],
  [
    'pow broadcast [2,3]^[3]',
    { a: randF64([2, 3], r, 0.5, 2), b: randF64([3], r) },
    ({ a, b }) => pow(a!, b!),
  ],
  ['pow by constant 3', { a: randF64([4], r) }, ({ a }) => pow(a!, 3)],
  ['neg', { a: randF64([3, 2], r) }, ({ a }) => neg(a!)],
  ['log', { a: randF64([3, 2], r, 0.2, 3) }, ({ a }) => log(a!)],
];

for (const [name, inputs, fn] of cases) {
  test(`arithmetic gradient: ${name}`, async (t) => {
    const res = await gradCheck(inputs, fn);
    t.diagnostic(`max rel error ${res.maxRelError.toExponential(2)}`);
    assert.ok(res.maxRelError <= OP_GRAD_TOLERANCE, JSON.stringify(res.perInput));
  });
}

test('add: a shape mismatch throws ShapeError naming the op and shapes', () => {
  const g = new Graph();
  const a = g.input('a', 'f32', ['B', 3]);
  const b = g.input('b', 'f32', [4]);
  assert.throws(
    () => add(a, b),
    (e: unknown) =>
      e instanceof ShapeError && /Add: cannot broadcast shapes \[B, 3\] and \[4\]/.test(e.message),
  );
});
