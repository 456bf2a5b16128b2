import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, type BatchInfo, type BatcherOptions } from './batching.js';
import { CancelledError, InvalidArgumentError, ResourceExhaustedError, UnavailableError } from './errors.js';
import { deferred, withTimeout, type Deferred } from './testing.js';

const WAIT_MS = 5_000;
/** Long enough that a test never sees the wait timer fire: batches start only when full or closing. */
const NEVER_MS = 600_000;

/** A `run` that records each batch and holds it until the test releases it. */
function gatedRun(): {
  run: (items: readonly string[]) => Promise<string[]>;
  batches: string[][];
  gates: Deferred<void>[];
  started: (n: number) => Promise<void>;
} {
  const batches: string[][] = [];
  const gates: Deferred<void>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    batches,
    gates,
    run: async (items) => {
      batches.push([...items]);
      const gate = deferred();
      gates.push(gate);
      for (const w of waiters.filter((w) => batches.length >= w.n)) w.resolve();
      await gate.promise;
      return items.map((i) => i.toUpperCase());
    },
    started: (n) =>
      batches.length >= n
        ? Promise.resolve()
        : withTimeout(new Promise<void>((resolve) => waiters.push({ n, resolve })), WAIT_MS, `batch ${n}`),
  };
}

/** A `run` that answers at once. */
function instantRun(batches: string[][]): (items: readonly string[]) => Promise<string[]> {
  return (items) => {
    batches.push([...items]);
    return Promise.resolve(items.map((i) => i.toUpperCase()));
  };
}

function batcher(
  options: Partial<BatcherOptions<string, string>> & Pick<BatcherOptions<string, string>, 'run'>,
) {
  return new Batcher<string, string>({
    maxBatchItems: 4,
    maxWaitMs: NEVER_MS,
    maxQueuedItems: 100,
    ...options,
  });
}

