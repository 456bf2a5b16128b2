// The run driver's Improve loop over real NATS (JetStream) and FerretDB from @rest/testkit. No
// workers run: the test writes what they would (Grow samples, registered policies) into the store
// and hands the driver the events they would publish (`grow.shard.done`, `improve.completed`,
// `eval.completed`), then lets it advance. What is checked is ReST's stop rule: an Improve step
// whose best checkpoint does not beat its parent on validation ends the Grow's Improve loop, and the
// parent carries on; `continue_without_gain` takes the next step anyway. And the end of a run: the
// final policy is evaluated on the test split before the run completes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectBus, type Bus } from '@rest/bus';
import { events, runSpec } from '@rest/proto';
import { createMemoryLogger } from '@rest/service-kit/testing';
import { openStore, type Store } from '@rest/store';
import { startInfra, type Infra } from '@rest/testkit';
import { RunDriver, type RecordedEvent } from '../src/engine/run-driver.js';
import { stepPolicyId } from '../src/engine/plan.js';
import { toStoredSpec } from '../src/run/stored-spec.js';

const TAG = randomBytes(3).toString('hex');
const SOURCES = 12;
const N = 4;

let infra: Infra;
let store: Store;
let bus: Bus;
let driver: RunDriver;

const specOf = (continueWithoutGain: boolean): runSpec.RunSpec =>
  runSpec.RunSpec.fromPartial({
    dataset: { name: 'tiny' },
    basePolicyId: 'base',
    reward: { model: 'chrf' },
    growSteps: 1,
    improveSteps: 3,
    thresholdSchedule: {
      schedule: { $case: 'percentile', percentile: { percentiles: [25, 50, 75] } },
      minExamples: 1,
      minSourceCoverage: 0,
      continueWithoutGain,
    },
    samplesPerSource: N,
    sourcesPerGrowShard: SOURCES,
    seed: 5n,
  });

before(async () => {
  infra = await startInfra();
  store = await openStore({ uri: infra.mongoUri, dbName: `driver_it_${TAG}` });
  bus = await connectBus({ servers: infra.natsUrl, name: 'run-driver-tests' });
  await bus.ensureStreams();
  for (const split of ['train', 'valid', 'test'] as const) {
    await store.datasets.upsert(
      'tiny',
      split,
      Array.from({ length: SOURCES }, (_, idx) => ({
        idx,
        source: `${split} ${idx}`,
        reference: `ref ${idx}`,
      })),
    );
  }
  driver = new RunDriver({ store, bus, logger: createMemoryLogger('warn') });
});

after(async () => {
  await bus?.close();
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
  await infra?.stop();
});

/** Hands the driver one event of `runId` at (grow, improve), as the engine's reader would. */
async function deliver(
  runId: string,
  grow: number,
  improve: number,
  event: NonNullable<events.RunEvent['event']>,
): Promise<void> {
  const kinds = {
    growShardDone: 'grow.shard.done',
    improveCompleted: 'improve.completed',
    evalCompleted: 'eval.completed',
  } as const;
  const kind = kinds[event.$case as keyof typeof kinds];
  assert.ok(kind !== undefined, `no test delivery for ${event.$case}`);
  const e: RecordedEvent = {
    runId,
    event: kind,
    message: events.RunEvent.fromPartial({
      messageId: `${runId}/${grow}/${improve}/${kind}`,
      runId,
      grow,
      improve,
      event,
    }),
  };
  await driver.record(e);
  await driver.advance(runId);
}

const rewards = (mean: number): events.RewardStats =>
  events.RewardStats.fromPartial({ count: 4n, mean, std: 0.1, min: mean - 0.1, max: mean + 0.1 });

/** Writes Grow 1's samples and reports its shard done: the run moves to Improve step 1. */
async function growOne(runId: string): Promise<void> {
  const samples = [];
  for (let idx = 0; idx < SOURCES; idx++)
    for (let k = 0; k < N; k++)
      samples.push({
        idx,
        k,
        source: `train ${idx}`,
        text: `candidate ${idx} ${k}`,
        tokenIds: [5 + k, 6, 2],
        behaviourLogProb: -3 - k,
        policyId: 'base',
        rewards: { chrf: 0.2 + 0.15 * k + 0.01 * idx },
      });
  await store.samples.insertMany(runId, 1, samples);
  await deliver(runId, 1, 0, {
    $case: 'growShardDone',
    growShardDone: {
      shard: 0,
      numSources: SOURCES,
      numSamples: SOURCES * N,
      rewards: rewards(0.5),
      worker: 'test',
    },
  });
}

/** What a trainer does at the end of Improve step `improve`: registers its policy and reports it. */
async function trained(runId: string, improve: number, best: number, parent: number): Promise<void> {
  const policyId = stepPolicyId(runId, 1, improve);
  await store.policies.register({
    id: policyId,
    parentId: improve === 1 ? 'base' : stepPolicyId(runId, 1, improve - 1),
    run: runId,
    grow: 1,
    improve,
    metrics: { valid_reward_mean: best },
    bundleId: `bundle-${policyId}`,
    files: [],
  });
  await deliver(runId, 1, improve, {
    $case: 'improveCompleted',
    improveCompleted: {
      jobId: policyId,
      outcome: events.ImproveOutcome.IMPROVE_OUTCOME_TRAINED,
      policyId,
      steps: 30,
      metrics: { valid_reward_mean: best, valid_reward_initial: parent, steps: 30 },
    },
  });
}

