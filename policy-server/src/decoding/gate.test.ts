import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gate } from './gate.js';

test('Gate: at most `slots` holders; waiters enter in arrival order', async () => {
  const gate = new Gate(2);
  const order: number[] = [];
  const a = await gate.enter();
  const b = await gate.enter();
  assert.equal(gate.busy, 2);
  const waiting = [3, 4].map((n) => gate.enter().then((leave) => (order.push(n), leave)));
  await Promise.resolve();
  assert.deepEqual(order, []);
  a();
  a(); // a second call is ignored
  const third = await waiting[0]!;
  assert.deepEqual(order, [3]);
  b();
  const fourth = await waiting[1]!;
  assert.deepEqual(order, [3, 4]);
  third();
  fourth();
  assert.equal(gate.busy, 0);
  assert.throws(() => new Gate(0), RangeError);
});
