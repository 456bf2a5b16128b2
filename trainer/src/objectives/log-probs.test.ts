import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ShapeError } from '@rest/runtime';
import { gradCheck, OP_GRAD_TOLERANCE, randF64, rng } from '@rest/runtime/testing';
import { tokenLogProbs, tokenLogProbsWithMean } from './log-probs.js';
import { assertClose, runGraph, values } from './test-support.js';

const B = 2;
const T = 3;
const V = 4;
const r = rng(3);
const logits = randF64([B, T, V], r, -3, 3);
const labelValues = [0, 3, 1, 2, 2, 0];
const labels = { dtype: 'i64' as const, dims: [B, T], data: BigInt64Array.from(labelValues.map(BigInt)) };

/** log-softmax rows of the logits, in plain float64. */
function reference(): { token: number[]; mean: number[] } {
  const token: number[] = [];
  const mean: number[] = [];
  for (let n = 0; n < B * T; n++) {
    const z = Array.from(logits.data.subarray(n * V, n * V + V));
    const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
    token.push(z[labelValues[n]!]! - lse);
    mean.push(z.reduce((a, v) => a + v - lse, 0) / V);
  }
  return { token, mean };
}

for (const layout of ['[B, T, V]', '[N, V]'] as const) {
  test(`tokenLogProbs: ${layout} logits give ℓ_t and the vocabulary mean of a float64 log-softmax`, async () => {
    const g = new Graph();
    const dims = layout === '[N, V]' ? [B * T, V] : [B, T, V];
    const z = g.input('logits', 'f64', dims);
    const y = g.input('labels', 'i64', ['B', 'T']);
    g.output(tokenLogProbs(z, y), 'token');
    const both = tokenLogProbsWithMean(z, y);
    g.output(both.tokenLogp, 'token2');
    g.output(both.meanLogp, 'mean');
    assert.deepEqual(both.meanLogp.dims.length, 2);
    const out = await runGraph(g, { logits: { ...logits, dims }, labels });
    const want = reference();
    assertClose('token', values(out.token), want.token);
    assertClose('token2', values(out.token2), want.token);
    assertClose('mean', values(out.mean), want.mean);
  });
}

test('tokenLogProbs gradient: finite differences in both layouts', async () => {
  for (const dims of [
    [B, T, V],
    [B * T, V],
  ]) {
    const res = await gradCheck({ logits: { ...logits, dims }, labels }, ({ logits: z, labels: y }) =>
      tokenLogProbs(z!, y!),
    );
    assert.ok(res.maxRelError <= OP_GRAD_TOLERANCE, JSON.stringify(res.perInput));
    const resMean = await gradCheck(
      { logits: { ...logits, dims }, labels },
      ({ logits: z, labels: y }) => tokenLogProbsWithMean(z!, y!).meanLogp,
    );
    assert.ok(resMean.maxRelError <= OP_GRAD_TOLERANCE, JSON.stringify(resMean.perInput));
  }
});

test('tokenLogProbs: rejects labels that are not [B, T] i64 and logits that do not fit', () => {
  const g = new Graph();
  const z = g.input('logits', 'f64', [2, 3, 4]);
  assert.throws(() => tokenLogProbs(z, g.input('y1', 'f64', [2, 3])), ShapeError);
  assert.throws(() => tokenLogProbs(z, g.input('y2', 'i64', [2, 5])), ShapeError);
  assert.throws(
    () => tokenLogProbs(g.input('z4', 'f64', [1, 2, 3, 4]), g.input('y3', 'i64', [2, 3])),
    ShapeError,
  );
});
