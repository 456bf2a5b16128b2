import { gradCases } from '../testing/op-cases.js';
import { i64s, randF64, rng } from '../testing/gradient-check.js';
import { gather, gatherElements, scatterND } from './indexing.js';

const r = rng(6);
gradCases('indexing', [
  [
    'gather axis 0 with repeated indices',
    { d: randF64([5, 3], r), i: i64s([2, 3], [0, 4, 0, 2, 2, 1]) },
    ({ d, i }) => gather(d!, i!, 0),
  ],
  ['gather axis 1', { d: randF64([2, 4, 3], r), i: i64s([2], [3, 3]) }, ({ d, i }) => gather(d!, i!, 1)],
  [
    'gatherElements axis 1',
    { d: randF64([3, 4], r), i: i64s([3, 2], [0, 0, 3, 1, 2, 2]) },
    ({ d, i }) => gatherElements(d!, i!, 1),
  ],
  [
    'scatterND rows',
    { d: randF64([4, 3], r), i: i64s([2, 1], [1, 3]), u: randF64([2, 3], r) },
    ({ d, i, u }) => scatterND(d!, i!, u!),
  ],
]);
