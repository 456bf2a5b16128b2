/**
 * One Improve job in the service: lease → data → executor → bundle in GridFS → policy registered →
 * events, with heartbeats throughout. Transport-free: the work message arrives decoded (src/events/),
 * and events leave through an {@link ImprovePublisher}.
 *
 * Exclusivity and crashes. The job is leased in MongoDB (`improve-job:<id>`), its shards too. A
 * redelivered message whose job lease is held waits (heartbeating) until the lease is completed (the
 * other trainer finished: nothing to do) or expires (it died: take over and resume from the job's
 * latest checkpoint). Every write after training is idempotent — bundle and policy ids derive from
 * the job, events carry deterministic message ids — so a crash anywhere is repaired by a retry.
 *
 * A job stops when its run ends under it (cancelled, or failed or completed elsewhere): the run's
 * state is read at the start and with every heartbeat, and the job then ends `cancelled` at its next
 * step, its leases released and its message acknowledged.
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import type { SessionOptions } from '@rest/runtime';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  errorChain,
  type Logger,
} from '@rest/service-kit';
import {
  RUN_TRANSITIONS,
  downloadBundle,
  uploadBundle,
  type Lease,
  type PolicyDoc,
  type Store,
} from '@rest/store';
import { runImprove, type ImproveResult, type ProgressReport } from '../improve/executor.js';
import type { RewardFn } from '../improve/data.js';
import type { ImproveSpec } from '../improve/spec.js';
import { BundleCheckpointStore } from './bundle-checkpoints.js';
import type { JobDoc, JobRepo, JobProgressDoc } from './job-repo.js';
import { leaseShards, loadStoreData, type ShardLeases } from './store-data.js';

/** An Improve job as the work message describes it (decoded). */
export interface ImproveJob {
  readonly spec: ImproveSpec;
  readonly parentPolicyId: string;
  /** π_ref; the parent when the message names none. */
  readonly referencePolicyId: string;
  readonly numShards: number;
  readonly dataset: string;
  readonly validSplit: string;
  readonly reward: { readonly model: string; readonly normalization: 'raw' | 'clipped01' | 'zscore' };
}

/** Where a job's events go (NATS in the service). */
export interface ImprovePublisher {
  progress(job: JobDoc, progress: JobProgressDoc): Promise<void>;
  completed(job: JobDoc, steps: number, metrics: Readonly<Record<string, number>>): Promise<void>;
  policyPublished(policy: PolicyDoc): Promise<void>;
}

/** What a job runner needs. */
export interface JobRunnerDeps {
  readonly store: Store;
  readonly jobs: JobRepo;
  readonly publisher: ImprovePublisher;
  readonly logger: Logger;
  /** The reward of validation outputs for a run's reward spec. */
  readonly reward: (spec: ImproveJob['reward']) => RewardFn;
  /** Identity of this trainer incarnation (unique per process). */
  readonly owner: string;
  /** Aborted on shutdown: the job stops at its next heartbeat and its message comes back later. */
  readonly signal?: AbortSignal;
  readonly settings: {
    readonly workDir: string;
    readonly leaseTtlMs: number;
    readonly heartbeatMs: number;
    readonly progressEverySteps: number;
    readonly checkpointEverySteps: number;
    readonly evalBatchSize: number;
    readonly session: SessionOptions;
  };
}

/** The message-level context: the work queue's heartbeat and whether this is the last delivery. */
export interface DeliveryContext {
  working(): void;
  readonly lastDelivery: boolean;
}

/** The policy id a job registers: stable, so a retry registers the same policy. */
export function outputPolicyId(job: ImproveJob): string {
  const { runId, grow, improve, jobId } = job.spec;
  const id = runId === '' ? `job.${jobId}` : `${runId}.g${grow}.i${improve}`;
  return /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(id)
    ? id
    : `policy.${createHash('sha256').update(jobId).digest('hex').slice(0, 32)}`;
}

/** Errors a redelivery cannot fix: the job is marked failed and the message dead-lettered. */
export function isPermanent(err: unknown): boolean {
  return (
    err instanceof InvalidArgumentError ||
    err instanceof FailedPreconditionError ||
    err instanceof NotFoundError
  );
}

/** The job's run ended while the job ran; the job stops and ends `cancelled`. */
class RunEndedError extends Error {
  override name = 'RunEndedError';
}

/** Why the job's run no longer wants it (it is in a terminal state), or undefined. */
async function runEnded(store: Store, runId: string): Promise<string | undefined> {
  if (runId === '') return undefined; // offline jobs have no run
  const run = await store.runs.get(runId);
  return run !== null && RUN_TRANSITIONS[run.state].length === 0 ? `run ${runId} is ${run.state}` : undefined;
}

function resourceOf(jobId: string): string {
  return `improve-job:${jobId}`;
}

