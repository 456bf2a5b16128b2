import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { gemm, matMul } from './matmul.js';
import { Graph } from '../graph/graph.js';
import { ShapeError } from '../graph/errors.js';

const r = rng(4);
gradCases('matmul', [
  ['2-D [3,4]x[4,5]', { a: randF64([3, 4], r), b: randF64([4, 5], r) }, ({ a, b }) => matMul(a!, b!)],
  [
    'rows x weight [2,3,4]x[4,5]',
    { a: randF64([2, 3, 4], r), b: randF64([4, 5], r) },
    ({ a, b }) => matMul(a!, b!),
  ],
  [
    'batched [2,3,4]x[2,4,5]',
    { a: randF64([2, 3, 4], r), b: randF64([2, 4, 5], r) },
    ({ a, b }) => matMul(a!, b!),
  ],
  [
    'batch broadcast [2,1,3,4]x[3,4,2]',
    { a: randF64([2, 1, 3, 4], r), b: randF64([3, 4, 2], r) },
    ({ a, b }) => matMul(a!, b!),
  ],
  [
    'weight x batch [3,4]x[2,4,5]',
    { a: randF64([3, 4], r), b: randF64([2, 4, 5], r) },
    ({ a, b }) => matMul(a!, b!),
  ],
]);
const gemmCases = [false, true].flatMap((transA) =>
  [false, true].map((transB) => {
    const a = randF64(transA ? [4, 3] : [3, 4], r);
    const b = randF64(transB ? [5, 4] : [4, 5], r);
    return [
      `gemm transA=${transA} transB=${transB} alpha 0.7 beta 1.3 C [5]`,
      { a, b, c: randF64([5], r) },
      ({ a, b, c }: Record<string, import('../graph/graph.js').Tensor>) =>
        gemm(a!, b!, c, { transA, transB, alpha: 0.7, beta: 1.3 }),
    ] as const;
  }),
);
gradCases('matmul', [
  ...gemmCases.map(([n, i, f]) => [n, i, f] as [string, typeof i, typeof f]),
  [
    'gemm C [3,1]',
    { a: randF64([3, 4], r), b: randF64([4, 5], r), c: randF64([3, 1], r) },
    ({ a, b, c }) => gemm(a!, b!, c),
  ],
]);

test('matMul: inner dims that differ throw ShapeError with both shapes', () => {
  const g = new Graph();
  const a = g.input('a', 'f32', ['B', 'T', 8]);
  const b = g.input('b', 'f32', [6, 4]);
  assert.throws(
    () => matMul(a, b),
    (e: unknown) => e instanceof ShapeError && e.message === 'MatMul: inner dims differ: [B, T, 8] x [6, 4]',
  );
});
