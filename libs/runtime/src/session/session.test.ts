import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../graph/graph.js';
import { add } from '../ops/arithmetic.js';
import { Session, SessionIoError } from './session.js';

async function addOne(): Promise<Session> {
  const g = new Graph();
  const x = g.input('x', 'f32', ['B', 2]);
  const y = g.input('y', 'f32', ['B', 1]);
  g.output(add(add(x, y), 1), 'z');
  return Session.create(g, { intraOpThreads: 1 });
}

test('Session.run: pre-bound outputs are written in place into views of a larger buffer', async () => {
  const s = await addOne();
  const big = new Float32Array(10);
  const view = big.subarray(4, 8);
  await s.run(
    {
      x: { dtype: 'f32', dims: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      y: { dtype: 'f32', dims: [2, 1], data: new Float32Array([10, 20]) },
    },
    { z: { dtype: 'f32', dims: [2, 2], data: view } },
  );
  assert.deepEqual(Array.from(big), [0, 0, 0, 0, 12, 13, 24, 25, 0, 0]);
  await s.release();
});

test('Session.checkFeeds: reports every problem, including a symbolic dim bound two ways', async () => {
  const s = await addOne();
  assert.throws(
    () =>
      s.checkFeeds({
        x: { dtype: 'f32', dims: [2, 2], data: new Float32Array(4) },
        y: { dtype: 'f64', dims: [3, 1], data: new Float64Array(3) },
        w: { dtype: 'f32', dims: [1], data: new Float32Array(1) },
      }),
    (e: unknown) =>
      e instanceof SessionIoError &&
      e.message === 'y: dtype f64, expected f32; y: dim B = 3, but 2 elsewhere; w: not an input',
  );
  await s.release();
});
