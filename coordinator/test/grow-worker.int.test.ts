/**
 * The Grow worker against real servers (see fixtures/workers-world.ts): two shards of a run give
 * exactly sources × N samples plus the references, each with a reward, and one `grow.shard.done`
 * each; a second delivery leaves the sample set as it was, and one after a partial loss restores it
 * to the same texts; a cancelled run's message is acked without a write; a shard whose sources are
 * not in the dataset is dead-lettered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEAD_LETTER_HEADERS } from '@rest/bus';
import { common, events, reward } from '@rest/proto';
import type { SampleDoc } from '@rest/store';
import { withTimeout } from '@rest/service-kit/testing';
import {
  DATASET,
  POLICY_ID,
  WAIT_MS,
  awaitRunEvents,
  createRun,
  multi30k,
  publishWork,
  startWorkersWorld,
  type WorkersWorld,
} from './fixtures/workers-world.js';

const N = 3;

function growWork(runId: string, shard: number, sources: events.GrowWork['sources']): events.GrowWork {
  return events.GrowWork.fromPartial({
    messageId: `${runId}/g1/grow/shard/${shard}`,
    runId,
    grow: 1,
    shard,
    policyId: POLICY_ID,
    dataset: DATASET,
    split: 'train',
    sources,
    samplesPerSource: N,
    decoding: {
      strategy: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE,
      temperature: 0.8,
      maxNewTokens: 10,
      seed: BigInt(1000 + shard),
    },
    reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 },
    includeReferences: true,
    createdAt: new Date(),
  });
}

const SHARD0 = { $case: 'range', range: { start: 0, end: 5 } } as const;
const SHARD1 = { $case: 'indices' as const, indices: { indices: [5, 6, 7] } };

/** The run's samples as comparable records, ordered by (idx, k). */
async function snapshot(world: WorkersWorld, runId: string): Promise<Omit<SampleDoc, 'createdAt'>[]> {
  const docs = await world.store.samples.find(runId, 1, { limit: 1000 });
  return docs.map(({ createdAt: _c, ...rest }) => rest);
}

/** Waits for the worker's log line that ends the handling of work-stream message `seq`. */
async function handled(world: WorkersWorld, seq: number, message: string): Promise<Record<string, unknown>> {
  const line = await world.logger.waitFor((l) => l.message === message && l.fields['seq'] === seq, WAIT_MS);
  return line.fields;
}

