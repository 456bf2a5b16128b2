import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { mul } from './arithmetic.js';
import { clip, greater, less, max, min, where } from './select.js';

const r = rng(3);
gradCases('select', [
  [
    'where broadcast cond [3,1], a [1,4], b [3,4]',
    { c: randF64([3, 1], r), a: randF64([1, 4], r), b: randF64([3, 4], r) },
    ({ c, a, b }) => where(greater(c!, 0), a!, b!),
    { wrt: ['a', 'b'] },
  ],
  [
    'where on a comparison of its operands',
    { a: randF64([6], r), b: randF64([6], r) },
    ({ a, b }) => where(less(a!, b!), mul(a!, b!), b!),
  ],
  ['min broadcast [2,3] vs [3]', { a: randF64([2, 3], r), b: randF64([3], r) }, ({ a, b }) => min(a!, b!)],
  [
    'max broadcast [2,3] vs [2,1]',
    { a: randF64([2, 3], r), b: randF64([2, 1], r) },
    ({ a, b }) => max(a!, b!),
  ],
  ['clip with constant bounds', { x: randF64([3, 4], r, -2, 2) }, ({ x }) => clip(x!, -0.5, 0.7)],
  [
    'clip with tensor bounds',
    { x: randF64([3, 4], r, -2, 2), lo: randF64([], r, -0.6, -0.4), hi: randF64([], r, 0.4, 0.6) },
    ({ x, lo, hi }) => clip(x!, lo!, hi!),
  ],
]);