/** Waits until the job lease is ours (null: the job was completed by another trainer). */
async function acquireJob(deps: JobRunnerDeps, jobId: string, ctx: DeliveryContext): Promise<Lease | null> {
  const { leaseTtlMs } = deps.settings;
  for (;;) {
    const outcome = await deps.store.leases.tryAcquire(resourceOf(jobId), deps.owner, leaseTtlMs);
    if (outcome.kind === 'acquired') return outcome.lease;
    if (outcome.kind === 'completed') return null;
    ctx.working();
    const waitMs = outcome.kind === 'busy' ? outcome.current.expiresAt.getTime() - Date.now() : 0;
    await sleep(Math.min(Math.max(waitMs, 50), deps.settings.heartbeatMs));
  }
}

function progressDoc(state: JobDoc['state'], r: ProgressReport): JobProgressDoc {
  return {
    state,
    step: r.step,
    totalSteps: r.totalSteps,
    loss: r.loss,
    tokensPerSecond: r.tokensPerSecond,
    learningRate: r.learningRate,
    tokensSeen: r.tokensSeen,
    metrics: r.metrics,
    at: new Date(),
  };
}

function resultMetrics(r: ImproveResult): Record<string, number> {
  const m: Record<string, number> = { steps: r.steps, tokens_seen: r.tokensSeen, best_step: r.best.step };
  if (Number.isFinite(r.best.reward)) m.valid_reward_mean = r.best.reward;
  if (Number.isFinite(r.best.bleu)) m.valid_bleu = r.best.bleu;
  if (r.initial !== undefined && Number.isFinite(r.initial.reward)) m.valid_reward_initial = r.initial.reward;
  if (Number.isFinite(r.best.loss)) m.loss = r.best.loss;
  return m;
}

/** Republishes a finished job's events (de-duplicated by message id). */
async function announce(
  deps: JobRunnerDeps,
  job: JobDoc,
  steps: number,
  metrics: Record<string, number>,
): Promise<void> {
  const policy = job.outputPolicyId === null ? null : await deps.store.policies.get(job.outputPolicyId);
  if (policy !== null) await deps.publisher.policyPublished(policy);
  await deps.publisher.completed(job, steps, metrics);
}

/**
 * Runs one delivery of an Improve job to its end. Returns normally when the job succeeded (now or
 * earlier, here or elsewhere) or was cancelled because its run ended; throws otherwise — a permanent error after marking the job failed,
 * anything else for a redelivery (the job is marked failed on the last one).
 */
