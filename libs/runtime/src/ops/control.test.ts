import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCases } from '../testing/op-cases.js';
import { randF64, rng } from '../testing/gradient-check.js';
import { Graph } from '../graph/graph.js';
import { Session } from '../session/session.js';
import { ShapeError } from '../graph/errors.js';
import { add, mul } from './arithmetic.js';
import { exp, tanh } from './activations.js';
import { ifThenElse } from './control.js';
import { greater } from './select.js';
import { reduceSum } from './reduce.js';
import { matMul } from './matmul.js';

const r = rng(10);
const branchy = (flag: number) => ({
  x: randF64([2, 3], r),
  w: randF64([3, 2], r),
  f: randF64([], r, flag, flag),
});
gradCases('control', [
  ...[1, -1]
    .map(
      (flag) =>
        [
          `If taking the ${flag > 0 ? 'then' : 'else'} branch`,
          branchy(flag),
          ({ x, w, f }: Record<string, import('../graph/graph.js').Tensor>) =>
            ifThenElse(
              greater(reduceSum(f!, []), 0),
              (b) => [tanh(matMul(b.capture(x!), b.capture(w!)))],
              (b) => [mul(exp(matMul(b.capture(x!), b.capture(w!))), b.capture(w!).dims.length)],
            )[0]!,
          { wrt: ['x', 'w'] },
        ] as const,
    )
    .map(([n, i, f, o]) => [n, i, f, o] as [string, typeof i, typeof f, typeof o]),
]);

test('ifThenElse: runs the taken branch; mismatched branch shapes throw ShapeError', async () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [2]);
  const c = g.input('c', 'bool', []);
  const [y] = ifThenElse(
    c,
    (b) => [add(b.capture(x), 1)],
    (b) => [mul(b.capture(x), 10)],
  );
  g.output(y!, 'y');
  const s = await Session.create(g);
  const run = async (flag: boolean) =>
    Array.from(
      (
        await s.run({
          x: { dtype: 'f32', dims: [2], data: new Float32Array([1, 2]) },
          c: { dtype: 'bool', dims: [], data: new Uint8Array([flag ? 1 : 0]) },
        })
      ).y!.data as Float32Array,
    );
  assert.deepEqual(await run(true), [2, 3]);
  assert.deepEqual(await run(false), [10, 20]);
  await s.release();
  assert.throws(
    () =>
      ifThenElse(
        c,
        (b) => [b.capture(x)],
        (b) => [reduceSum(b.capture(x), [0])],
      ),
    ShapeError,
  );
});
