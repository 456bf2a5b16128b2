import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { logSoftmax, softmax } from './softmax.js';
import { layerNorm } from './normalization.js';

const r = rng(5);
gradCases('softmax', [
  ['softmax last axis', { x: randF64([2, 3, 4], r, -2, 2) }, ({ x }) => softmax(x!)],
  ['softmax axis 1', { x: randF64([2, 3, 4], r, -2, 2) }, ({ x }) => softmax(x!, 1)],
  ['logSoftmax last axis', { x: randF64([2, 3, 4], r, -2, 2) }, ({ x }) => logSoftmax(x!)],
  ['logSoftmax axis 0', { x: randF64([2, 3, 4], r, -2, 2) }, ({ x }) => logSoftmax(x!, 0)],
]);
gradCases('layerNorm', [
  [
    'x, scale and bias over [2,3,5]',
    { x: randF64([2, 3, 5], r, -2, 2), s: randF64([5], r, 0.5, 1.5), b: randF64([5], r) },
    ({ x, s, b }) => layerNorm(x!, s!, b!),
  ],
]);
