/**
 * The evaluation worker's handler for one `rest.work.eval` message: decode the first `max_sources`
 * sources of the split with the evaluation decoding (one output each), score the outputs with the
 * run's reward (references passed along), compute the asked-for corpus metrics, and publish
 * `eval.completed`.
 *
 * It writes nothing to MongoDB: the coordinator records the run_metrics point from the event, and a
 * redelivered evaluation recomputes the same outputs (GREEDY and BEAM are deterministic; SAMPLE runs
 * under a seed fixed per chunk) whose event JetStream de-duplicates by its message id.
 */
import type { WorkContext } from '@rest/bus';
import type { events } from '@rest/proto';
import type { Logger } from '@rest/service-kit';
import { corpusMetrics } from './eval-metrics.js';
import { RewardAccumulator } from './reward-stats.js';
import { candidatesBySource } from './rpc-clients.js';
import { publishEvalCompleted } from './run-events.js';
import { chunkSeed, chunks } from './seeds.js';
import { readFirstSentences } from './store-io.js';
import { parseEvalWork } from './work-messages.js';
import { runOver, scoreInBatches, throwIfStopping, type WorkerDeps } from './worker-deps.js';

/**
 * Handles one EvalWork message; resolving acks it.
 * @throws InvalidArgumentError (malformed message) and FailedPreconditionError (empty split):
 *   permanent; CancelledError when the worker is stopping, and store or RPC errors: retried.
 */
export async function handleEvalWork(
  work: events.EvalWork,
  ctx: WorkContext,
  deps: WorkerDeps,
): Promise<void> {
  const startedMs = Date.now();
  const job = parseEvalWork(work);
  const logger: Logger = ctx.logger.child({
    runId: job.runId,
    grow: job.grow,
    improve: job.improve,
    policyId: job.policyId,
    split: job.split,
  });
  const over = await runOver(deps.store, job.runId);
  if (over !== null) {
    logger.info('evaluation skipped: the run is over', { state: over });
    return;
  }
  const sentences = await readFirstSentences(deps.store, job.dataset, job.split, job.maxSources);
  const hypotheses: string[] = [];
  const parts = chunks(sentences, deps.generateBatchSources);
  for (let c = 0; c < parts.length; c++) {
    throwIfStopping(deps);
    const part = parts[c]!;
    const res = await deps.rpc.generate(
      {
        policy: { ref: { $case: 'policyId', policyId: job.policyId } },
        sources: part.map((s) => s.source),
        decoding: { ...job.decoding, seed: chunkSeed(job.seed, c) },
        requestKey: '',
      },
      deps.cancel,
    );
    for (const candidates of candidatesBySource(res, part.length, 1)) hypotheses.push(candidates[0]!.text);
    ctx.working();
  }

  const stats = new RewardAccumulator();
  const items = sentences.map((s, i) => ({
    source: s.source,
    hypothesis: hypotheses[i]!,
    reference: s.reference ?? '',
  }));
  await scoreInBatches(deps, job.reward, items, (_batch, scores) => {
    stats.add(scores);
    ctx.working();
  });

  const references = sentences.map((s) => s.reference);
  let metrics: Record<string, number> = {};
  if (references.every((r): r is string => r !== null && r.trim() !== '')) {
    metrics = corpusMetrics(job.metrics, hypotheses, references);
  } else {
    logger.warn('evaluation without reference metrics: some sources have no reference', {
      missing: references.filter((r) => r === null || r.trim() === '').length,
    });
  }
  const rewards = stats.summary();
  await publishEvalCompleted(deps.bus, {
    runId: job.runId,
    grow: job.grow,
    improve: job.improve,
    policyId: job.policyId,
    split: job.split,
    numSources: sentences.length,
    rewards,
    metrics,
  });
  logger.info('evaluation done', {
    numSources: sentences.length,
    rewardMean: rewards.mean,
    ...metrics,
    durationMs: Date.now() - startedMs,
  });
}
