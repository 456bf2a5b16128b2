import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel } from './model-proto.js';

test('encodeModel: onnxruntime loads and runs a hand-written Add + Gemm model', async () => {
  const bytes = encodeModel({
    graph: {
      name: 'g',
      nodes: [
        { opType: 'Add', name: 'add', inputs: ['x', 'c'], outputs: ['y'], attributes: {} },
        {
          opType: 'Gemm',
          name: 'gemm',
          inputs: ['y', 'w'],
          outputs: ['z'],
          attributes: { transB: { kind: 'int', value: 1 }, alpha: { kind: 'float', value: 2 } },
        },
      ],
      inputs: [
        { name: 'x', dtype: 'f32', dims: ['B', 2] },
        { name: 'w', dtype: 'f32', dims: [3, 2] },
      ],
      outputs: [{ name: 'z', dtype: 'f32', dims: ['B', 3] }],
      initializers: [{ name: 'c', dtype: 'f32', dims: [2], data: new Float32Array([1, -1]) }],
      valueInfo: [],
    },
  });
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({
    x: new ort.Tensor('float32', new Float32Array([1, 2]), [1, 2]),
    w: new ort.Tensor('float32', new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]),
  });
  assert.deepEqual(Array.from(out.z!.data as Float32Array), [4, 2, 6]);
  await session.release();
});