describe('grow worker (integration)', () => {
  let world: WorkersWorld;
  const runId = 'grow-a';
  const sources = 8;

  before(async () => {
    world = await startWorkersWorld({ sentences: sources });
    await createRun(world, runId);
  });

  after(async () => {
    await world?.stop();
  });

  it('grow worker: two shards give sources × N samples plus references, all rewarded, and grow.shard.done each', async () => {
    await publishWork(world, 'grow', events.GrowWork, growWork(runId, 0, SHARD0), `${runId}/g1/grow/shard/0`);
    await publishWork(world, 'grow', events.GrowWork, growWork(runId, 1, SHARD1), `${runId}/g1/grow/shard/1`);
    const done = await awaitRunEvents(world, runId, 2, (e) => e.event === 'grow.shard.done');

    const docs = await world.store.samples.find(runId, 1, { limit: 1000 });
    assert.equal(docs.length, sources * (N + 1));
    assert.equal(new Set(docs.map((d) => `${d.idx}/${d.k}`)).size, docs.length, 'no duplicate (idx, k)');
    const references = multi30k('train.en', sources);
    for (let idx = 0; idx < sources; idx++) {
      const own = docs.filter((d) => d.idx === idx);
      assert.deepEqual(
        own.map((d) => d.k),
        [0, 1, 2, 3],
        `source ${idx} has k = 0..N-1 and the reference`,
      );
      for (const d of own) {
        const r = d.rewards['chrf'];
        assert.ok(r !== undefined && r >= 0 && r <= 1, `reward of ${idx}/${d.k} in [0, 1]: ${r}`);
        assert.equal(d.tokenLogProbs?.length, d.tokenIds.length);
      }
      const ref = own.find((d) => d.k === N)!;
      assert.equal(ref.policyId, 'reference');
      assert.equal(ref.text, references[idx]);
      assert.ok(ref.tokenIds.length > 0, 'the reference is stored with its token ids');
      assert.equal(ref.rewards['chrf'], 1, 'a reference scores chrF 100 against itself');
      for (const d of own.filter((d) => d.k < N)) assert.equal(d.policyId, POLICY_ID);
    }

    const byShard = new Map(
      done.map((e) => {
        assert.equal(e.message.event?.$case, 'growShardDone');
        const d = e.message.event.$case === 'growShardDone' ? e.message.event.growShardDone : undefined;
        return [d!.shard, { record: e, done: d! }];
      }),
    );
    for (const [shard, idxs] of [
      [0, [0, 1, 2, 3, 4]],
      [1, [5, 6, 7]],
    ] as const) {
      const got = byShard.get(shard)!;
      assert.equal(got.record.msgId, `${runId}/g1/grow.shard.done/${shard}`);
      assert.equal(got.record.message.grow, 1);
      assert.equal(got.done.numSources, idxs.length);
      assert.equal(got.done.numSamples, idxs.length * (N + 1));
      assert.equal(got.done.worker, 'test-worker');
      const rewards = docs
        .filter((d) => (idxs as readonly number[]).includes(d.idx))
        .map((d) => d.rewards['chrf']!);
      const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
      assert.equal(got.done.rewards?.count, BigInt(rewards.length));
      assert.ok(Math.abs(got.done.rewards.mean - mean) < 1e-12, `shard ${shard} mean`);
      assert.equal(got.done.rewards?.max, Math.max(...rewards));
      assert.equal(got.done.rewards?.min, Math.min(...rewards));
    }
  });

  it('grow worker: a second delivery of a shard leaves its samples and rewards exactly as they were', async () => {
    const before = await snapshot(world, runId);
    const seq = await publishWork(
      world,
      'grow',
      events.GrowWork,
      growWork(runId, 0, SHARD0),
      `${runId}/g1/grow/shard/0/again`,
    );
    const fields = await handled(world, seq, 'grow shard done');
    assert.equal(fields['inserted'], 0);
    assert.equal(fields['scored'], 0);
    assert.deepEqual(await snapshot(world, runId), before);
  });

  it('grow worker: a redelivery after a partial loss regenerates the same texts and rescores what lacks a reward', async () => {
    const before = await snapshot(world, runId);
    const samples = world.store.db.collection<{ _id: string }>('samples');
    // As if the first delivery died midway: source 1 lost two samples, source 4 (a chunk of its
    // own) all of them, and source 0's rewards were never written.
    await samples.deleteMany({ _id: { $in: [`${runId}/1/1/1`, `${runId}/1/1/2`] } });
    await samples.deleteMany({ _id: { $in: [0, 1, 2, 3].map((k) => `${runId}/1/4/${k}`) } });
    for (let k = 0; k <= N; k++) {
      await samples.updateOne({ _id: `${runId}/1/0/${k}` }, { $unset: { 'rewards.chrf': '' } });
    }
    const seq = await publishWork(
      world,
      'grow',
      events.GrowWork,
      growWork(runId, 0, SHARD0),
      `${runId}/g1/grow/shard/0/after-loss`,
    );
    const fields = await handled(world, seq, 'grow shard done');
    assert.equal(fields['inserted'], 6);
    assert.equal(fields['scored'], 10);
    assert.deepEqual(await snapshot(world, runId), before);
  });

  it('grow worker: a message for a cancelled run is acked without writing', async () => {
    const cancelled = 'grow-cancelled';
    await createRun(world, cancelled);
    await world.store.runs.transition(cancelled, { from: 'pending', to: 'cancelled' });
    const seq = await publishWork(
      world,
      'grow',
      events.GrowWork,
      growWork(cancelled, 0, SHARD0),
      `${cancelled}/g1/grow/shard/0`,
    );
    const fields = await handled(world, seq, 'grow shard skipped: the run is over');
    assert.equal(fields['state'], 'cancelled');
    await world.logger.waitFor(
      (l) => l.message === 'work message done' && l.fields['queue'] === 'grow' && l.fields['seq'] === seq,
      WAIT_MS,
    );
    assert.equal(await world.store.samples.count(cancelled), 0);
  });

  it('grow worker: a shard whose sources are not in the dataset is dead-lettered, not retried', async () => {
    const seq = await publishWork(
      world,
      'grow',
      events.GrowWork,
      growWork(runId, 9, { $case: 'range', range: { start: 100, end: 102 } }),
      `${runId}/g1/grow/shard/9`,
    );
    const reader = await world.bus.readDeadLetters('grow');
    try {
      const dead = await withTimeout(
        (async () => {
          for await (const d of reader) if (d.sourceSequence === seq) return d;
          throw new Error('dead-letter reader ended');
        })(),
        WAIT_MS,
        'the dead letter',
      );
      assert.equal(dead.reason, 'rejected');
      assert.equal(dead.deliveries, 1);
      assert.match(dead.headers[DEAD_LETTER_HEADERS.error] ?? '', /lacks 2 of the 2 sources/);
    } finally {
      await reader.stop();
    }
    assert.equal((await world.store.samples.find(runId, 1, { fromIdx: 100 })).length, 0);
  });
});
