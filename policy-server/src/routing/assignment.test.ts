import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assign, routePoint, variantAt } from './assignment.js';
import type { Route } from './route.js';

function route(weights: readonly number[], shadowRate = 0): Route {
  return {
    alias: 'de-en',
    version: 1,
    variants: weights.map((weight, i) => ({ name: `v${i}`, policyId: `p${i}`, weight })),
    shadow: shadowRate > 0 ? { policyId: 'shadow', sampleRate: shadowRate } : null,
    updatedAt: new Date(0),
  };
}

test('assign: the same key gets the same variant on 1,000 calls, and on a route with another version', () => {
  const r = route([1, 1, 1]);
  const first = assign(r, 'user-42').variant;
  for (let i = 0; i < 1000; i++) assert.equal(assign(r, 'user-42').variant, first);
  assert.equal(assign({ ...r, version: 7 }, 'user-42').variant, first);
});

test('assign: a 90/10 route sends 90% ± 3% of 10,000 keys to the first variant', () => {
  const r = route([90, 10]);
  let first = 0;
  for (let i = 0; i < 10_000; i++) if (assign(r, `key-${i}`).variant === 0) first++;
  assert.ok(Math.abs(first / 10_000 - 0.9) <= 0.03, `share ${first / 10_000}`);
});

test('assign: moving weight from 90/10 to 50/50 moves only keys towards the second variant', () => {
  const before = route([90, 10]);
  const afterwards = route([50, 50]);
  let moved = 0;
  for (let i = 0; i < 10_000; i++) {
    const a = assign(before, `key-${i}`).variant;
    const b = assign(afterwards, `key-${i}`).variant;
    if (a === 1) assert.equal(b, 1, `key-${i} left the second variant`);
    if (a !== b) moved++;
  }
  assert.ok(Math.abs(moved / 10_000 - 0.4) <= 0.03, `moved ${moved / 10_000}`);
});

test('assign: without a key the draw is random; zero-weight variants get nothing', () => {
  const r = route([0, 3, 1]);
  const counts = [0, 0, 0];
  let seed = 1;
  const random = (): number => ((seed = (seed * 48271) % 2147483647) - 1) / 2147483646;
  for (let i = 0; i < 4000; i++) counts[assign(r, '', random).variant]!++;
  assert.equal(counts[0], 0);
  assert.ok(Math.abs(counts[1]! / 4000 - 0.75) < 0.03, `counts ${counts.join(',')}`);
});

test('assign: the shadow mirrors its sample rate of keys, sticky and independent of the variant', () => {
  const r = route([50, 50], 0.2);
  let mirrored = 0;
  const both = [0, 0];
  for (let i = 0; i < 10_000; i++) {
    const a = assign(r, `key-${i}`);
    assert.equal(assign(r, `key-${i}`).mirror, a.mirror);
    if (a.mirror) {
      mirrored++;
      both[a.variant]!++;
    }
  }
  assert.ok(Math.abs(mirrored / 10_000 - 0.2) <= 0.02, `mirrored ${mirrored}`);
  assert.ok(Math.abs(both[0]! / mirrored - 0.5) <= 0.05, `split ${both.join(',')}`);
  assert.equal(assign(route([1]), 'k').mirror, false);
});

test('routePoint: in [0, 1), different per alias and per salt', () => {
  const u = routePoint('a', 'k');
  assert.ok(u >= 0 && u < 1);
  assert.notEqual(routePoint('b', 'k'), u);
  assert.notEqual(routePoint('a', 'k', 'shadow'), u);
});

test('variantAt: consecutive slices by weight; a route with no positive weight throws', () => {
  assert.equal(variantAt([1, 3], 0), 0);
  assert.equal(variantAt([1, 3], 0.2499), 0);
  assert.equal(variantAt([1, 3], 0.25), 1);
  assert.equal(variantAt([1, 3], 0.9999999), 1);
  assert.equal(variantAt([2, 0], 0.99), 0);
  assert.throws(() => variantAt([0, 0], 0.5), RangeError);
});
