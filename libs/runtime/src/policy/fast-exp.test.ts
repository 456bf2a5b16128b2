import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../params/random.js';
import { fastExp } from './fast-exp.js';

/** Relative error allowed against Math.exp: 2.5 ulp of 1. */
const TOLERANCE = 2.5 * Number.EPSILON;

test('fastExp: within 2.5 ulp of Math.exp on [-700, 0]', () => {
  const r = rng(1);
  let worst = 0;
  let at = 0;
  const check = (x: number): void => {
    const want = Math.exp(x);
    const err = Math.abs(fastExp(x) - want) / want;
    if (err > worst) [worst, at] = [err, x];
  };
  for (let i = 0; i < 200_000; i++) check(-r() * 40); // where log-softmax terms matter
  for (let i = 0; i < 200_000; i++) check(-r() * 700);
  for (let i = 0; i <= 4096; i++) check(-i / 256); // table boundaries
  assert.ok(worst <= TOLERANCE, `max relative error ${worst} at x = ${at}`);
});

test('fastExp: exact at 0, 0 past underflow, NaN for NaN, Math.exp above 0', () => {
  assert.equal(fastExp(0), 1);
  assert.equal(fastExp(-0), 1);
  assert.equal(fastExp(-746), 0);
  assert.equal(fastExp(-Infinity), 0);
  assert.ok(Number.isNaN(fastExp(NaN)));
  assert.equal(fastExp(3.25), Math.exp(3.25));
});
