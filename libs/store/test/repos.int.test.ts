import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@rest/service-kit';
import { isDuplicateKeyError, type SampleInput } from '@rest/store';
import { freshStore, sameDb, startServer, stopServer } from './fixture.js';

before(async () => {
  await startServer();
});
after(async () => {
  await stopServer();
});

function candidates(fromIdx: number, toIdx: number, n: number): SampleInput[] {
  const out: SampleInput[] = [];
  for (let idx = fromIdx; idx < toIdx; idx++) {
    for (let k = 0; k < n; k++) {
      out.push({
        idx,
        k,
        source: `source ${idx}`,
        text: `candidate ${idx}.${k}`,
        tokenIds: [5, 17 + k, 2_000_000_000],
        behaviourLogProb: -1.25 - k,
        tokenLogProbs: [-0.5, -0.25, -0.5 - k],
        policyId: 'p0',
      });
    }
  }
  return out;
}

test('SampleRepo: Grow writes replayed twice with the same keys leave exactly one document each', async () => {
  const store = await freshStore();
  try {
    const batch = candidates(0, 50, 4);
    assert.deepEqual(await store.samples.insertMany('run1', 0, batch), { inserted: 200, duplicates: 0 });
    await store.samples.setRewards('run1', 0, 'bleu', [{ idx: 3, k: 1, reward: 0.75 }]);
    assert.deepEqual(await store.samples.insertMany('run1', 0, batch), { inserted: 0, duplicates: 200 });
    assert.deepEqual(await store.samples.insertMany('run1', 0, batch), { inserted: 0, duplicates: 200 });
    assert.equal(await store.samples.count('run1', 0), 200);
    const one = (await store.samples.get('run1', 0, 3, 1))!;
    assert.deepEqual(one.tokenIds, [5, 18, 2_000_000_000]);
    assert.equal(one.behaviourLogProb, -2.25);
    assert.deepEqual(one.rewards, { bleu: 0.75 }, 'a replay does not rewrite the rewards set in between');
  } finally {
    await store.close();
  }
});

test('SampleRepo: a replay that stops mid-way, then overlapping batches from two writers, converge', async () => {
  const store = await freshStore();
  const other = await sameDb(store);
  try {
    // The first attempt died after writing sources 0..19; the retry rewrites 10..39 while another
    // replica, redelivered the same work, writes 0..39 at the same time.
    await store.samples.insertMany('run2', 1, candidates(0, 20, 3));
    const [a, b] = await Promise.all([
      store.samples.insertMany('run2', 1, candidates(10, 40, 3)),
      other.samples.insertMany('run2', 1, candidates(0, 40, 3)),
    ]);
    assert.equal(a.inserted + b.inserted, 60, 'the missing 20 sources × 3 written once in all');
    assert.equal(await store.samples.count('run2', 1), 120);
    const rows = await store.samples.find('run2', 1, { fromIdx: 9, toIdx: 11 });
    assert.deepEqual(
      rows.map((r) => `${r.idx}.${r.k}`),
      ['9.0', '9.1', '9.2', '10.0', '10.1', '10.2'],
    );
    assert.equal((await store.samples.find('run2', 1, { idx: 39 })).length, 3);
  } finally {
    await other.close();
    await store.close();
  }
});

test('SampleRepo: rejects bad inputs with every field named, and rewards for unknown samples', async () => {
  const store = await freshStore();
  try {
    const bad = { ...candidates(0, 1, 1)[0]!, idx: -1, tokenIds: [1.5], behaviourLogProb: Number.NaN };
    await assert.rejects(store.samples.insertMany('run3', 0, [bad]), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /samples\[0\]\.idx/);
      assert.match(err.message, /samples\[0\]\.tokenIds/);
      assert.match(err.message, /samples\[0\]\.behaviourLogProb/);
      return true;
    });
    await assert.rejects(store.samples.setRewards('run3', 0, 'a.b', []), InvalidArgumentError);
    await assert.rejects(
      store.samples.setRewards('run3', 0, 'bleu', [{ idx: 0, k: 0, reward: 1 }]),
      NotFoundError,
    );
  } finally {
    await store.close();
  }
});

test('SampleRepo.setRewards: one call with 250 rewards writes them all (FerretDB stalls on bulk writes of 100 updates)', async () => {
  const store = await freshStore();
  try {
    const samples = candidates(0, 125, 2);
    await store.samples.insertMany('run5', 0, samples);
    const rewards = samples.map((s) => ({ idx: s.idx, k: s.k, reward: s.idx / 1000 + s.k / 10 }));
    await store.samples.setRewards('run5', 0, 'chrf', rewards);
    const stored = await store.samples.find('run5', 0);
    assert.equal(stored.length, 250);
    for (const d of stored) assert.equal(d.rewards?.['chrf'], d.idx / 1000 + d.k / 10, `${d.idx}.${d.k}`);
  } finally {
    await store.close();
  }
});