describe('Batcher', () => {
  it('Batcher: coalesces concurrent submits into one batch and answers each request in its order', async () => {
    const batches: string[][] = [];
    const b = batcher({ run: instantRun(batches), maxWaitMs: 1 });
    const [x, y] = await withTimeout(
      Promise.all([b.submit(['a', 'b']), b.submit(['c'])]),
      WAIT_MS,
      'the results',
    );
    assert.deepEqual(x, ['A', 'B']);
    assert.deepEqual(y, ['C']);
    assert.deepEqual(batches, [['a', 'c', 'b']]);
    await b.close();
  });

  it('Batcher: a full batch starts without waiting, and batches hold at most maxBatchItems', async () => {
    const batches: string[][] = [];
    const b = batcher({ run: instantRun(batches) });
    const items = Array.from({ length: 10 }, (_, i) => `i${i}`);
    const pending = b.submit(items);
    // 8 items make two full batches at once; the last 2 wait for more (NEVER_MS) until close.
    await withTimeout(
      (async () => {
        while (batches.length < 2) await new Promise((r) => setImmediate(r));
      })(),
      WAIT_MS,
      'two full batches',
    );
    assert.equal(batches.length, 2);
    assert.equal(b.queuedItems, 2);
    await b.close();
    assert.deepEqual(
      await pending,
      items.map((i) => i.toUpperCase()),
    );
    assert.deepEqual(
      batches.map((x) => x.length),
      [4, 4, 2],
    );
  });

  it('Batcher: a partial batch starts once its oldest item has waited maxWaitMs', async () => {
    const batches: string[][] = [];
    const b = batcher({ run: instantRun(batches), maxWaitMs: 20 });
    const startedMs = Date.now();
    assert.deepEqual(await withTimeout(b.submit(['x']), WAIT_MS, 'the result'), ['X']);
    assert.ok(Date.now() - startedMs >= 19, `answered after ${Date.now() - startedMs} ms`);
    await b.close();
  });

  it('Batcher: a submit with waitMs 0 starts a partial batch at once, taking the items queued before it', async () => {
    const batches: string[][] = [];
    const b = batcher({ run: instantRun(batches) });
    const waiting = b.submit(['a']); // waits NEVER_MS for company
    await new Promise((r) => setImmediate(r));
    assert.equal(batches.length, 0);
    const [x, y] = await withTimeout(Promise.all([waiting, b.submit(['b'], undefined, 0)]), WAIT_MS, 'both');
    assert.deepEqual([x, y], [['A'], ['B']]);
    assert.deepEqual(batches, [['a', 'b']]);
    // A wait longer than maxWaitMs is cut to it.
    const c = batcher({ run: instantRun(batches), maxWaitMs: 0 });
    assert.deepEqual(await withTimeout(c.submit(['c'], undefined, NEVER_MS), WAIT_MS, 'c'), ['C']);
    // A wait that is no number ≥ 0 is refused, naming the field, and queues nothing.
    for (const bad of [Number.NaN, -1])
      await assert.rejects(
        b.submit(['d'], undefined, bad),
        (e: unknown) => e instanceof InvalidArgumentError && e.violations[0]?.field === 'waitMs',
      );
    assert.equal(b.queuedItems, 0);
    await Promise.all([b.close(), c.close()]);
  });

  it('Batcher: batches hold at most maxBatchCost, and an item over it is refused naming its index', async () => {
    const batches: string[][] = [];
    const b = batcher({
      run: instantRun(batches),
      maxBatchItems: 100,
      maxBatchCost: 10,
      cost: (s) => s.length,
    });
    await assert.rejects(
      b.submit(['ok', 'x'.repeat(11)]),
      (e: unknown) => e instanceof InvalidArgumentError && e.violations[0]?.field === 'items[1]',
    );
    assert.equal(b.queuedItems, 0);
    const items = ['aaaa', 'bbbb', 'cccc', 'dd', 'eeeeeeeeee'];
    const pending = b.submit(items);
    await b.close();
    await pending;
    for (const batch of batches) assert.ok(batch.join('').length <= 10, `batch ${batch.join(',')}`);
    assert.deepEqual(batches.flat().sort(), [...items].sort());
  });

  it('Batcher: round-robin keeps a big request from starving small ones', async () => {
    const gated = gatedRun();
    const b = batcher({ run: gated.run, maxWaitMs: 0, maxBatchItems: 4 });
    const first = b.submit(['first']);
    await gated.started(1);
    const big = b.submit(Array.from({ length: 20 }, (_, i) => `big${i}`));
    const small = b.submit(['s0', 's1']);
    gated.gates[0]!.resolve();
    await gated.started(2);
    assert.deepEqual(gated.batches[1], ['big0', 's0', 'big1', 's1']);
    gated.gates[1]!.resolve();
    assert.deepEqual(await small, ['S0', 'S1']);
    await first;
    const closing = b.close();
    for (let n = 3; n <= 7; n++) {
      await gated.started(n);
      gated.gates[n - 1]!.resolve();
    }
    assert.equal((await big).length, 20);
    await closing;
  });

  it('Batcher: refuses with ResourceExhausted past maxQueuedItems, counting only queued items', async () => {
    const gated = gatedRun();
    const b = batcher({ run: gated.run, maxWaitMs: 0, maxBatchItems: 2, maxQueuedItems: 3 });
    const running = b.submit(['a', 'b']);
    await gated.started(1);
    const queued = b.submit(['c', 'd', 'e']);
    await assert.rejects(b.submit(['f']), ResourceExhaustedError);
    await assert.rejects(b.submit(['1', '2', '3', '4']), /more than the queue holds/);
    gated.gates[0]!.resolve();
    await running;
    await gated.started(2);
    assert.equal(b.queuedItems, 1);
    const more = b.submit(['f', 'g']);
    const closing = b.close();
    for (let n = 2; n <= 4; n++) {
      await gated.started(n);
      gated.gates[n - 1]!.resolve();
    }
    assert.deepEqual(await queued, ['C', 'D', 'E']);
    assert.deepEqual(await more, ['F', 'G']);
    await closing;
  });

  it('Batcher: an aborted request leaves the queue at once and its items never run', async () => {
    const gated = gatedRun();
    const b = batcher({ run: gated.run, maxWaitMs: 0, maxBatchItems: 2 });
    const blocker = b.submit(['a']);
    await gated.started(1);
    const controller = new AbortController();
    const cancelled = b.submit(['x1', 'x2', 'x3'], controller.signal);
    const kept = b.submit(['k']);
    assert.equal(b.queuedItems, 4);
    controller.abort(new CancelledError('the client cancelled the call'));
    await assert.rejects(cancelled, CancelledError);
    assert.equal(b.queuedItems, 1);
    gated.gates[0]!.resolve();
    await blocker;
    await gated.started(2);
    gated.gates[1]!.resolve();
    assert.deepEqual(await kept, ['K']);
    assert.deepEqual(gated.batches, [['a'], ['k']]);
    await assert.rejects(b.submit(['y'], controller.signal), CancelledError);
    await b.close();
  });

  it('Batcher: an abort while a batch runs rejects at once and drops that batch’s results', async () => {
    const gated = gatedRun();
    const b = batcher({ run: gated.run, maxWaitMs: 0, maxBatchItems: 2 });
    const controller = new AbortController();
    const cancelled = b.submit(['a', 'b', 'c'], controller.signal);
    await gated.started(1);
    controller.abort();
    await assert.rejects(cancelled, /aborted/);
    assert.equal(b.queuedItems, 0);
    gated.gates[0]!.resolve();
    await b.close();
    assert.equal(gated.batches.length, 1);
  });

  it('Batcher: a failing run rejects the requests in its batch and not the others', async () => {
    let calls = 0;
    const b = batcher({
      maxBatchItems: 1,
      maxWaitMs: 0,
      run: (items) => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve([...items])),
    });
    const failing = b.submit(['a', 'b']);
    const ok = b.submit(['c']);
    await assert.rejects(failing, /boom/);
    assert.deepEqual(await ok, ['c']);
    await b.close();
    assert.equal(calls, 2, 'the failed request’s second item never ran');
  });

  it('Batcher: a run that returns the wrong number of results fails its requests', async () => {
    const b = batcher({ maxWaitMs: 0, run: () => Promise.resolve(['only one']) });
    await assert.rejects(b.submit(['a', 'b']), /run returned 1 results for 2 items/);
    await b.close();
  });

  it('Batcher: close starts queued items at once, waits for them, then refuses submits', async () => {
    const batches: string[][] = [];
    const b = batcher({ run: instantRun(batches) });
    const pending = b.submit(['a']);
    await b.close();
    assert.deepEqual(await pending, ['A']);
    await assert.rejects(b.submit(['b']), UnavailableError);
    await b.close();
  });

  it('Batcher: onBatch reports items, cost, requests and wait of each batch; [] resolves at once', async () => {
    const infos: BatchInfo[] = [];
    const b = batcher({ run: instantRun([]), cost: (s) => s.length, onBatch: (i) => infos.push(i) });
    assert.deepEqual(await b.submit([]), []);
    const both = Promise.all([b.submit(['ab']), b.submit(['cde'])]);
    await b.close();
    await both;
    assert.equal(infos.length, 1);
    assert.deepEqual({ ...infos[0], waitMs: 0 }, { items: 2, cost: 5, requests: 2, waitMs: 0 });
  });

  it('Batcher: rejects out-of-range limits at construction', () => {
    const run = instantRun([]);
    assert.throws(() => batcher({ run, maxBatchItems: 0 }), RangeError);
    assert.throws(() => batcher({ run, maxBatchItems: 1.5 }), RangeError);
    assert.throws(() => batcher({ run, maxWaitMs: -1 }), RangeError);
    assert.throws(() => batcher({ run, maxQueuedItems: 0 }), RangeError);
    assert.throws(() => batcher({ run, maxBatchCost: 0 }), RangeError);
  });
});
