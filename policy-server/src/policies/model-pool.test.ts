import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOOP_LOGGER, UnavailableError } from '@rest/service-kit';
import type { LoadedPolicy } from './loaded-policy.js';
import { ModelPool, type PolicyLoader } from './model-pool.js';

/** A loader of fake policies of given sizes that records loads and releases. */
function fakeLoader(sizes: Readonly<Record<string, number>>) {
  const loads: string[] = [];
  const released: string[] = [];
  const failing = new Set<string>();
  let gate: Promise<void> = Promise.resolve();
  const loader: PolicyLoader = {
    estimateBytes: (id) => Promise.resolve(sizes[id] ?? 0),
    async load(id, instance) {
      loads.push(id);
      await gate;
      if (failing.has(id)) throw new Error(`cannot load ${id}`);
      const policy = {
        id,
        instance,
        bytes: sizes[id] ?? 0,
        release: () => {
          released.push(id);
          return Promise.resolve();
        },
      };
      return policy as unknown as LoadedPolicy;
    },
  };
  return {
    loader,
    loads,
    released,
    failing,
    hold(): () => void {
      let open = (): void => {};
      gate = new Promise((resolve) => (open = resolve));
      return open;
    },
  };
}

test('ModelPool: evicts the least recently used idle policy to make room', async () => {
  const f = fakeLoader({ a: 40, b: 40, c: 40 });
  const pool = new ModelPool({ loader: f.loader, budgetBytes: 100, logger: NOOP_LOGGER });
  (await pool.acquire('a')).release();
  (await pool.acquire('b')).release();
  (await pool.acquire('a')).release(); // a is now more recent than b
  (await pool.acquire('c')).release();
  assert.deepEqual([...pool.loadedIds].sort(), ['a', 'c']);
  assert.deepEqual(f.released, ['b']);
  assert.equal(pool.loadedBytes, 80);
  await pool.close();
});

test('ModelPool: a busy policy is never unloaded; evicted for a load, it is released with its last lease', async () => {
  const f = fakeLoader({ a: 60, b: 60 });
  const pool = new ModelPool({ loader: f.loader, budgetBytes: 100, logger: NOOP_LOGGER });
  const a = await pool.acquire('a');
  const second = pool.retain(a.policy)!;
  const b = await pool.acquire('b'); // room for b: busy a leaves the LRU but keeps its sessions
  assert.deepEqual(pool.loadedIds, ['b']);
  assert.deepEqual([...pool.liveIds].sort(), ['a', 'b']);
  b.release(); // idle b stays: it fits the budget on its own
  assert.deepEqual(f.released, []);
  a.release();
  a.release(); // ignored
  assert.deepEqual(f.released, []);
  second.release();
  assert.deepEqual(f.released, ['a']);
  assert.equal(pool.retain(a.policy), undefined);
  // A new acquire of a loads a fresh instance, and makes room by unloading idle b.
  const a2 = await pool.acquire('a');
  assert.notEqual(a2.policy, a.policy);
  assert.deepEqual(f.released, ['a', 'b']);
  a2.release();
  await pool.close();
  assert.deepEqual(f.released, ['a', 'b', 'a']);
});

test('ModelPool: concurrent acquires share one load; a failed load is retried by the next acquire', async () => {
  const f = fakeLoader({ a: 1 });
  const pool = new ModelPool({ loader: f.loader, budgetBytes: 100, logger: NOOP_LOGGER });
  const open = f.hold();
  const leases = Promise.all([pool.acquire('a'), pool.acquire('a'), pool.acquire('a')]);
  open();
  const [x, y, z] = await leases;
  assert.equal(x.policy, y.policy);
  assert.equal(y.policy, z.policy);
  assert.deepEqual(f.loads, ['a']);
  for (const l of [x, y, z]) l.release();
  f.failing.add('b');
  await assert.rejects(pool.acquire('b'), /cannot load b/);
  f.failing.delete('b');
  (await pool.acquire('b')).release();
  assert.deepEqual(f.loads, ['a', 'b', 'b']);
  await pool.close();
});

test('ModelPool: close waits for leases to end, then refuses acquires', async () => {
  const f = fakeLoader({ a: 1 });
  const pool = new ModelPool({ loader: f.loader, budgetBytes: 100, logger: NOOP_LOGGER });
  const lease = await pool.acquire('a');
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closed, false);
  assert.deepEqual(f.released, []);
  lease.release();
  await closing;
  assert.deepEqual(f.released, ['a']);
  await assert.rejects(pool.acquire('a'), UnavailableError);
});
