/**
 * Grow throughput with 1 vs 2 grow workers in front of 2 policy servers: the whole local stack
 * (`rest up`'s), one ReST run per configuration whose Grow is timed from the coordinator's own record
 * (`g1/grow` → `seconds`, from the transition to growing until every shard is done and scored), then
 * the run is cancelled. Configurations alternate over `--rounds` so load drift on a shared machine
 * hits both; the ratio of the best rounds is reported.
 *
 *   node --conditions=source --import tsx bench/grow/bench.ts --policy policies/demo-base \
 *     [--sources 400] [--samples 4] [--per-shard 50] [--rounds 2] [--policy-threads 0]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSpec } from '@rest/proto';
import { coordinatorClient, registerPolicyFolder, startStack } from '@rest/cli';

const { values: a } = parseArgs({
  options: {
    policy: { type: 'string', default: 'policies/demo-base' },
    'data-dir': { type: 'string', default: resolve('..', 'shared', 'data', 'multi30k') },
    sources: { type: 'string', default: '400' },
    samples: { type: 'string', default: '4' },
    'per-shard': { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    'policy-servers': { type: 'string', default: '2' },
    /** onnxruntime intra-op threads per policy server; 0 = all cores (the servers then compete). */
    'policy-threads': { type: 'string', default: '0' },
  },
});
const SOURCES = Number(a.sources);
const N = Number(a.samples);

interface Result {
  workers: number;
  seconds: number;
  samples: number;
}

async function growOnce(workers: number, round: number): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'rest-bench-grow-'));
  const stack = await startStack({
    workDir: dir,
    dataDir: a['data-dir'],
    growWorkers: workers,
    policyServers: Number(a['policy-servers']),
    datasetLimits: { train: SOURCES },
    extraEnv: { 'policy-server': { POLICY_RUNTIME__INTRA_OP_THREADS: a['policy-threads'] } },
  });
  const client = coordinatorClient(stack.addresses.coordinator);
  try {
    await registerPolicyFolder(stack.store, 'base', a.policy);
    const spec = runSpec.RunSpec.fromJSON({
      displayName: 'bench grow',
      dataset: { name: 'multi30k', maxTrainSources: SOURCES },
      basePolicyId: 'base',
      reward: { model: 'chrf', normalization: 'NORMALIZATION_CLIPPED_01' },
      growSteps: 1,
      improveSteps: 1,
      thresholdSchedule: { percentile: { percentiles: [50] }, minExamples: 1 },
      samplesPerSource: N,
      growDecoding: { strategy: 'DECODING_STRATEGY_SAMPLE', temperature: 0.8, maxNewTokens: 64 },
      eval: { decoding: { strategy: 'DECODING_STRATEGY_GREEDY', maxNewTokens: 64 }, maxSources: 1 },
      sourcesPerGrowShard: Number(a['per-shard']),
    });
    const runId = `bench-w${workers}-r${round}`;
    await client.call('createRun', { spec, runId });
    for (;;) {
      const point = (await stack.store.runs.metrics(runId)).find((p) => p.key === 'g1/grow');
      if (point !== undefined) {
        await client.call('cancelRun', { runId, reason: 'benchmark: Grow measured' });
        return { workers, seconds: point.values['seconds']!, samples: point.values['num_samples']! };
      }
      const run = await stack.store.runs.get(runId);
      if (run?.state === 'failed') throw new Error(`run failed: ${run.error}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    client.close();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (let round = 1; round <= Number(a.rounds); round++) {
  for (const workers of round % 2 === 1 ? [1, 2] : [2, 1]) {
    const r = await growOnce(workers, round);
    results.push(r);
    console.log(
      `round ${round}: ${workers} worker(s): ${r.samples} samples in ${r.seconds.toFixed(1)} s = ` +
        `${(r.samples / r.seconds).toFixed(1)} samples/s`,
    );
  }
}
const best = (w: number): number =>
  Math.max(...results.filter((r) => r.workers === w).map((r) => r.samples / r.seconds));
console.log(
  `\nbest: 1 worker ${best(1).toFixed(1)} samples/s, 2 workers ${best(2).toFixed(1)} samples/s; ` +
    `ratio 2:1 = ${(best(2) / best(1)).toFixed(2)}× (${a['policy-servers']} policy servers with ${a['policy-threads']} intra-op threads (0 = all), ${SOURCES} sources × N=${N})`,
);
