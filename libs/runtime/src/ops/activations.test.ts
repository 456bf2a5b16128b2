import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { erf, exp, gelu, relu, sigmoid, softplus, sqrt, tanh } from './activations.js';

const r = rng(2);
gradCases('activations', [
  ['sqrt', { x: randF64([3, 4], r, 0.3, 3) }, ({ x }) => sqrt(x!)],
  ['exp', { x: randF64([3, 4], r) }, ({ x }) => exp(x!)],
  ['tanh', { x: randF64([3, 4], r, -2, 2) }, ({ x }) => tanh(x!)],
  ['erf', { x: randF64([3, 4], r, -2, 2) }, ({ x }) => erf(x!)],
  ['relu', { x: randF64([3, 4], r, -2, 2) }, ({ x }) => relu(x!)],
  ['sigmoid', { x: randF64([3, 4], r, -3, 3) }, ({ x }) => sigmoid(x!)],
  ['softplus', { x: randF64([3, 4], r, -3, 3) }, ({ x }) => softplus(x!)],
  ['gelu', { x: randF64([3, 4], r, -3, 3) }, ({ x }) => gelu(x!)],
  ['erf tails (continued-fraction branch)', { x: randF64([4, 4], r, -4, 4) }, ({ x }) => erf(x!)],
]);
