import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients, Graph, type HostTensor } from '@rest/runtime';
import { rng } from '@rest/runtime/testing';
import { InvalidArgumentError } from '@rest/service-kit';
import { ObjectiveInputError } from './objective.js';
import {
  buildObjective,
  declareObjectiveInputs,
  OBJECTIVE_NAMES,
  OBJECTIVES,
  objectiveInputs,
  parseObjectiveHyper,
  type ObjectiveName,
} from './registry.js';
import { runGraph, t64, values } from './test-support.js';

const SIZES: Record<string, number> = { B: 4, T: 3, V: 5, Q: 4, U: 2 };

/** Plausible float64 data for an input, by name. */
function dataFor(name: string, dims: readonly number[], r: () => number): HostTensor<'f64'> {
  const n = dims.reduce((a, b) => a * b, 1);
  if (name.endsWith('mask')) {
    const [rows, T] = dims as [number, number];
    return t64(
      dims,
      Array.from({ length: n }, (_, i) => (i % T < T - (Math.floor(i / T) % 2) ? 1 : 0)).slice(0, rows * T),
    );
  }
  if (name.endsWith('logprobs')) {
    const V = dims[dims.length - 1]!;
    const out: number[] = [];
    for (let row = 0; row < n / V; row++) {
      const z = Array.from({ length: V }, () => 2 * r());
      const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
      out.push(...z.map((v) => v - lse));
    }
    return t64(dims, out);
  }
  if (name.endsWith('seq_logp'))
    return t64(
      dims,
      Array.from({ length: n }, () => -1 - 4 * r()),
    );
  if (name.endsWith('logp'))
    return t64(
      dims,
      Array.from({ length: n }, () => -0.05 - 3 * r()),
    );
  return t64(
    dims,
    Array.from({ length: n }, () => r()),
  ); // reward, baseline, value, scalars
}

test('OBJECTIVES: every entry is keyed by its name, parses with all defaults, and uses the documented dims', () => {
  assert.deepEqual(OBJECTIVE_NAMES, [
    'bc',
    'wbc',
    'gold',
    'oac',
    'bvmpo',
    'alol',
    'alol-ref-free',
    'alol-seq',
    'alol-kl',
    'r-lol',
    'dpo',
    'hypo',
  ]);
  for (const name of OBJECTIVE_NAMES) {
    const entry = OBJECTIVES[name];
    assert.equal(entry.name, name);
    assert.ok(
      entry.description.length > 0 && entry.reducesTo.length > 0 && entry.spec.startsWith('ALGORITHMS.md §3'),
    );
    const inputs = objectiveInputs(name, parseObjectiveHyper(name));
    assert.equal(inputs[0]!.name, 'token_logp');
    for (const i of inputs)
      assert.ok(
        i.dims.every((d) => d in SIZES),
        `${name}.${i.name} [${i.dims.join(', ')}]`,
      );
  }
});

for (const name of OBJECTIVE_NAMES) {
  test(`${name}: builds in float32 over symbolic dims and matches the float64 loss`, async () => {
    const r = rng(name.length * 31 + name.charCodeAt(0));
    const hyper = parseObjectiveHyper(name);
    const specs = objectiveInputs(name, hyper as never);
    const feeds64: Record<string, HostTensor<'f64'>> = {};
    for (const s of specs)
      feeds64[s.name] = dataFor(
        s.name,
        s.dims.map((d) => SIZES[d]!),
        r,
      );
    // The float32 graph sees the data rounded to float32; the float64 graph the same rounded values.
    const feeds32: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(feeds64)) {
      const f32 = Float32Array.from(v.data);
      feeds32[k] = { dtype: 'f32', dims: v.dims, data: f32 };
      feeds64[k] = { ...v, data: Float64Array.from(f32) };
    }
    const losses: number[] = [];
    for (const dtype of ['f32', 'f64'] as const) {
      const g = new Graph(`${name}_${dtype}`);
      const xs = declareObjectiveInputs(g, name, hyper as never, dtype);
      const { loss, metrics } = buildObjective(g, name, xs, hyper as never);
      assert.equal(loss.dtype, dtype);
      g.output(loss, 'loss');
      for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
      const wrt = specs.filter((s) => s.differentiable).map((s) => xs[s.name]!);
      gradients(loss, wrt).forEach((d, i) =>
        g.output(d, `d.${specs.filter((s) => s.differentiable)[i]!.name}`),
      );
      const out = await runGraph(g, dtype === 'f32' ? feeds32 : feeds64);
      for (const [k, v] of Object.entries(out))
        assert.ok(values(v).every(Number.isFinite), `${name} ${dtype}: ${k} is not finite`);
      losses.push(values(out.loss)[0]!);
    }
    assert.ok(
      Math.abs(losses[0]! - losses[1]!) <= 1e-5 * Math.max(1, Math.abs(losses[1]!)),
      `${losses.join(' vs ')}`,
    );
  });
}

test('buildObjective: a missing or misshaped input is named; an unknown objective is rejected', () => {
  const g = new Graph();
  const lp = g.input('token_logp', 'f64', ['B', 'T']);
  const mask = g.input('mask', 'f64', ['B', 'T']);
  assert.throws(
    () => buildObjective(g, 'wbc', { token_logp: lp, mask }),
    (e: unknown) => e instanceof ObjectiveInputError && e.message === 'wbc: input reward [B] is missing',
  );
  assert.throws(
    () => buildObjective(g, 'wbc', { token_logp: lp, mask, reward: mask }),
    (e: unknown) =>
      e instanceof ObjectiveInputError && e.message === 'wbc: input reward must be [B], got [B, T]',
  );
  assert.throws(
    () => parseObjectiveHyper('ppo' as ObjectiveName),
    (e: unknown) =>
      e instanceof InvalidArgumentError && e.message.startsWith('objective: must be one of bc, wbc,'),
  );
});
