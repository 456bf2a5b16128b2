import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, Tensor } from '../graph/graph.js';
import { matMul } from '../ops/matmul.js';
import { logSoftmax } from '../ops/softmax.js';
import { gatherElements } from '../ops/indexing.js';
import { reduceMean } from '../ops/reduce.js';
import { neg, add } from '../ops/arithmetic.js';
import { tanh } from '../ops/activations.js';
import { ParamTable } from '../params/param-table.js';
import { Trainer } from '../optim/trainer.js';
import type { HostTensor } from '../session/session.js';
import { loadCheckpoint, saveCheckpoint } from './safetensors.js';

const table = new ParamTable([
  { name: 'w1', shape: [6, 8], init: { kind: 'normal', std: 0.5 } },
  { name: 'b1', shape: [8], init: { kind: 'zeros' } },
  { name: 'w2', shape: [8, 5], init: { kind: 'normal', std: 0.5 } },
]);

function forward(g: Graph, p: ReadonlyMap<string, Tensor>): { loss: Tensor } {
  const x = g.input('x', 'f32', ['N', 6]);
  const y = g.input('y', 'i64', ['N', 1]);
  const h = tanh(add(matMul(x, p.get('w1')!), p.get('b1')!));
  const logp = logSoftmax(matMul(h, p.get('w2')!));
  return { loss: neg(reduceMean(gatherElements(logp, y, 1), [0, 1])) };
}

function batch(k: number): Record<string, HostTensor> {
  return {
    x: {
      dtype: 'f32',
      dims: [4, 6],
      data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 0.7 + k)),
    },
    y: { dtype: 'i64', dims: [4, 1], data: BigInt64Array.from([0, 1, 2, 3].map((i) => BigInt((i + k) % 5))) },
  };
}

test('checkpoint: resume from safetensors gives a bit-identical next step', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
  try {
    const spec = {
      table,
      dtype: 'f32' as const,
      forward,
      optimizer: 'adamw' as const,
      schedule: { kind: 'inverse-sqrt' as const, warmupSteps: 3 },
    };
    const hyper = { lr: 0.01 };
    const a = await Trainer.create(spec, hyper, { intraOpThreads: 1 });
    for (let k = 0; k < 5; k++) await a.trainStep(batch(k));
    const path = join(dir, 'state.safetensors');
    await saveCheckpoint(path, table, a.state());
    assert.deepEqual(await readdir(dir), ['state.safetensors'], 'no temp file left behind');
    const ra = await a.trainStep(batch(5));

    const b = await Trainer.create(spec, hyper, { intraOpThreads: 1, seed: 99 });
    b.loadState(await loadCheckpoint(path, table));
    assert.equal(b.step, 5);
    const rb = await b.trainStep(batch(5));
    assert.equal(rb.loss, ra.loss);
    assert.deepEqual(Buffer.from(b.parameters.buffer), Buffer.from(a.parameters.buffer));
    const sa = a.state().slots;
    const sb = b.state().slots;
    for (const k of ['m', 'v']) assert.deepEqual(Buffer.from(sb[k]!.buffer), Buffer.from(sa[k]!.buffer));
    await a.release();
    await b.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