test('ShardRepo: materialises filtered shards idempotently from rewarded samples', async () => {
  const store = await freshStore();
  try {
    await store.samples.insertMany('run4', 0, candidates(0, 10, 2));
    const rewards = candidates(0, 10, 2).map((s) => ({ idx: s.idx, k: s.k, reward: (s.idx * 2 + s.k) / 20 }));
    await store.samples.setRewards('run4', 0, 'chrf', rewards);
    const scope = { run: 'run4', grow: 0, improve: 1 };
    const options = { rewardModel: 'chrf', threshold: 0.5, shardSize: 4 };
    assert.equal(await store.shards.materializeFromSamples(scope, options), 3); // 10 kept → 4 + 4 + 2
    assert.equal(await store.shards.materializeFromSamples(scope, options), 3);
    const last = (await store.shards.get(scope, 2))!;
    assert.deepEqual(
      last.examples.map((e) => [e.idx, e.k]),
      [
        [9, 0],
        [9, 1],
      ],
    );
    assert.ok(last.examples.every((e) => e.reward >= 0.5));
  } finally {
    await store.close();
  }
});

test('DatasetRepo: upserts sentences by (dataset, split, idx) and reads ranges', async () => {
  const store = await freshStore();
  try {
    const rows = Array.from({ length: 30 }, (_, idx) => ({ idx, source: `s${idx}`, reference: `r${idx}` }));
    assert.equal(await store.datasets.upsert('wmt', 'train', rows), 30);
    assert.equal(await store.datasets.upsert('wmt', 'train', rows), 0);
    await store.datasets.upsert('wmt', 'train', [{ idx: 3, source: 'fixed' }]);
    assert.equal(await store.datasets.count('wmt', 'train'), 30);
    const range = await store.datasets.list('wmt', 'train', { fromIdx: 2, toIdx: 5 });
    assert.deepEqual(
      range.map((r) => [r.idx, r.source, r.reference]),
      [
        [2, 's2', 'r2'],
        [3, 'fixed', null],
        [4, 's4', 'r4'],
      ],
    );
    assert.equal(await store.datasets.count('wmt', 'test'), 0);
    // insertNew: new rows only, existing keys untouched (a resumed import).
    const more = Array.from({ length: 40 }, (_, idx) => ({ idx, source: `n${idx}` }));
    assert.equal(await store.datasets.insertNew('wmt', 'train', more), 10);
    assert.equal(await store.datasets.count('wmt', 'train'), 40);
    const kept = await store.datasets.list('wmt', 'train', { fromIdx: 3, toIdx: 4 });
    assert.equal(kept[0]?.source, 'fixed');
    const added = await store.datasets.list('wmt', 'train', { fromIdx: 35, toIdx: 36 });
    assert.equal(added[0]?.source, 'n35');
    await assert.rejects(
      store.datasets.insertNew('wmt', 'train', [{ idx: -1, source: 'x' }]),
      /rows\[0\]\.idx/,
    );
  } finally {
    await store.close();
  }
});

test('RouteRepo: a set with a stale version fails with FailedPreconditionError; racing sets, one wins', async () => {
  const store = await freshStore();
  const other = await sameDb(store);
  try {
    const v1 = await store.routes.set('en-de', [{ policyId: 'p1', weight: 1 }], 0);
    assert.equal(v1.version, 1);
    await assert.rejects(
      store.routes.set('en-de', [{ policyId: 'p2', weight: 1 }], 0),
      FailedPreconditionError,
    );
    const v2 = await store.routes.set(
      'en-de',
      [
        { policyId: 'p1', weight: 9 },
        { policyId: 'p2', weight: 1 },
      ],
      1,
    );
    assert.equal(v2.version, 2);
    await assert.rejects(
      store.routes.set('en-de', [{ policyId: 'p3', weight: 1 }], 1),
      FailedPreconditionError,
    );
    const race = await Promise.allSettled([
      store.routes.set('en-de', [{ policyId: 'a', weight: 1 }], 2),
      other.routes.set('en-de', [{ policyId: 'b', weight: 1 }], 2),
    ]);
    assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = race.find((r) => r.status === 'rejected');
    assert.ok(lost?.status === 'rejected' && lost.reason instanceof FailedPreconditionError);
    const current = (await other.routes.get('en-de'))!;
    assert.equal(current.version, 3);
    assert.deepEqual(
      (await store.routes.list()).map((r) => [r._id, r.version]),
      [['en-de', 3]],
    );
    await assert.rejects(store.routes.set('en-de', [{ policyId: 'p', weight: 0 }], 3), InvalidArgumentError);
  } finally {
    await other.close();
    await store.close();
  }
});

