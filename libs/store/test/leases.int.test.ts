import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FailedPreconditionError } from '@rest/service-kit';
import type { ShardInput, ShardLease, ShardScope, Store } from '@rest/store';
import { freshStore, sameDb, startServer, stopServer, waitFor } from './fixture.js';

before(async () => {
  await startServer();
});
after(async () => {
  await stopServer();
});

function shardInputs(count: number): ShardInput[] {
  return Array.from({ length: count }, (_, n) => ({
    n,
    threshold: 0.5,
    rewardModel: 'bleu',
    examples: [{ idx: n, k: 0, reward: 0.9 }],
  }));
}

test('LeaseRepo: of 16 racing clients exactly one wins each resource, and one wins its expiry', async () => {
  const store = await freshStore();
  const workers = await Promise.all(Array.from({ length: 16 }, () => sameDb(store)));
  try {
    for (let r = 0; r < 10; r++) {
      const won = await Promise.all(workers.map((w, i) => w.leases.acquire(`res-${r}`, `w${i}`, 150)));
      assert.equal(won.filter((l) => l !== null).length, 1, `res-${r}: one winner`);
    }
    const first = (await store.leases.current('res-0'))!;
    await waitFor('res-0 to expire', () => (Date.now() > first.expiresAt.getTime() ? true : undefined));
    const again = await Promise.all(workers.map((w, i) => w.leases.acquire('res-0', `again${i}`, 60000)));
    const winners = again.filter((l) => l !== null);
    assert.equal(winners.length, 1);
    assert.equal(winners[0]!.epoch, 2);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await store.close();
  }
});

test('LeaseRepo: renew keeps a lease, release frees it at once, complete ends it for good', async () => {
  const store = await freshStore();
  try {
    const { leases } = store;
    const a = (await leases.acquire('job', 'alice', 60000))!;
    assert.equal(a.epoch, 1);
    assert.equal(await leases.acquire('job', 'bob', 60000), null);
    const renewed = await leases.renew(a, 60000);
    assert.equal(renewed.epoch, 2);
    await leases.release(renewed);
    const b = (await leases.acquire('job', 'bob', 60000))!;
    assert.equal(b.owner, 'bob');
    assert.equal(b.epoch, 4);
    await assert.rejects(
      leases.renew(renewed, 60000),
      FailedPreconditionError,
      'a deposed holder cannot renew',
    );
    await assert.rejects(leases.complete(renewed), FailedPreconditionError);
    await leases.complete(b);
    await leases.complete(b); // a replay after a lost reply is a success
    assert.equal(await leases.acquire('job', 'carol', 1), null);
    assert.equal(await leases.isCompleted('job'), true);
  } finally {
    await store.close();
  }
});

test('ShardRepo: 16 concurrent workers lease 200 shards, each exactly once, none after completion', async () => {
  const store = await freshStore();
  const scope: ShardScope = { run: 'race', grow: 0, improve: 1 };
  assert.deepEqual(await store.shards.put(scope, shardInputs(200)), { inserted: 200, duplicates: 0 });
  const workers = await Promise.all(Array.from({ length: 16 }, () => sameDb(store)));
  const acquisitions = new Map<number, number>();
  const holding = new Set<number>();
  const perWorker: number[] = [];
  const deadline = Date.now() + 45000;
  try {
    await Promise.all(
      workers.map(async (w, i) => {
        let mine = 0;
        for (;;) {
          assert.ok(Date.now() < deadline, 'workers finish before the deadline');
          const held = await w.shards.leaseNext(scope, `worker-${i}`, 60000);
          if (held === null) break; // nothing free: the rest is held by live workers that finish it
          const n = held.shard.n;
          assert.equal(holding.has(n), false, `shard ${n} is held by one worker at a time`);
          holding.add(n);
          acquisitions.set(n, (acquisitions.get(n) ?? 0) + 1);
          mine++;
          // A round trip while holding (so holders overlap in time): the log names this worker.
          const current = await w.leases.current(held.lease.resource, held.lease.epoch);
          assert.equal(current?.owner, `worker-${i}`);
          assert.equal(current?.epoch, held.lease.epoch);
          holding.delete(n);
          await w.shards.complete(held);
        }
        perWorker.push(mine);
      }),
    );
    assert.equal(await store.shards.allCompleted(scope), true);
    assert.equal(acquisitions.size, 200);
    assert.ok(
      [...acquisitions.values()].every((c) => c === 1),
      'every shard acquired exactly once',
    );
    assert.ok(perWorker.filter((c) => c > 0).length > 1, `work spread over workers: ${perWorker.join(',')}`);
    const held = await store.db.collection('leases').countDocuments({ state: 'held' });
    assert.equal(held, 200, 'the lease log holds one acquisition per shard');
    // Completed shards are never leased again, by anyone.
    const retry = await Promise.all(workers.map((w, i) => w.shards.leaseNext(scope, `late-${i}`, 60000)));
    assert.ok(retry.every((r) => r === null));
    assert.equal(await store.leases.acquire('shard:race/0/1/7', 'late', 60000), null);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await store.close();
  }
});

test('ShardRepo: a worker that stops mid-shard loses its lease to another after expiry', async () => {
  const store = await freshStore();
  const other: Store = await sameDb(store);
  const scope: ShardScope = { run: 'crash', grow: 2, improve: 3 };
  try {
    await store.shards.put(scope, shardInputs(1));
    const stalled = (await store.shards.leaseNext(scope, 'stalled', 200))!;
    assert.equal(await other.shards.leaseNext(scope, 'rescuer', 60000), null, 'held until it expires');
    const rescued: ShardLease = await waitFor('the stalled lease to be re-leased', async () => {
      return (await other.shards.leaseNext(scope, 'rescuer', 60000)) ?? undefined;
    });
    assert.equal(rescued.shard.n, 0);
    assert.equal(rescued.lease.epoch, 2);
    assert.ok(Date.now() >= stalled.lease.expiresAt.getTime());
    await assert.rejects(store.shards.renew(stalled, 60000), FailedPreconditionError);
    await assert.rejects(store.shards.complete(stalled), FailedPreconditionError);
    await other.shards.complete(rescued);
    assert.equal(await store.shards.allCompleted(scope), true);
    assert.equal(await store.shards.leaseNext(scope, 'stalled', 60000), null);
  } finally {
    await other.close();
    await store.close();
  }
});

test('ShardRepo: a renewed lease is not taken over; a released one is taken at once', async () => {
  const store = await freshStore();
  const other = await sameDb(store);
  const scope: ShardScope = { run: 'renew', grow: 0, improve: 0 };
  try {
    await store.shards.put(scope, shardInputs(1));
    let held = (await store.shards.leaseNext(scope, 'holder', 300))!;
    const firstExpiry = held.lease.expiresAt.getTime();
    held = await store.shards.renew(held, 60000);
    await waitFor('the first term to pass', () => (Date.now() > firstExpiry ? true : undefined));
    assert.equal(await other.shards.leaseNext(scope, 'thief', 60000), null);
    await store.shards.release(held);
    const taken = (await other.shards.leaseNext(scope, 'next', 60000))!;
    assert.equal(taken.lease.owner, 'next');
    await other.shards.complete(taken);
  } finally {
    await other.close();
    await store.close();
  }
});