export async function runImproveJob(
  job: ImproveJob,
  deps: JobRunnerDeps,
  ctx: DeliveryContext,
): Promise<void> {
  const { spec } = job;
  const log = deps.logger.child({ component: 'improve-job', runId: spec.runId, jobId: spec.jobId });
  let doc = await deps.jobs.ensure({
    _id: spec.jobId,
    runId: spec.runId,
    grow: spec.grow,
    improve: spec.improve,
    objective: spec.objective.name,
    parentPolicyId: job.parentPolicyId,
  });
  if (doc.state === 'succeeded') {
    await announce(deps, doc, doc.progress?.step ?? 0, { ...doc.progress?.metrics });
    return;
  }
  let lease = await acquireJob(deps, spec.jobId, ctx);
  if (lease === null) {
    doc = (await deps.jobs.get(spec.jobId))!;
    if (doc.state === 'succeeded')
      await announce(deps, doc, doc.progress?.step ?? 0, { ...doc.progress?.metrics });
    return;
  }
  const endedAtStart = await runEnded(deps.store, spec.runId);
  if (endedAtStart !== undefined) {
    await cancelJob(deps, spec.jobId, endedAtStart);
    await deps.store.leases.complete(lease);
    log.info('job cancelled before it started', { reason: endedAtStart });
    return;
  }
  const { settings } = deps;
  const scratch = join(
    settings.workDir,
    'jobs',
    createHash('sha256').update(spec.jobId).digest('hex').slice(0, 20),
  );
  let shards: ShardLeases | undefined;
  // Heartbeats on a timer, so that long awaits (downloads, uploads, a long session run) keep the
  // message and the leases alive; ticks never overlap, and `stop` waits for the one in flight.
  let lost: unknown;
  let ended: string | undefined;
  let tick: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    tick = tick.then(async () => {
      if (lost !== undefined) return;
      ctx.working();
      try {
        lease = await deps.store.leases.renew(lease!, settings.leaseTtlMs);
        await shards?.renew(settings.leaseTtlMs);
      } catch (err) {
        lost = err;
      }
      // A failed read is no verdict: the next tick reads again.
      ended ??= await runEnded(deps.store, spec.runId).catch(() => undefined);
    });
  }, settings.heartbeatMs);
  const stopBeats = async (): Promise<void> => {
    clearInterval(timer);
    await tick;
  };
  const heartbeat = (): Promise<void> => {
    if (deps.signal?.aborted === true) return Promise.reject(new UnavailableError('trainer shutting down'));
    if (lost !== undefined) return Promise.reject(new UnavailableError('job lease lost', { cause: lost }));
    if (ended !== undefined) return Promise.reject(new RunEndedError(ended));
    return Promise.resolve();
  };
  try {
    await deps.jobs.update(spec.jobId, {
      state: 'running',
      worker: deps.owner,
      startedAt: doc.startedAt ?? new Date(),
      error: null,
    });
    const scope = { run: spec.runId, grow: spec.grow, improve: spec.improve };
    const leased = await leaseShards(
      deps.store,
      scope,
      job.numShards,
      deps.owner,
      settings.leaseTtlMs,
      2 * settings.leaseTtlMs + 30_000,
      () => heartbeat(),
    );
    shards = leased.leases;
    const data = await loadStoreData(deps.store, scope, [...shards.shards, ...leased.completed], {
      rewardModel: job.reward.model,
      referencePolicyId: job.referencePolicyId,
      dataset: job.dataset,
      validSplit: job.validSplit,
      maxValid: spec.eval.maxSources,
    });
    const policiesDir = join(settings.workDir, 'policies');
    const parent = await deps.store.policies.require(job.parentPolicyId);
    const policyDir = await downloadBundle(
      deps.store.bundles,
      parent.bundleId,
      join(policiesDir, parent.bundleId),
    );
    const reference =
      job.referencePolicyId === job.parentPolicyId
        ? parent
        : await deps.store.policies.require(job.referencePolicyId);
    const referenceDir = await downloadBundle(
      deps.store.bundles,
      reference.bundleId,
      join(policiesDir, reference.bundleId),
    );
    const checkpoints = new BundleCheckpointStore(
      deps.store.bundles,
      deps.jobs,
      spec.jobId,
      join(scratch, 'checkpoints'),
    );
    const policyId = outputPolicyId(job);
    const result = await runImprove(
      spec,
      { policyDir, referenceDir, data, reward: deps.reward(job.reward) },
      {
        checkpoints,
        outDir: join(scratch, 'bundle'),
        session: settings.session,
        progressEverySteps: settings.progressEverySteps,
        checkpointEverySteps: settings.checkpointEverySteps,
        evalBatchSize: settings.evalBatchSize,
        lineage: { policyId, parentPolicyId: job.parentPolicyId, producer: 'rest trainer' },
        heartbeat: () => heartbeat(),
        onEvent: async (e) => {
          if (e.kind === 'info') log.info(e.message);
          else if (e.kind === 'eval')
            log.info('validation', {
              step: e.point.step,
              reward: e.point.reward,
              bleu: e.point.bleu,
              best: e.best,
            });
          else if (e.kind === 'progress') {
            const p = progressDoc('running', e.report);
            await deps.jobs.update(spec.jobId, { progress: p });
            await deps.publisher.progress({ ...doc, state: 'running' }, p);
          }
        },
      },
    );
    await heartbeat();
    await uploadBundle(deps.store.bundles, policyId, result.bundleDir);
    const manifest = (await deps.store.bundles.manifest(policyId))!;
    const metrics = resultMetrics(result);
    const policy = await deps.store.policies.register({
      id: policyId,
      parentId: job.parentPolicyId,
      run: spec.runId === '' ? null : spec.runId,
      grow: spec.grow,
      improve: spec.improve,
      metrics,
      bundleId: policyId,
      files: manifest.files.map((f) => ({ name: f.name, fileId: f.fileId })),
    });
    await stopBeats();
    await heartbeat();
    await shards.complete();
    const final: JobProgressDoc = {
      state: 'succeeded',
      step: result.steps,
      totalSteps: spec.optimizer.maxSteps,
      loss: result.best.loss,
      tokensPerSecond: result.tokensPerSecond,
      learningRate: 0,
      tokensSeen: result.tokensSeen,
      metrics,
      at: new Date(),
    };
    await deps.jobs.update(spec.jobId, {
      state: 'succeeded',
      outputPolicyId: policyId,
      progress: final,
      finishedAt: new Date(),
    });
    doc = (await deps.jobs.get(spec.jobId))!;
    await deps.publisher.policyPublished(policy);
    await deps.publisher.completed(doc, result.steps, metrics);
    await deps.store.leases.complete(lease);
    await checkpoints.clear();
    log.info('job succeeded', { policyId, steps: result.steps, validReward: result.best.reward });
  } catch (err) {
    await stopBeats();
    if (err instanceof RunEndedError) {
      await cancelJob(deps, spec.jobId, err.message);
      await shards?.release();
      if (lost === undefined) await deps.store.leases.complete(lease);
      log.info('job cancelled', { reason: err.message });
      return;
    }
    const permanent = isPermanent(err);
    log.error('job attempt failed', { permanent, err: errorChain(err) });
    if (permanent || (ctx.lastDelivery && deps.signal?.aborted !== true)) {
      await deps.jobs
        .update(spec.jobId, {
          state: 'failed',
          error: err instanceof Error ? err.message : String(err),
          finishedAt: new Date(),
        })
        .catch(() => undefined);
    }
    await shards?.release();
    if (lost === undefined) await deps.store.leases.release(lease).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(timer);
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Marks the job cancelled (its run ended), naming why. */
async function cancelJob(deps: JobRunnerDeps, jobId: string, reason: string): Promise<void> {
  await deps.jobs.update(jobId, { state: 'cancelled', error: reason, finishedAt: new Date() });
}