async function evaluated(runId: string, improve: number, mean: number): Promise<void> {
  validOf.set(`${runId}/${stepPolicyId(runId, 1, improve)}`, mean);
  await deliver(runId, 1, improve, {
    $case: 'evalCompleted',
    evalCompleted: {
      policyId: stepPolicyId(runId, 1, improve),
      split: 'valid',
      numSources: SOURCES,
      rewards: rewards(mean),
      metrics: {},
    },
  });
}

/**
 * The run's last step: the final policy is evaluated on the test split (state `evaluating`, Improve
 * step 0), then the run completes with it.
 */
async function tested(runId: string, finalPolicy: string): Promise<void> {
  let run = await store.runs.require(runId);
  assert.deepEqual([run.state, run.grow, run.improve, run.policyId], ['evaluating', 1, 0, finalPolicy]);
  await driver.advance(runId);
  assert.equal((await store.runs.require(runId)).state, 'evaluating', 'waits for the test evaluation');
  await deliver(runId, 1, 0, {
    $case: 'evalCompleted',
    evalCompleted: {
      policyId: finalPolicy,
      split: 'test',
      numSources: SOURCES,
      rewards: rewards(0.51),
      metrics: { bleu: 20 },
    },
  });
  run = await store.runs.require(runId);
  assert.deepEqual([run.state, run.policyId], ['completed', finalPolicy]);
  const test = (await store.runs.metrics(runId)).find((p) => p.key === 'test/eval');
  assert.equal(test?.values['reward_mean'], 0.51);
  // run.completed names the final policy with its last valid figures and the test ones.
  const reader = await bus.readRunEvents(runId, events.RunEvent);
  let done: events.RunCompleted | undefined;
  for await (const e of reader) {
    if (e.message.event?.$case === 'runCompleted') {
      done = e.message.event.runCompleted;
      break;
    }
  }
  await reader.stop();
  assert.equal(done?.finalPolicyId, finalPolicy);
  assert.equal(done?.metrics['test_reward_mean'], 0.51);
  assert.equal(done?.metrics['test_bleu'], 20);
  assert.equal(
    done?.metrics['reward_mean'],
    validOf.get(`${runId}/${finalPolicy}`),
    'the final policy’s valid mean',
  );
}

/** The valid reward each test evaluation reported, by run and policy. */
const validOf = new Map<string, number>();

/** Starts a run and takes it to Improve step 1 (base evaluated, Grow 1 done). */
async function startRun(name: string, continueWithoutGain: boolean): Promise<string> {
  const runId = `run-${TAG}-${name}`;
  await store.runs.create(toStoredSpec(specOf(continueWithoutGain)), runId);
  await driver.advance(runId);
  assert.equal((await store.runs.require(runId)).state, 'growing');
  validOf.set(`${runId}/base`, 0.5);
  await deliver(runId, 0, 0, {
    $case: 'evalCompleted',
    evalCompleted: {
      policyId: 'base',
      split: 'valid',
      numSources: SOURCES,
      rewards: rewards(0.5),
      metrics: {},
    },
  });
  await growOne(runId);
  const run = await store.runs.require(runId);
  assert.deepEqual([run.state, run.grow, run.improve, run.policyId], ['improving', 1, 1, 'base']);
  return runId;
}

describe('RunDriver: the Improve loop keeps going while validation improves', { timeout: 120_000 }, () => {
  it('ends the loop at a step that does not beat its parent, and the parent carries on', async () => {
    const runId = await startRun('stop', false);
    await trained(runId, 1, 0.56, 0.5);
    let run = await store.runs.require(runId);
    assert.deepEqual([run.state, run.policyId], ['evaluating', stepPolicyId(runId, 1, 1)]);
    await evaluated(runId, 1, 0.55);
    run = await store.runs.require(runId);
    assert.deepEqual([run.state, run.improve, run.policyId], ['improving', 2, stepPolicyId(runId, 1, 1)]);

    // Step 2's best checkpoint is below its parent's validation reward in the same job.
    await trained(runId, 2, 0.55, 0.56);
    // No evaluation of the rejected policy, no Improve step 3: step 2's parent is the final policy.
    await tested(runId, stepPolicyId(runId, 1, 1));
    const keys = (await store.runs.metrics(runId)).map((p) => p.key);
    assert.ok(!keys.includes('g1/i2/eval'), 'the rejected policy was not evaluated');
    assert.ok(keys.includes('g1/i2/train'), 'the rejected step is still recorded');
    assert.ok(!keys.includes('g1/i3/filter'), 'step 3 never filtered');
  });

  it('a tie is no gain either', async () => {
    const runId = await startRun('tie', false);
    await trained(runId, 1, 0.5, 0.5);
    await tested(runId, 'base');
  });

  it('takes every step with continue_without_gain', async () => {
    const runId = await startRun('continue', true);
    await trained(runId, 1, 0.56, 0.5);
    await evaluated(runId, 1, 0.55);
    await trained(runId, 2, 0.55, 0.56);
    let run = await store.runs.require(runId);
    assert.deepEqual([run.state, run.policyId], ['evaluating', stepPolicyId(runId, 1, 2)]);
    await evaluated(runId, 2, 0.54);
    run = await store.runs.require(runId);
    assert.deepEqual([run.state, run.improve], ['improving', 3]);
    await trained(runId, 3, 0.53, 0.55);
    await evaluated(runId, 3, 0.53);
    await tested(runId, stepPolicyId(runId, 1, 3));
  });
});
