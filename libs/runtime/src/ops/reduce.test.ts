import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { reduceLogSumExp, reduceMax, reduceMean, reduceSum } from './reduce.js';

const r = rng(7);
gradCases('reduce', [
  ['reduceSum axes [0,2]', { x: randF64([2, 3, 4], r) }, ({ x }) => reduceSum(x!, [0, 2])],
  ['reduceSum keepdims', { x: randF64([2, 3, 4], r) }, ({ x }) => reduceSum(x!, [1], true)],
  ['reduceMean axes [-1]', { x: randF64([2, 3, 4], r) }, ({ x }) => reduceMean(x!, [-1])],
  ['reduceMean all keepdims', { x: randF64([2, 3], r) }, ({ x }) => reduceMean(x!, [0, 1], true)],
  ['reduceMax axis 1', { x: randF64([2, 3, 4], r) }, ({ x }) => reduceMax(x!, [1])],
  ['reduceLogSumExp axis -1', { x: randF64([2, 3, 4], r) }, ({ x }) => reduceLogSumExp(x!, [-1])],
]);
