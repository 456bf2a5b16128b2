/**
 * What both workers' handlers share: their dependencies, the check that a run still wants work,
 * scoring in batches, and which failures no redelivery can fix.
 */
import { status } from '@grpc/grpc-js';
import type { Bus } from '@rest/bus';
import type { reward } from '@rest/proto';
import {
  CancelledError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
} from '@rest/service-kit';
import { RUN_TRANSITIONS, type RunState, type Store } from '@rest/store';
import type { WorkerRpc } from './rpc-clients.js';
import { chunks } from './seeds.js';
import type { RewardRef } from './work-messages.js';

/** Everything a handler needs besides its message. */
export interface WorkerDeps {
  readonly store: Store;
  readonly bus: Bus;
  readonly rpc: WorkerRpc;
  /** Identity of this worker, reported in `grow.shard.done`. */
  readonly owner: string;
  /** Sources per Generate call. */
  readonly generateBatchSources: number;
  /** Items per Score call. */
  readonly scoreBatch: number;
  /** Fires when the worker starts to stop: handlers give up at their next safe point (between calls). */
  readonly stopping: AbortSignal;
  /** Fires when the stop's grace period is over: calls in flight are cancelled. */
  readonly cancel: AbortSignal;
}

/**
 * Throws when the worker is stopping, so the message is nak'd and redelivered (to this worker's
 * successor or another one) instead of being worked on past the grace period.
 * @throws CancelledError
 */
export function throwIfStopping(deps: WorkerDeps): void {
  if (deps.stopping.aborted) throw new CancelledError('worker stopping; the message will be redelivered');
}

/**
 * Why a run no longer wants work: its terminal state, `'missing'` when no such run exists, or null
 * while it is live.
 */
export async function runOver(store: Store, runId: string): Promise<RunState | 'missing' | null> {
  const run = await store.runs.get(runId);
  if (run === null) return 'missing';
  return RUN_TRANSITIONS[run.state].length === 0 ? run.state : null;
}

/** The gRPC statuses that mean the request itself is wrong: a redelivery would get the same answer. */
const PERMANENT_STATUSES: ReadonlySet<number> = new Set([
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
]);

/**
 * Whether a handler error is final: a malformed message or missing dataset rows (our own
 * InvalidArgumentError / FailedPreconditionError), or a peer's INVALID_ARGUMENT / FAILED_PRECONDITION
 * (bad decoding parameters, a metric without references). Everything else, including NOT_FOUND
 * (a policy registered a moment ago) and RESOURCE_EXHAUSTED, is worth a later delivery.
 */
export function isPermanent(err: unknown): boolean {
  if (err instanceof InvalidArgumentError || err instanceof FailedPreconditionError) return true;
  if (err instanceof Error && 'details' in err && 'metadata' in err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' && PERMANENT_STATUSES.has(code);
  }
  return false;
}

/** One output to score. */
export interface ScoreInput {
  readonly source: string;
  readonly hypothesis: string;
  /** '' when there is none. */
  readonly reference: string;
}

/**
 * Scores `items` with `spec` in calls of at most `deps.scoreBatch` items, calling `onBatch` with
 * each call's items and scores (in order) as it completes.
 * @throws the call's ServiceError; InternalError when the server answers with the wrong number of
 *   scores or a non-finite one.
 */
export async function scoreInBatches<T extends ScoreInput>(
  deps: WorkerDeps,
  spec: RewardRef,
  items: readonly T[],
  onBatch: (items: readonly T[], scores: readonly number[]) => Promise<void> | void,
): Promise<void> {
  for (const batch of chunks(items, deps.scoreBatch)) {
    throwIfStopping(deps);
    const res: reward.ScoreResponse = await deps.rpc.score(
      {
        model: spec.model,
        normalization: spec.normalization,
        items: batch.map((it) => ({ source: it.source, hypothesis: it.hypothesis, reference: it.reference })),
      },
      deps.cancel,
    );
    if (res.scores.length !== batch.length || !res.scores.every((s) => Number.isFinite(s))) {
      throw new InternalError(
        `reward server answered ${res.scores.length} scores (finite: ${res.scores.filter(Number.isFinite).length}) for ${batch.length} items of model ${spec.model}`,
      );
    }
    await onBatch(batch, res.scores);
  }
}
