/**
 * What the trainer's integration tests share: real NATS + FerretDB (testkit), a tiny base policy
 * uploaded to GridFS and registered, a toy run seeded the way Grow and the coordinator leave it
 * (dataset, scored samples with behaviour log-probs, materialised shards), and ImproveWork messages.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, type Bus } from '@rest/bus';
import { common, events, reward } from '@rest/proto';
import { Seq2SeqModel, scoreTargets } from '@rest/runtime';
import { openStore, uploadBundle, type Store } from '@rest/store';
import { loadTokenizer } from '@rest/text';
import { startInfra, type Infra } from '@rest/testkit';
import { REFERENCE_SAMPLE_POLICY } from '../src/jobs/store-data.js';
import { tinyPolicy, toyCandidates, toyCorpus, toyValid } from '../src/testing.js';

/** Servers, store, bus and a registered tiny base policy. */
export interface Harness {
  readonly infra: Infra;
  readonly store: Store;
  readonly bus: Bus;
  readonly dbName: string;
  readonly dir: string;
  readonly policyDir: string;
  readonly basePolicyId: string;
  close(): Promise<void>;
}

/** Starts everything; `close` releases it. */
export async function openHarness(): Promise<Harness> {
  const infra = await startInfra();
  const dbName = `trainer_it_${randomBytes(4).toString('hex')}`;
  const store = await openStore({ uri: infra.mongoUri, dbName });
  const bus = await connectBus({ servers: infra.natsUrl, name: 'trainer-tests' });
  await bus.ensureStreams();
  const dir = await mkdtemp(join(tmpdir(), 'rest-trainer-it-'));
  const policyDir = await tinyPolicy(join(dir, 'policy'));
  const basePolicyId = 'toy-base';
  const manifest = await uploadBundle(store.bundles, basePolicyId, policyDir);
  await store.policies.register({
    id: basePolicyId,
    parentId: null,
    run: null,
    grow: 0,
    improve: 0,
    metrics: {},
    bundleId: basePolicyId,
    files: manifest.files.map((f) => ({ name: f.name, fileId: f.fileId })),
  });
  await store.datasets.upsert(
    'toy',
    'valid',
    toyValid(8, 3).map((v, idx) => ({ idx, source: v.source, reference: v.reference! })),
  );
  return {
    infra,
    store,
    bus,
    dbName,
    dir,
    policyDir,
    basePolicyId,
    async close() {
      await bus.close();
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
      await infra.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes Grow 1 of `runId` (N = 4 samples per source with the base policy's log-probs, plus the
 * references), scores them with chrF, and materialises the shards of Improve 1 (reward ≥ 0.5).
 */
export async function seedRun(
  h: Harness,
  runId: string,
  sources = 24,
): Promise<{ numShards: number; numExamples: number }> {
  const tok = await loadTokenizer(h.policyDir);
  const pairs = toyCorpus(sources, 5);
  const candidates = toyCandidates(pairs, 4, 7, true);
  const { model } = await Seq2SeqModel.load(h.policyDir);
  let scored;
  try {
    scored = await scoreTargets(
      model,
      candidates.map((c) => tok.encode(c.source)),
      candidates.map((c) => tok.encode(c.text)),
    );
  } finally {
    await model.release();
  }
  const samples = candidates.map((c, i) => {
    const [idx, k] = c.key.split('/');
    return {
      idx: Number(idx),
      k: k === 'ref' ? 4 : Number(k),
      source: c.source,
      text: c.text,
      tokenIds: tok.encode(c.text),
      behaviourLogProb: c.isReference ? 0 : scored[i]!.sequenceLogprob,
      tokenLogProbs: scored[i]!.tokenLogprobs,
      policyId: c.isReference ? REFERENCE_SAMPLE_POLICY : h.basePolicyId,
    };
  });
  await h.store.samples.insertMany(runId, 1, samples);
  const rewards = samples.map((s, i) => ({ idx: s.idx, k: s.k, reward: candidates[i]!.reward }));
  await h.store.samples.setRewards(runId, 1, 'chrf', rewards);
  const scope = { run: runId, grow: 1, improve: 1 };
  const numShards = await h.store.shards.materializeFromSamples(scope, {
    rewardModel: 'chrf',
    threshold: 0.5,
    shardSize: 16,
  });
  let numExamples = 0;
  for (let n = 0; n < numShards; n++) numExamples += (await h.store.shards.get(scope, n))!.examples.length;
  return { numShards, numExamples };
}

/** An ImproveWork message for Improve 1 of `runId` (bc unless `objective` says otherwise). */
export function improveWork(
  h: Harness,
  runId: string,
  seeded: { numShards: number; numExamples: number },
  o: { maxSteps: number; evalEvery: number; objective?: events.ImproveWork['objective'] },
): events.ImproveWork {
  return events.ImproveWork.fromPartial({
    messageId: `${runId}/g1/i1/improve`,
    runId,
    grow: 1,
    improve: 1,
    jobId: `${runId}-g1-i1`,
    parentPolicyId: h.basePolicyId,
    objective: o.objective ?? { objective: { $case: 'bc', bc: {} }, referencePolicyId: '' },
    optimizer: {
      learningRate: 3e-3,
      lrDecayPerImprove: 0.5,
      beta1: 0.9,
      beta2: 0.98,
      epsilon: 1e-8,
      maxGradNorm: 1,
      labelSmoothing: 0.1,
      dropout: 0,
      batchMaxTokens: 160,
      maxStepsPerImprove: o.maxSteps,
      evalEverySteps: o.evalEvery,
    },
    numShards: seeded.numShards,
    numExamples: BigInt(seeded.numExamples),
    dataset: 'toy',
    validSplit: 'valid',
    eval: {
      decoding: { strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY, maxNewTokens: 16 },
      maxSources: 8,
    },
    reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 },
    seed: 3n,
    createdAt: new Date(),
  });
}

/** The env of a trainer process against the harness (port 0, fast heartbeats, short leases). */
export function trainerEnv(h: Harness, workDir: string): Record<string, string> {
  return {
    TRAINER_GRPC__HOST: '127.0.0.1',
    TRAINER_GRPC__PORT: '0',
    TRAINER_GRPC__METRICS_PORT: '0',
    TRAINER_GRPC__DRAIN_TIMEOUT_MS: '2s',
    TRAINER_GRPC__CLOSE_TIMEOUT_MS: '1s',
    TRAINER_NATS_URL: h.infra.natsUrl,
    TRAINER_MONGO_URI: h.infra.mongoUri,
    TRAINER_MONGO_DB: h.dbName,
    TRAINER_LOG_LEVEL: 'info',
    TRAINER_JOBS__WORK_DIR: workDir,
    TRAINER_JOBS__ACK_WAIT_MS: '4s',
    TRAINER_JOBS__HEARTBEAT_MS: '500ms',
    TRAINER_JOBS__LEASE_TTL_MS: '4s',
    TRAINER_JOBS__PROGRESS_EVERY_STEPS: '5',
    TRAINER_JOBS__CHECKPOINT_EVERY_STEPS: '5',
    TRAINER_JOBS__WATCH_POLL_MS: '100ms',
    TRAINER_RUNTIME__INTRA_OP_THREADS: '1',
  };
}

/** Polls `probe` until it returns a value, or fails naming `what` after `deadlineMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  deadlineMs: number,
  what: string,
  intervalMs = 100,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
