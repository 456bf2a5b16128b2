/**
 * The ReST loop end to end, every part real and in its own process (the stack `rest up` and
 * `rest demo` run): nats-server, FerretDB, reward server, policy server, trainer, coordinator and a
 * grow worker, on a toy word-for-word task with a tiny random policy. One clean run, then one run per
 * process that is SIGKILLed in the middle of it (the supervisor restarts it, as Kubernetes would).
 * Each run must complete with exactly sources × N × G samples, no duplicate, every sample scored,
 * one policy per Improve step, and no shard trained twice.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { coordinator as coord, runSpec } from '@rest/proto';
import { tinyPolicy, toyCorpus } from '@rest/trainer/testing';
import * as grpc from '@grpc/grpc-js';
import { coordinatorClient, ServerCallError } from '../src/clients.js';
import { registerPolicyFolder, startStack, type Stack } from '../src/stack/stack.js';

const SOURCES = 48;
const N = 3;
/** Grow steps of the clean run; the fault runs make one (each fault strikes inside it). */
const G = 2;
const I = 2;
const PER_SHARD = 12;
const DATASET = 'toy';

const specOf = (growSteps: number): runSpec.RunSpec =>
  runSpec.RunSpec.fromJSON({
    displayName: 'loop test',
    dataset: { name: DATASET },
    basePolicyId: 'tiny-base',
    reward: { model: 'chrf', normalization: 'NORMALIZATION_CLIPPED_01' },
    growSteps,
    improveSteps: I,
    // Every step runs, gain or not: the test counts one policy per Improve step (a tiny random
    // policy's steps need not raise the reward, which would end the loop early by default).
    thresholdSchedule: {
      percentile: { percentiles: [50, 75] },
      minExamples: 1,
      minSourceCoverage: 0,
      continueWithoutGain: true,
    },
    samplesPerSource: N,
    growDecoding: {
      strategy: 'DECODING_STRATEGY_SAMPLE',
      temperature: 1,
      maxNewTokens: 12,
      numReturnSequences: N,
    },
    objective: { bc: {} },
    optimizer: { learningRate: 0.003, batchMaxTokens: 256, maxStepsPerImprove: 6, evalEverySteps: 3 },
    eval: {
      decoding: { strategy: 'DECODING_STRATEGY_GREEDY', maxNewTokens: 12 },
      maxSources: 8,
      metrics: ['bleu', 'chrf'],
    },
    sourcesPerGrowShard: PER_SHARD,
  });

