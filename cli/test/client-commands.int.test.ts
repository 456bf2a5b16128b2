// The client commands as a user runs them (the real CLI from source, in a child process) against real
// servers: CoordinatorService alone on 127.0.0.1:0 over NATS (JetStream) and FerretDB from
// @rest/testkit, a policy server serving a tiny random-weight bundle from a folder, and a reward
// server with its metrics. Addresses reach the CLI through REST_COORDINATOR / REST_POLICY_SERVER /
// REST_REWARD_SERVER. No engine runs: the tests publish run events and write metrics themselves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connectBus, runEventSubject, type Bus, type RunEvent } from '@rest/bus';
import { coordinatorService } from '@rest/coordinator';
import { loadConfig as loadPolicyConfig, startPolicyServer, type PolicyServer } from '@rest/policy-server';
import { coordinator, events, policy, reward, runSpec } from '@rest/proto';
import { loadConfig as loadRewardConfig, startRewardServer, type RewardServer } from '@rest/reward-server';
import { ParamTable, transformerParams, writePolicyBundle } from '@rest/runtime';
import { startGrpcServer, type RunningGrpcServer } from '@rest/service-kit';
import { createMemoryLogger } from '@rest/service-kit/testing';
import { openStore, type Store } from '@rest/store';
import { startInfra, type Infra } from '@rest/testkit';
import { trainBpe, writeTokenizerFiles } from '@rest/text';
import { defaultDataDir } from '../src/paths.js';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'demo.yaml');
const TAG = randomBytes(3).toString('hex');
const WAIT_MS = 20_000;

let infra: Infra;
let store: Store;
let bus: Bus;
let coordinatorServer: RunningGrpcServer;
let policyServer: PolicyServer;
let rewardServer: RewardServer;
let dir = '';
let env: Record<string, string> = {};

/** Runs `rest <args>` to completion with the servers' addresses in its environment. */
async function rest(
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  if (stdin !== undefined) child.stdin?.end(stdin);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

async function lines(file: string, n: number): Promise<string[]> {
  return (await readFile(join(defaultDataDir(), file), 'utf8')).split('\n').slice(0, n);
}

/** Calls a generated client's unary method. */
function unary<Res>(
  start: (cb: (error: grpc.ServiceError | null, response: Res) => void) => void,
): Promise<Res> {
  return new Promise((resolve, reject) => start((e, r) => (e === null ? resolve(r) : reject(e))));
}

async function publish(
  runId: string,
  name: RunEvent,
  grow: number,
  improve: number,
  event: events.RunEvent['event'],
) {
  const messageId = `${runId}/g${grow}/i${improve}/${name}`;
  await bus.publishEvent(
    runEventSubject(runId, name),
    events.RunEvent,
    { messageId, runId, grow, improve, at: new Date(), event },
    { msgId: messageId },
  );
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-client-cli-'));
  infra = await startInfra();
  const dbName = `cli_clients_${TAG}`;
  store = await openStore({ uri: infra.mongoUri, dbName });
  bus = await connectBus({ servers: infra.natsUrl, name: 'cli-client-tests' });
  await bus.ensureStreams();
  for (const split of ['train', 'valid', 'test'] as const) {
    await store.datasets.upsert(
      'multi30k',
      split,
      [0, 1, 2].map((idx) => ({ idx, source: `${split} ${idx}`, reference: `ref ${idx}` })),
    );
  }
  coordinatorServer = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [coordinatorService({ store, bus, logger: createMemoryLogger('warn') })],
    maxReceiveMessageBytes: 4 << 20,
    maxSendMessageBytes: 4 << 20,
    drainTimeoutMs: 2000,
    logger: createMemoryLogger('warn'),
  });

  const tokDir = join(dir, 'tokenizer');
  await writeTokenizerFiles(
    tokDir,
    trainBpe([...(await lines('train.de', 300)), ...(await lines('train.en', 300))], { vocabSize: 600 }),
  );
  const config = { vocabSize: 600, dModel: 16, heads: 2, ffnDim: 32, encoderLayers: 1, decoderLayers: 1 };
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), 7);
  for (let i = 0; i < params.length; i++) params[i] = params[i]! * 3;
  const bundle = await writePolicyBundle(join(dir, 'tiny'), {
    config,
    params,
    tokenizerDir: tokDir,
    lineage: { policyId: 'tiny', producer: 'cli client tests' },
    generation: { maxLength: 12, numBeams: 2 },
  });
  policyServer = await startPolicyServer({
    config: loadPolicyConfig({
      env: {
        POLICY_GRPC__HOST: '127.0.0.1',
        POLICY_GRPC__PORT: '0',
        POLICY_GRPC__METRICS_PORT: '0',
        POLICY_GRPC__DRAIN_TIMEOUT_MS: '5s',
        POLICY_RUNTIME__INTRA_OP_THREADS: '1',
        POLICY_LOG_LEVEL: 'warn',
        POLICY_NATS_URL: infra.natsUrl,
        POLICY_MONGO_URI: infra.mongoUri,
        POLICY_MONGO_DB: dbName,
        POLICY_POLICIES__DIRS: JSON.stringify([bundle]),
        POLICY_POLICIES__CACHE_DIR: join(dir, 'cache'),
      },
    }),
    logger: createMemoryLogger('warn'),
  });
  rewardServer = await startRewardServer({
    config: loadRewardConfig({
      env: {
        REWARD_GRPC__HOST: '127.0.0.1',
        REWARD_GRPC__PORT: '0',
        REWARD_GRPC__METRICS_PORT: '0',
        REWARD_GRPC__DRAIN_TIMEOUT_MS: '5s',
        REWARD_LOG_LEVEL: 'warn',
      },
    }),
    logger: createMemoryLogger('warn'),
  });
  env = {
    REST_COORDINATOR: `127.0.0.1:${coordinatorServer.port}`,
    REST_POLICY_SERVER: `127.0.0.1:${policyServer.port}`,
    REST_REWARD_SERVER: `127.0.0.1:${rewardServer.port}`,
  };
});

