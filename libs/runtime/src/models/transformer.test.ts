import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck, i64s, rng, uniform } from '../testing/gradient-check.js';
import { ParamTable } from '../params/param-table.js';
import type { HostTensor } from '../session/session.js';
import { transformerParams, type TransformerConfig } from './config.js';
import { labelSmoothedCrossEntropy, transformerLoss } from './transformer.js';

const TINY: TransformerConfig = {
  vocabSize: 7,
  dModel: 8,
  heads: 2,
  ffnDim: 12,
  encoderLayers: 2,
  decoderLayers: 2,
  maxPositions: 16,
  labelSmoothing: 0.1,
  padId: 0,
  activation: 'gelu',
};

for (const preNorm of [true, false]) {
  test(`transformer: whole 2+2-layer model with label-smoothed CE, gradients of all parameters within 1e-5 (${preNorm ? 'pre' : 'post'}-LN)`, async (t) => {
    const cfg = { ...TINY, preNorm, activation: preNorm ? ('gelu' as const) : ('relu' as const) };
    const table = new ParamTable(transformerParams(cfg));
    const params = table.initialize(new Float64Array(table.size), 5);
    // Perturb LN gains/biases away from 1/0 so their gradients are generic.
    const r = rng(9);
    for (let i = 0; i < params.length; i++) params[i]! += 0.1 * (r() - 0.5);
    const inputs: Record<string, HostTensor> = {
      src: i64s([2, 4], [3, 4, 5, 6, 2, 3, 0, 0]),
      tgt_in: i64s([2, 3], [1, 4, 5, 1, 6, 0]),
      tgt_out: i64s([2, 3], [4, 5, 2, 6, 2, 0]),
    };
    const views = table.views(params);
    for (const e of table.entries) inputs[e.name] = { dtype: 'f64', dims: e.shape, data: views.get(e.name)! };
    const res = await gradCheck(
      inputs,
      (xs, g) => {
        const p = new Map(table.entries.map((e) => [e.name, xs[e.name]!]));
        return transformerLoss(cfg, g, p, { src: xs.src!, tgtIn: xs.tgt_in!, tgtOut: xs.tgt_out! }).loss;
      },
      { wrt: table.entries.map((e) => e.name) },
    );
    const worst = [...res.perInput].sort((a, b) => b.maxRelError - a.maxRelError)[0]!;
    t.diagnostic(
      `${table.size} parameters, max rel error ${res.maxRelError.toExponential(2)} (${worst.name})`,
    );
    assert.ok(res.maxRelError <= 1e-5, JSON.stringify(worst));
  });
}

for (const eps of [0, 0.1]) {
  test(`labelSmoothedCrossEntropy: fused gradient rule matches finite differences (ε = ${eps}, pad rows ignored)`, async (t) => {
    const r = rng(3);
    const inputs: Record<string, HostTensor> = {
      logits: { dtype: 'f64', dims: [6, 5], data: uniform(30, r, -2, 2) },
      labels: i64s([2, 3], [4, 1, 0, 3, 0, 2]),
    };
    // The check weights outputs; the loss is a scalar, so its gradient is the rule's.
    const res = await gradCheck(
      inputs,
      (xs) => labelSmoothedCrossEntropy(xs.logits!, xs.labels!, eps, 0).loss,
      { wrt: ['logits'] },
    );
    t.diagnostic(`max rel error ${res.maxRelError.toExponential(2)}`);
    assert.ok(res.maxRelError <= 1e-6, JSON.stringify(res.perInput));
  });
}