describe('ReST loop over the real services', { timeout: 900_000 }, () => {
  let dir: string;
  let stack: Stack;
  let client: ReturnType<typeof coordinatorClient>;
  const notices: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rest-loop-'));
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    const splits = { train: toyCorpus(SOURCES, 1), valid: toyCorpus(16, 2), test: toyCorpus(16, 3) };
    for (const [split, rows] of Object.entries(splits)) {
      await writeFile(join(data, `${split}.de`), rows.map((r) => r.source).join('\n') + '\n');
      await writeFile(join(data, `${split}.en`), rows.map((r) => r.reference).join('\n') + '\n');
    }
    const base = await tinyPolicy(join(dir, 'policy'), 7);
    stack = await startStack({
      workDir: join(dir, 'stack'),
      dataDir: data,
      dataset: DATASET,
      growWorkers: 1,
      policyServers: 1,
      logLevel: 'info',
      onNotice: (m) => notices.push(m),
      extraEnv: {
        coordinator: { COORD_ENGINE__LEASE_TTL_MS: '3s', COORD_ENGINE__TICK_MS: '300ms' },
        'grow-worker': { COORD_WORKERS__ACK_WAIT_MS: '3s', COORD_WORKERS__GENERATE_BATCH_SOURCES: '4' },
        trainer: {
          TRAINER_JOBS__ACK_WAIT_MS: '4s',
          TRAINER_JOBS__LEASE_TTL_MS: '4s',
          TRAINER_JOBS__HEARTBEAT_MS: '1s',
          TRAINER_JOBS__PROGRESS_EVERY_STEPS: '1',
          TRAINER_JOBS__CHECKPOINT_EVERY_STEPS: '2',
        },
      },
    });
    await registerPolicyFolder(stack.store, 'tiny-base', base);
    client = coordinatorClient(stack.addresses.coordinator);
  });

  after(async () => {
    client?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Creates a run, optionally runs `fault` once `when` holds, and waits for the run to end. */
  async function runToEnd(
    runId: string,
    growSteps: number,
    fault?: { when: (run: coord.Run) => boolean; service: string },
  ): Promise<coord.Run> {
    await client.call('createRun', { spec: specOf(growSteps), runId });
    let faulted = fault === undefined;
    const deadline = Date.now() + 300_000;
    for (;;) {
      let run: coord.Run | undefined;
      try {
        run = (await client.call('getRun', { runId })).run;
      } catch (err) {
        // The coordinator itself may be down between its SIGKILL and its restart.
        if (!(err instanceof ServerCallError) || err.code !== grpc.status.UNAVAILABLE) throw err;
        await sleep(300);
        continue;
      }
      assert.ok(run !== undefined);
      if (!faulted && fault!.when(run)) {
        stack.services.get(fault!.service)!.kill('SIGKILL');
        faulted = true;
      }
      if (run.state >= coord.RunState.RUN_STATE_COMPLETED) {
        assert.ok(faulted, 'the fault was injected before the run ended');
        return run;
      }
      assert.ok(Date.now() < deadline, `run ${runId} still ${coord.runStateToJSON(run.state)} after 300 s`);
      await sleep(200);
    }
  }

  /** What every completed run must show. */
  async function checkRun(runId: string, run: coord.Run, G: number): Promise<void> {
    assert.equal(
      run.state,
      coord.RunState.RUN_STATE_COMPLETED,
      `run ended ${coord.runStateToJSON(run.state)}: ${run.error}`,
    );
    const samples = await stack.store.db
      .collection('samples')
      .find({ run: runId }, { projection: { grow: 1, idx: 1, k: 1, rewards: 1, policyId: 1 } })
      .toArray();
    assert.equal(samples.length, SOURCES * N * G, 'sources × N × G samples');
    const keys = new Set(samples.map((s) => `${s['grow']}/${s['idx']}/${s['k']}`));
    assert.equal(keys.size, samples.length, 'no duplicate (grow, idx, k)');
    for (const s of samples) assert.equal(typeof (s['rewards'] as Record<string, number>)['chrf'], 'number');
    // Grow 2 samples from the last policy of Grow 1.
    assert.ok(samples.filter((s) => s['grow'] === 2).every((s) => s['policyId'] === `${runId}.g1.i${I}`));
    for (let g = 1; g <= G; g++) {
      for (let i = 1; i <= I; i++) {
        const policy = await stack.store.policies.get(`${runId}.g${g}.i${i}`);
        assert.ok(policy !== null, `policy of g${g}/i${i} registered`);
        const shards = await stack.store.db
          .collection('shards')
          .find({ run: runId, grow: g, improve: i })
          .toArray();
        assert.ok(shards.length > 0, `shards of g${g}/i${i}`);
        for (const shard of shards) {
          const id = String(shard['_id']);
          assert.ok(await stack.store.leases.isCompleted(`shard:${id}`), `shard ${id} completed`);
          assert.ok(shard['completedAt'] instanceof Date, `shard ${id} marked completed`);
        }
      }
    }
    const keysSeen = new Set((await stack.store.runs.metrics(runId)).map((p) => p.key));
    for (const key of [
      'g0/i0/eval',
      'g1/grow',
      'g1/i1/filter',
      'g1/i1/train',
      'g1/i1/eval',
      `g${G}/i${I}/eval`,
    ]) {
      assert.ok(keysSeen.has(key), `metrics point ${key}`);
    }
    assert.equal(run.finalPolicyId, `${runId}.g${G}.i${I}`);
  }

  test('a run completes: G Grow steps, I Improve steps each, everything recorded', async () => {
    await checkRun('clean', await runToEnd('clean', G), G);
  });

  /** Some shard of the current Grow is done, not all of them yet (Grow 1 or Grow 2). */
  const grew = (r: coord.Run): boolean =>
    r.state === coord.RunState.RUN_STATE_GROWING &&
    r.history.some((h) => h.key.startsWith(`g${r.grow}/grow/shard/`));
  const improving = (r: coord.Run): boolean => r.state === coord.RunState.RUN_STATE_IMPROVING;
  for (const [service, when] of [
    ['coordinator', grew],
    ['grow-worker-1', grew],
    ['policy-server-1', grew],
    ['trainer', improving],
  ] as const) {
    test(`SIGKILL of ${service} mid-run: the run completes, nothing lost, doubled or trained twice`, async () => {
      const runId = `kill-${service}`.replace(/[^A-Za-z0-9_-]/g, '-');
      const run = await runToEnd(runId, 1, { when, service });
      await checkRun(runId, run, 1);
      assert.ok(
        notices.some((n) => n.startsWith(`${service} restarted`)),
        `${service} was restarted`,
      );
    });
  }
});
