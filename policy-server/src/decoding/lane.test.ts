import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lane } from './lane.js';

/** `clients` callers that each send their next item 2 ms after the previous one is answered. */
async function closedLoop(
  rejoinMs: number,
  clients: number,
  rounds: number,
  maxWaitMs = 1,
): Promise<number[]> {
  const sizes: number[] = [];
  const lane = new Lane<number, number>(
    {
      maxBatchItems: 64,
      maxWaitMs,
      maxQueuedItems: 1000,
      run: async (items) => {
        sizes.push(items.length);
        // A batch takes a while (a whole generation); the answer is the item itself.
        await new Promise((resolve) => setTimeout(resolve, 15));
        return items;
      },
    },
    rejoinMs,
  );
  const signal = new AbortController().signal;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      // Callers start a little apart, as real ones do.
      await new Promise((resolve) => setTimeout(resolve, c * 3));
      for (let r = 0; r < rounds; r++) {
        assert.deepEqual(await lane.submit([c], signal), [c]);
        // The answer's way back and the next request's way in (a network round trip).
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }),
  );
  await lane.close();
  return sizes;
}

test('Lane: without a rejoin window, back-to-back callers split into alternating partial batches', async () => {
  const sizes = await closedLoop(0, 8, 6);
  assert.ok(Math.max(...sizes.slice(2)) < 8, `sizes ${sizes.join(',')}`);
});

test('Lane: with a rejoin window, back-to-back callers share full batches', async () => {
  const sizes = await closedLoop(30, 8, 8);
  // Full batches once the staggered start has settled, until the staggered finish.
  assert.ok(sizes.filter((n) => n === 8).length >= 4, `sizes ${sizes.join(',')}`);
});

test('Lane: a lone caller is let in as soon as it is back, not after the window', async () => {
  const started = performance.now();
  const sizes = await closedLoop(10_000, 1, 5);
  assert.deepEqual(sizes, [1, 1, 1, 1, 1]);
  assert.ok(performance.now() - started < 5_000, 'the 10 s window was not waited out');
});

test('Lane: items let in from the window do not wait maxWaitMs for company', async () => {
  // A lone caller: its first request finds the lane quiet and waits maxWaitMs (1 s) for others; the
  // next four come back within the window, where waiting for more would only add latency.
  const started = performance.now();
  const sizes = await closedLoop(10_000, 1, 5, 1_000);
  assert.deepEqual(sizes, [1, 1, 1, 1, 1]);
  const ms = performance.now() - started;
  assert.ok(ms >= 990 && ms < 3_000, `5 rounds took ${ms.toFixed(0)} ms (1 s for the first, not 5 s in all)`);
});

test('Lane: an item held in the window leaves when its signal fires; idle once everything is done', async () => {
  let release = (): void => {};
  const lane = new Lane<number, number>(
    {
      maxBatchItems: 8,
      maxWaitMs: 0,
      maxQueuedItems: 100,
      run: async (items) => {
        await new Promise<void>((resolve) => (release = resolve));
        return items;
      },
    },
    50,
  );
  const first = lane.submit([1], new AbortController().signal);
  await new Promise((resolve) => setImmediate(resolve));
  const cancel = new AbortController();
  const held = lane.submit([2], cancel.signal);
  cancel.abort(new Error('gone'));
  await assert.rejects(held, /gone/);
  release();
  assert.deepEqual(await first, [1]);
  assert.equal(lane.idle, false); // the window after the batch is still open
  await lane.close();
  assert.equal(lane.idle, true);
});

test('Lane: callers coming back one after another keep the window open past rejoinMs', async () => {
  // 8 callers, each back 5 + 3·c ms after its answer: the last is back 26 ms after the batch, past a
  // 20 ms window, but none comes more than 3 ms after the one before (the window stays open 5 ms
  // past each arrival), so they still share full batches.
  const sizes: number[] = [];
  const lane = new Lane<number, number>(
    {
      maxBatchItems: 64,
      maxWaitMs: 1,
      maxQueuedItems: 1000,
      run: async (items) => {
        sizes.push(items.length);
        await new Promise((resolve) => setTimeout(resolve, 15));
        return items;
      },
    },
    20,
  );
  const signal = new AbortController().signal;
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let r = 0; r < 8; r++) {
        assert.deepEqual(await lane.submit([c], signal), [c]);
        await new Promise((resolve) => setTimeout(resolve, 5 + 3 * c));
      }
    }),
  );
  await lane.close();
  assert.ok(sizes.filter((n) => n === 8).length >= 6, `sizes ${sizes.join(',')}`);
});