test('RouteRepo: variant names and the shadow are kept per version; bad ones are refused', async () => {
  const store = await freshStore();
  try {
    const v1 = await store.routes.set(
      'de-en',
      [
        { name: 'control', policyId: 'p1', weight: 9 },
        { name: 'candidate', policyId: 'p2', weight: 1 },
      ],
      0,
      { shadow: { policyId: 'p3', sampleRate: 0.25 } },
    );
    assert.deepEqual(v1.shadow, { policyId: 'p3', sampleRate: 0.25 });
    const read = (await store.routes.get('de-en'))!;
    assert.deepEqual(
      read.variants.map((x) => [x.name, x.policyId, x.weight]),
      [
        ['control', 'p1', 9],
        ['candidate', 'p2', 1],
      ],
    );
    assert.deepEqual(read.shadow, { policyId: 'p3', sampleRate: 0.25 });
    const v2 = await store.routes.set('de-en', [{ policyId: 'p2', weight: 1 }], 1);
    assert.equal(v2.shadow, null);
    assert.equal((await store.routes.get('de-en'))!.variants[0]!.name, undefined);
    await assert.rejects(
      store.routes.set(
        'de-en',
        [
          { name: 'a', policyId: 'p1', weight: 1 },
          { name: 'a', policyId: 'p2', weight: 1 },
        ],
        2,
        { shadow: { policyId: 'p3', sampleRate: 2 } },
      ),
      (e: InvalidArgumentError) =>
        e instanceof InvalidArgumentError &&
        e.violations.map((x) => x.field).join() === 'variants[1].name,shadow.sampleRate',
    );
  } finally {
    await store.close();
  }
});

test('RunRepo: creates idempotently, transitions under a state/version guard, keeps metrics once', async () => {
  const store = await freshStore();
  const other = await sameDb(store);
  try {
    const { run, created } = await store.runs.create({ objective: 'bc' }, 'run-a');
    assert.equal(created, true);
    assert.equal(run.state, 'pending');
    assert.equal((await store.runs.create({ objective: 'bc' }, 'run-a')).created, false);
    const growing = await store.runs.transition('run-a', {
      from: 'pending',
      to: 'growing',
      expectedVersion: 1,
    });
    assert.equal(growing.version, 2);
    await assert.rejects(
      store.runs.transition('run-a', { from: 'pending', to: 'growing' }),
      FailedPreconditionError,
    );
    await assert.rejects(
      store.runs.transition('run-a', { from: 'growing', to: 'pending' }),
      InvalidArgumentError,
    );
    const race = await Promise.allSettled([
      store.runs.transition('run-a', { from: 'growing', to: 'improving', improve: 1 }),
      other.runs.transition('run-a', { from: 'growing', to: 'cancelled' }),
    ]);
    assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1, 'one of two racing transitions');
    assert.equal((await store.runs.require('run-a')).version, 3);
    await assert.rejects(store.runs.require('nope'), NotFoundError);
    await store.runs.create({}, 'run-b');
    assert.deepEqual(
      (await store.runs.list({ state: 'pending' })).map((r) => r._id),
      ['run-b'],
    );
    assert.deepEqual(
      (await store.runs.list({ afterId: 'run-a' })).map((r) => r._id),
      ['run-b'],
    );
    assert.equal(
      await store.runs.appendMetrics('run-a', { key: 'g0/i1', grow: 0, improve: 1, values: { bleu: 21.5 } }),
      true,
    );
    assert.equal(
      await store.runs.appendMetrics('run-a', { key: 'g0/i1', grow: 0, improve: 1, values: { bleu: 99 } }),
      false,
    );
    assert.deepEqual(
      (await store.runs.metrics('run-a')).map((m) => m.values),
      [{ bleu: 21.5 }],
    );
  } finally {
    await other.close();
    await store.close();
  }
});

test('PolicyRepo: registers with lineage once; a different bundle under the same id is refused', async () => {
  const store = await freshStore();
  try {
    const input = {
      id: 'pol-1',
      parentId: 'pol-0',
      run: 'run-a',
      grow: 1,
      improve: 2,
      metrics: { bleu: 30.1 },
      bundleId: 'bundle-1',
      files: [{ name: 'config.json', fileId: 'abc' }],
    };
    const first = await store.policies.register(input);
    assert.equal((await store.policies.register(input)).createdAt.getTime(), first.createdAt.getTime());
    await assert.rejects(store.policies.register({ ...input, bundleId: 'other' }), FailedPreconditionError);
    assert.equal((await store.policies.require('pol-1')).parentId, 'pol-0');
    assert.deepEqual(
      (await store.policies.list({ run: 'run-a' })).map((p) => p._id),
      ['pol-1'],
    );
    await assert.rejects(store.policies.require('pol-9'), NotFoundError);
  } finally {
    await store.close();
  }
});

test('ensureIndexes: is idempotent, and the unique indexes reject duplicate keys', async () => {
  const store = await freshStore();
  try {
    await store.ensureIndexes();
    await store.ensureIndexes();
    const insertTwice = async (name: string, doc: Record<string, unknown>): Promise<void> => {
      const coll = store.db.collection(name);
      await coll.insertOne({ ...doc });
      await assert.rejects(coll.insertOne({ ...doc }), (err) => isDuplicateKeyError(err), name);
    };
    // Documents written with other _ids still collide on the data model's keys.
    await insertTwice('datasets', { dataset: 'd', split: 'train', idx: 0 });
    await insertTwice('samples', { run: 'r', grow: 0, idx: 0, k: 0 });
    await insertTwice('shards', { run: 'r', grow: 0, improve: 0, n: 0 });
    await insertTwice('routes', { alias: 'x' });
    await insertTwice('leases', { resource: 'r', epoch: 1 });
  } finally {
    await store.close();
  }
});