after(async () => {
  await coordinatorServer?.shutdown('tests done');
  await policyServer?.shutdown('tests done');
  await rewardServer?.shutdown('tests done');
  await bus?.close();
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
  await infra?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('client commands', () => {
  it('rest run: a key that is not a RunSpec field fails, naming it', async () => {
    const file = join(dir, 'typo.yaml');
    const example = await readFile(EXAMPLE, 'utf8');
    await writeFile(file, example.replace('maxTrainSources:', 'maxTrainSource:'));
    const { code, stdout, stderr } = await rest(['run', file]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /typo\.yaml: unknown key dataset\.maxTrainSource \(/);
  });

  it('rest run + rest status: create from the example spec, list it, show its metrics', async () => {
    const runId = `cli-${TAG}-status`;
    const created = await rest(['run', EXAMPLE, '--id', runId]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, `${runId}\n`);
    const replay = await rest(['run', EXAMPLE, '--id', runId]);
    assert.equal(replay.code, 0, replay.stderr);

    await store.runs.appendMetrics(runId, {
      key: 'g0/i0/eval',
      grow: 0,
      improve: 0,
      values: { reward_mean: 0.412, reward_std: 0.1, num_sources: 200, bleu: 21.5, chrf: 45.25 },
    });
    await store.runs.appendMetrics(runId, {
      key: 'g1/grow',
      grow: 1,
      improve: 0,
      values: { num_samples: 4000, reward_mean: 0.39 },
    });
    await store.runs.appendMetrics(runId, {
      key: 'g1/i1/eval',
      grow: 1,
      improve: 1,
      values: { reward_mean: 0.455, reward_std: 0.09, num_sources: 200, bleu: 23, chrf: 47 },
    });
    await store.runs.transition(runId, { from: 'pending', to: 'growing', grow: 1 });

    const list = await rest(['status']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^RUN +STATE +GROW +IMPROVE +POLICY +UPDATED\n/);
    assert.match(list.stdout, new RegExp(`\\n${runId} +growing +1/1 +0/3 +demo-base +\\d{4}-`));

    const one = await rest(['status', runId]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^run +${runId} \\(demo`));
    assert.match(one.stdout, /\nstate +growing · grow 1\/1 · improve 0\/3/);
    assert.match(one.stdout, /\nschedule +G 1 · I 3 · N 4 · fixed τ 0.4, 0.55, 0.7\n/);
    assert.match(one.stdout, /\ng1\/grow +num_samples 4000 · reward_mean 0\.39\n/);
    assert.match(one.stdout, /\nEVAL +REWARD +BLEU +CHRF +SOURCES\n/);
    assert.match(one.stdout, /\ng0\/i0 +0\.412 ± 0\.100 +21\.50 +45\.25 +200\n/);
    assert.match(one.stdout, /\ng1\/i1 +0\.455 ± 0\.090 +23 +47 +200\n?/);

    const other = join(dir, 'other.yaml');
    await writeFile(
      other,
      (await readFile(EXAMPLE, 'utf8')).replace('samplesPerSource: 4', 'samplesPerSource: 8'),
    );
    const clash = await rest(['run', other, '--id', runId]);
    assert.equal(clash.code, 1);
    assert.match(
      clash.stderr,
      new RegExp(`ALREADY_EXISTS: run ${runId} already exists with a different spec`),
    );
  });

  it('rest watch: exit 0 after run.completed, 1 after run.failed with the reason', async () => {
    const good = `cli-${TAG}-good`;
    const bad = `cli-${TAG}-bad`;
    const spec = runSpec.RunSpec.fromPartial({
      dataset: { name: 'multi30k' },
      basePolicyId: 'pretrained',
      reward: { model: 'chrf' },
      growSteps: 1,
      improveSteps: 1,
      thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.5] } } },
      samplesPerSource: 2,
    });
    const client = new coordinator.CoordinatorServiceClient(
      env['REST_COORDINATOR']!,
      grpc.credentials.createInsecure(),
    );
    for (const runId of [good, bad]) {
      await unary<coordinator.CreateRunResponse>((cb) =>
        client.createRun({ runId, spec }, new grpc.Metadata(), { deadline: Date.now() + WAIT_MS }, cb),
      );
      await publish(runId, 'grow.started', 1, 0, {
        $case: 'growStarted',
        growStarted: { policyId: 'pretrained', numShards: 2, numSources: 3 },
      });
    }
    client.close();
    await publish(good, 'grow.shard.done', 1, 0, {
      $case: 'growShardDone',
      growShardDone: { shard: 0, numSources: 2, numSamples: 8, rewards: undefined, worker: 'w1' },
    });
    await publish(good, 'improve.progress', 1, 1, {
      $case: 'improveProgress',
      improveProgress: {
        progress: {
          jobId: 'j',
          state: 2,
          step: 50,
          totalSteps: 300,
          loss: 2.5,
          tokensPerSecond: 900,
          learningRate: 1e-4,
          tokensSeen: 1000n,
          metrics: {},
          at: new Date(),
        },
      },
    });
    await publish(good, 'eval.completed', 1, 1, {
      $case: 'evalCompleted',
      evalCompleted: {
        policyId: `${good}.g1.i1`,
        split: 'valid',
        numSources: 3,
        rewards: { count: 3n, mean: 0.5, std: 0.1, min: 0.4, max: 0.6 },
        metrics: { bleu: 20 },
      },
    });
    await publish(good, 'run.completed', 1, 1, {
      $case: 'runCompleted',
      runCompleted: { finalPolicyId: `${good}.g1.i1`, metrics: {} },
    });
    await publish(bad, 'run.failed', 1, 0, {
      $case: 'runFailed',
      runFailed: {
        reason: events.RunFailureReason.RUN_FAILURE_REASON_ERROR,
        message: 'grow shard 3 dead-lettered',
      },
    });

    const ok = await rest(['watch', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.stdout.trimEnd().split('\n'), [
      'grow 1: 2 shards, 3 sources, sampling from pretrained',
      'grow 1: shard 0 done · 8 samples · reward –',
      'improve 1.1: step 50/300 · loss 2.5000 · 900 tok/s · lr 1.00e-4',
      `eval g1/i1 valid: ${good}.g1.i1 · 3 sources · reward 0.500 ± 0.100 · bleu 20`,
      `run completed: final policy ${good}.g1.i1`,
    ]);
    const failed = await rest(['watch', bad]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /\nrun failed \(error\): grow shard 3 dead-lettered\n$/);

    // run --watch: the final event may be in the log before the run is created; the watch replays it.
    const watched = `cli-${TAG}-watched`;
    await publish(watched, 'run.failed', 0, 0, {
      $case: 'runFailed',
      runFailed: {
        reason: events.RunFailureReason.RUN_FAILURE_REASON_CANCELLED,
        message: 'stopped by a test',
      },
    });
    const both = await rest(['run', EXAMPLE, '--id', watched, '--watch']);
    assert.equal(both.code, 1);
    assert.equal(both.stdout, `${watched}\nrun failed (cancelled): stopped by a test\n`);
  });

  it('rest translate: one translation per line, as Translate answers; --json with servedBy', async () => {
    const client = new policy.PolicyServiceClient(
      env['REST_POLICY_SERVER']!,
      grpc.credentials.createInsecure(),
    );
    const sources = ['Ein Mann fährt Fahrrad.', 'Zwei Hunde spielen im Schnee.'];
    const expected = await unary<policy.TranslateResponse>((cb) =>
      client.translate(
        {
          policy: { ref: { $case: 'policyId', policyId: 'tiny' } },
          sources,
          requestKey: '',
          decoding: undefined,
        },
        new grpc.Metadata(),
        { deadline: Date.now() + WAIT_MS },
        cb,
      ),
    );
    client.close();
    const args = await rest(['translate', '--policy', 'tiny', ...sources]);
    assert.equal(args.code, 0, args.stderr);
    assert.equal(args.stdout, expected.translations.map((t) => `${t.text}\n`).join(''));
    const piped = await rest(['translate', '--policy', 'tiny', '--json'], `${sources[0]}\n\n${sources[1]}\n`);
    assert.equal(piped.code, 0, piped.stderr);
    const rows = piped.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1], { source: '', text: '' });
    assert.equal(rows[0]!['text'], expected.translations[0]!.text);
    assert.equal(rows[2]!['text'], expected.translations[1]!.text);
    assert.deepEqual(rows[2]!['servedBy'], { policyId: 'tiny' });
    assert.equal(typeof rows[0]!['sequenceLogprob'], 'number');
  });

  it('rest score: one score per line from flags or a TSV, as Score answers; a bad TSV names its line', async () => {
    const items = [
      { source: 'Ein Hund läuft.', hypothesis: 'A dog runs.', reference: 'A dog is running.' },
      { source: 'Zwei Kinder.', hypothesis: 'Two kids.', reference: 'Two children.' },
    ];
    const client = new reward.RewardServiceClient(
      env['REST_REWARD_SERVER']!,
      grpc.credentials.createInsecure(),
    );
    const expected = await unary<reward.ScoreResponse>((cb) =>
      client.score(
        { model: 'chrf', items, normalization: reward.Normalization.NORMALIZATION_RAW },
        new grpc.Metadata(),
        { deadline: Date.now() + WAIT_MS },
        cb,
      ),
    );
    client.close();
    const one = await rest([
      'score',
      '--model',
      'chrf',
      '--source',
      items[0]!.source,
      '--hyp',
      items[0]!.hypothesis,
      '--ref',
      items[0]!.reference,
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `${expected.scores[0]!.toFixed(4)}\n`);
    const tsv = await rest(
      ['score', '--model', 'chrf'],
      items.map((i) => `${i.source}\t${i.hypothesis}\t${i.reference}\n`).join(''),
    );
    assert.equal(tsv.code, 0, tsv.stderr);
    assert.equal(tsv.stdout, expected.scores.map((s) => `${s.toFixed(4)}\n`).join(''));
    const broken = await rest(['score', '--model', 'chrf'], 'only one column\n');
    assert.equal(broken.code, 1);
    assert.match(
      broken.stderr,
      /stdin line 1: expected source<TAB>hypothesis\[<TAB>reference\], got 1 column/,
    );
  });

  it('an unreachable server is named with its address and how to set it', async () => {
    const { code, stderr } = await rest(['status', '--coordinator', '127.0.0.1:1']);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /cannot reach the coordinator at 127\.0\.0\.1:1 \(from --coordinator; pass --coordinator <host:port> or set REST_COORDINATOR\)/,
    );
  });
});
