import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '@rest/runtime';
import { InvalidArgumentError } from '@rest/service-kit';
import { fitValueHead, valueHeadParams, ValueHead, type EncodedSource } from './value-head.js';

function randomSources(n: number, H: number, seed: number): EncodedSource[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const length = 1 + Math.floor(r() * 6);
    return { hidden: Float32Array.from({ length: length * H }, () => 2 * r() - 1), length };
  });
}

/** The head's value in plain float64 arithmetic: the formula of value-head.ts, written out. */
function plainValue(
  p: Map<string, Float32Array>,
  s: EncodedSource,
  H: number,
  heads: number,
  valueMax: number,
): number {
  const K = H / heads;
  const lin = (x: ArrayLike<number>, w: Float32Array, b: Float32Array, n: number): number[] =>
    Array.from({ length: n }, (_, j) => {
      let acc = b[j]!;
      for (let i = 0; i < x.length; i++) acc += x[i]! * w[i * n + j]!;
      return acc;
    });
  const q = lin(p.get('vh.query')!, p.get('vh.w_q')!, p.get('vh.b_q')!, H);
  const rows = Array.from({ length: s.length }, (_, t) => s.hidden.subarray(t * H, (t + 1) * H));
  const k = rows.map((x) => lin(x, p.get('vh.w_k')!, p.get('vh.b_k')!, H));
  const v = rows.map((x) => lin(x, p.get('vh.w_v')!, p.get('vh.b_v')!, H));
  const ctx = new Array<number>(H).fill(0);
  for (let h = 0; h < heads; h++) {
    const scores = k.map((kt) => {
      let d = 0;
      for (let j = h * K; j < (h + 1) * K; j++) d += kt[j]! * q[j]!;
      return d / Math.sqrt(K);
    });
    const m = Math.max(...scores);
    const e = scores.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((w, t) => {
      for (let j = h * K; j < (h + 1) * K; j++) ctx[j]! += (w / z) * v[t]![j]!;
    });
  }
  const o = lin(ctx, p.get('vh.w_o')!, p.get('vh.b_o')!, H);
  const out = lin(o, p.get('vh.w_out')!, p.get('vh.b_out')!, 1)[0]!;
  return valueMax / (1 + Math.exp(-out));
}

test('the head computes the documented formula, and padding does not move a value', async () => {
  const H = 16;
  const table = valueHeadParams(H);
  const params = table.initialize(new Float32Array(table.size), 7);
  // Non-zero biases, so that every term is exercised.
  const r = rng(3);
  for (const name of ['vh.b_q', 'vh.b_k', 'vh.b_v', 'vh.b_o', 'vh.b_out'])
    table
      .views(params)
      .get(name)!
      .forEach((_, i, a) => (a[i] = r() - 0.5));
  const fit = { epoch: 0, heldOutMse: 0, heldOutMseOfMean: 0, trainExamples: 0, heldOutExamples: 0 };
  const head = await ValueHead.open(table, params, H, { heads: 4, valueMax: 2 }, fit, {});
  try {
    const sources = randomSources(9, H, 11);
    // One batch: every source is padded to the longest, so the mask decides what they see.
    const got = await head.values(sources, 9);
    const views = table.views(params);
    sources.forEach((s, i) => {
      const want = plainValue(views, s, H, 4, 2);
      assert.ok(Math.abs(got[i]! - want) < 1e-5, `source ${i}: ${got[i]} vs ${want}`);
      assert.ok(got[i]! > 0 && got[i]! < 2);
    });
    // Alone (no padding) each gets the same value.
    for (const [i, s] of sources.entries()) {
      const [alone] = await head.values([s]);
      assert.ok(Math.abs(alone! - got[i]!) < 1e-5, `source ${i} alone: ${alone} vs ${got[i]}`);
    }
  } finally {
    await head.release();
  }
});

test('fitting learns a value the encoder states carry, and beats the mean on held-out sources', async () => {
  const H = 8;
  const sources = randomSources(400, H, 5);
  // The target: a squashed mean of feature 0 over the source's tokens.
  const targets = sources.map((s) => {
    let m = 0;
    for (let t = 0; t < s.length; t++) m += s.hidden[t * H]!;
    return 1 / (1 + Math.exp(-4 * (m / s.length)));
  });
  const epochs: number[] = [];
  const head = await fitValueHead(sources, targets, {
    epochs: 30,
    learningRate: 1e-2,
    seed: 2,
    dropout: 0,
    onEpoch: (e) => void epochs.push(e.heldOutMse),
  });
  try {
    assert.equal(epochs.length, 30);
    assert.equal(head.fit.heldOutExamples, 80);
    assert.equal(head.fit.trainExamples, 320);
    assert.ok(head.fit.epoch > 0, 'some epoch beats the untrained head');
    assert.ok(
      head.fit.heldOutMse < 0.25 * head.fit.heldOutMseOfMean,
      `held-out MSE ${head.fit.heldOutMse} against ${head.fit.heldOutMseOfMean} for the mean`,
    );
    assert.equal(head.fit.heldOutMse, Math.min(...epochs, head.fit.heldOutMse));
    const values = await head.values(sources);
    assert.ok(values.every((v) => v > 0 && v < 1));
  } finally {
    await head.release();
  }
});

test('bad inputs are refused with the field named', async () => {
  const sources = randomSources(10, 8, 1);
  const refused = (field: string) => (e: unknown) =>
    e instanceof InvalidArgumentError && e.message.includes(field);
  await assert.rejects(fitValueHead(sources, [0.5]), refused('targets: 1 targets for 10 sources'));
  await assert.rejects(
    fitValueHead(
      sources,
      sources.map(() => 1.5),
    ),
    refused('targets[0]'),
  );
  await assert.rejects(
    fitValueHead(
      sources,
      sources.map(() => 0.5),
      { valueMax: 0 },
    ),
    refused('valueMax'),
  );
  await assert.rejects(
    fitValueHead(
      sources,
      sources.map(() => 0.5),
      { heads: 3 },
    ),
    refused('heads'),
  );
  await assert.rejects(fitValueHead(sources.slice(0, 1), [0.5]), refused('too few'));
});
