/**
 * rest.v1.CoordinatorService: CreateRun, GetRun, ListRuns, CancelRun and WatchRun over the `runs`
 * collection and the run-event stream. Any replica answers any call: nothing here holds run state in
 * memory, and none of it advances a run (the state machine in `src/engine/` does, on events).
 *
 * - CreateRun stores the spec as proto3 JSON with the seed drawn in (`toStoredSpec`). A replay with
 *   the caller's run id compares specs with the stored seed filled in when the request has none, so
 *   retrying the same request is a no-op while a different spec under that id is ALREADY_EXISTS.
 * - CancelRun moves the run to `cancelled` with a version guard, re-reading after a lost race, and
 *   then publishes run.failed (CANCELLED) under the Nats-Msg-Id `<run>/run.failed`. A call on a run
 *   that is already cancelled publishes it again: if the first call died between the two writes, the
 *   retry completes it, and within the stream's duplicate window JetStream drops the copy.
 * - WatchRun replays the run's stream from its first event, drops those at or before
 *   `after_sequence`, and follows live until run.completed or run.failed. When the store says the run
 *   is over but no final event arrives (the log aged out, or a cancel died before publishing), the
 *   stream ends after two quiet checks instead of hanging; clients then read the run with GetRun.
 */
import { status } from '@grpc/grpc-js';
import { runEventSubject, type Bus } from '@rest/bus';
import { coordinator, events, runSpec } from '@rest/proto';
import {
  FailedPreconditionError,
  NotFoundError,
  ServiceError,
  serverStream,
  unary,
  Violations,
  type GrpcServiceBinding,
  type Logger,
} from '@rest/service-kit';
import { SPLITS, type RunDoc, type Split, type Store } from '@rest/store';
import type { RunSpec } from '../run/spec.js';
import { toStoredSpec, wireSpecOf, type StoredRunSpec } from '../run/stored-spec.js';
import { readRunSpec } from './run-spec.js';
import {
  checkRunId,
  decodePageToken,
  domainRunState,
  encodePageToken,
  isAfter,
  newestFirst,
  TERMINAL_STATES,
  wireRun,
} from './run-wire.js';

/** A run id is taken with a different spec (gRPC ALREADY_EXISTS). */
export class AlreadyExistsError extends ServiceError {
  readonly code = status.ALREADY_EXISTS;
}

/** What the service reads and writes. */
export interface CoordinatorServiceDeps {
  readonly store: Pick<Store, 'runs' | 'datasets'>;
  readonly bus: Pick<Bus, 'readRunEvents' | 'publishEvent'>;
  readonly logger: Logger;
  /** Clock of the events it publishes. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * How often a quiet WatchRun re-reads its run to notice that it ended without a final event, in
   * ms. @default 5000
   */
  readonly watchCheckMs?: number;
}

/** ListRuns page size when the request leaves it 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest ListRuns page. */
export const MAX_PAGE_SIZE = 500;
/** Longest CancelRequest.reason kept, in UTF-16 code units. */
export const MAX_CANCEL_REASON = 1000;
/** Cancel attempts against concurrent transitions before FAILED_PRECONDITION goes to the caller. */
const CANCEL_ATTEMPTS = 5;
/** Runs read per store query while ListRuns collects them. */
const LIST_BATCH = 500;

async function requireRun(store: Pick<Store, 'runs'>, runId: string): Promise<RunDoc> {
  const run = await store.runs.get(runId);
  if (run === null) throw new NotFoundError(`run ${runId} not found`);
  return run;
}

/** JSON with object keys sorted, so equal messages compare equal whatever their map order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** True when `requested` is the spec stored as `stored` (the stored seed stands in for a missing one). */
function sameSpec(stored: StoredRunSpec, requested: runSpec.RunSpec): boolean {
  const existing = wireSpecOf(stored);
  const candidate: runSpec.RunSpec = { ...requested, seed: requested.seed ?? existing.seed };
  return canonical(runSpec.RunSpec.toJSON(candidate)) === canonical(runSpec.RunSpec.toJSON(existing));
}

/**
 * @throws InvalidArgumentError when a split is not one the datasets collection has
 * @throws NotFoundError when the dataset has no sentence in one of the run's splits
 */
async function checkDataset(store: Pick<Store, 'datasets'>, spec: RunSpec['dataset']): Promise<void> {
  const roles = [
    ['train_split', spec.trainSplit],
    ['valid_split', spec.validSplit],
    ['test_split', spec.testSplit],
  ] as const;
  const v = new Violations();
  for (const [field, split] of roles) v.oneOf(`CreateRunRequest.spec.dataset.${field}`, split, SPLITS);
  v.throwIfAny();
  const counts = await Promise.all(roles.map(([, split]) => store.datasets.count(spec.name, split as Split)));
  const empty = roles.filter((_, i) => counts[i] === 0).map(([, split]) => split);
  if (empty.length > 0) {
    throw new NotFoundError(
      `dataset "${spec.name}" has no sentences in split ${empty.join(', ')} (import the dataset first)`,
    );
  }
}

/** The CoordinatorService binding for `startGrpcServer`. */
export function coordinatorService(deps: CoordinatorServiceDeps): GrpcServiceBinding {
  const { store, bus, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const watchCheckMs = deps.watchCheckMs ?? 5000;

  const withHistory = async (run: RunDoc): Promise<coordinator.Run> =>
    wireRun(run, await store.runs.metrics(run._id));

  /** Publishes the run.failed (CANCELLED) event of a cancelled run; a replay is de-duplicated. */
  const publishCancelled = async (run: RunDoc): Promise<void> => {
    const messageId = `${run._id}/run.failed`;
    const event: events.RunEvent = {
      messageId,
      runId: run._id,
      grow: run.grow,
      improve: run.improve,
      at: now(),
      event: {
        $case: 'runFailed',
        runFailed: {
          reason: events.RunFailureReason.RUN_FAILURE_REASON_CANCELLED,
          message: run.error ?? 'cancelled',
        },
      },
    };
    await bus.publishEvent(runEventSubject(run._id, 'run.failed'), events.RunEvent, event, {
      msgId: messageId,
    });
  };

  return {
    definition: coordinator.CoordinatorServiceService,
    implementation: {
      createRun: unary<coordinator.CreateRunRequest, coordinator.CreateRunResponse>(async (req, ctx) => {
        const v = new Violations();
        const runId = req.runId === '' ? undefined : checkRunId(v, 'CreateRunRequest.run_id', req.runId);
        const spec = readRunSpec(v, 'CreateRunRequest.spec', req.spec);
        v.throwIfAny();
        const wireSpec = req.spec as runSpec.RunSpec;
        await checkDataset(store, spec.dataset);
        const { run, created } = await store.runs.create(toStoredSpec(wireSpec), runId);
        if (!created && !sameSpec(run.spec, wireSpec)) {
          throw new AlreadyExistsError(`run ${run._id} already exists with a different spec`);
        }
        ctx.logger.info(created ? 'run created' : 'run create replayed', { runId: run._id });
        return { run: await withHistory(run) };
      }),

      getRun: unary<coordinator.GetRunRequest, coordinator.GetRunResponse>(async (req) => {
        const v = new Violations();
        checkRunId(v, 'GetRunRequest.run_id', req.runId);
        v.throwIfAny();
        return { run: await withHistory(await requireRun(store, req.runId)) };
      }),

      listRuns: unary<coordinator.ListRunsRequest, coordinator.ListRunsResponse>(async (req) => {
        const v = new Violations();
        const state = domainRunState(req.state);
        if (req.state !== coordinator.RunState.RUN_STATE_UNSPECIFIED && state === undefined)
          v.add('ListRunsRequest.state', `unknown state ${req.state}`);
        v.integer('ListRunsRequest.page_size', req.pageSize, 0, MAX_PAGE_SIZE);
        const cursor = req.pageToken === '' ? undefined : decodePageToken(req.pageToken);
        if (req.pageToken !== '' && cursor === undefined)
          v.add('ListRunsRequest.page_token', 'is not a next_page_token of ListRuns');
        v.throwIfAny();
        // The store pages by ascending id, and caller-chosen ids do not sort by age: collect the
        // (filtered) runs, then page newest first here.
        const all: RunDoc[] = [];
        for (let afterId: string | undefined; ;) {
          const batch = await store.runs.list({
            ...(state === undefined ? {} : { state }),
            ...(afterId === undefined ? {} : { afterId }),
            limit: LIST_BATCH,
          });
          all.push(...batch);
          if (batch.length < LIST_BATCH) break;
          afterId = batch[batch.length - 1]!._id;
        }
        const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
        const rest = all.sort(newestFirst).filter((run) => cursor === undefined || isAfter(run, cursor));
        const page = rest.slice(0, pageSize);
        const last = page[page.length - 1];
        return {
          runs: page.map((run) => wireRun(run)),
          nextPageToken:
            rest.length > pageSize && last !== undefined
              ? encodePageToken({ createdAtMs: last.createdAt.getTime(), runId: last._id })
              : '',
        };
      }),

      cancelRun: unary<coordinator.CancelRunRequest, coordinator.CancelRunResponse>(async (req, ctx) => {
        const v = new Violations();
        checkRunId(v, 'CancelRunRequest.run_id', req.runId);
        v.maxLength('CancelRunRequest.reason', req.reason, MAX_CANCEL_REASON);
        v.throwIfAny();
        const reason = req.reason.trim() === '' ? 'cancelled' : req.reason;
        for (let attempt = 1; ; attempt++) {
          const run = await requireRun(store, req.runId);
          if (run.state === 'cancelled') {
            await publishCancelled(run);
            return { run: await withHistory(run) };
          }
          if (TERMINAL_STATES.has(run.state)) return { run: await withHistory(run) };
          let next: RunDoc;
          try {
            next = await store.runs.transition(run._id, {
              from: run.state,
              to: 'cancelled',
              expectedVersion: run.version,
              error: reason,
            });
          } catch (err) {
            // Another transition won the race: read the run again and decide on what it is now.
            if (err instanceof FailedPreconditionError && attempt < CANCEL_ATTEMPTS) continue;
            throw err;
          }
          ctx.logger.info('run cancelled', { runId: run._id, from: run.state, reason });
          await publishCancelled(next).catch((err: unknown) => {
            logger.warn('run cancelled but run.failed not published; a CancelRun retry publishes it', {
              runId: run._id,
              err,
            });
            throw err;
          });
          return { run: await withHistory(next) };
        }
      }),

      watchRun: serverStream<coordinator.WatchRunRequest, coordinator.WatchRunResponse>(
        async function* (req, ctx) {
          const v = new Violations();
          checkRunId(v, 'WatchRunRequest.run_id', req.runId);
          if (req.afterSequence > BigInt(Number.MAX_SAFE_INTEGER))
            v.add('WatchRunRequest.after_sequence', `must be at most ${Number.MAX_SAFE_INTEGER}`);
          v.throwIfAny();
          await requireRun(store, req.runId);
          const after = Number(req.afterSequence);
          const reader = await bus.readRunEvents(req.runId, events.RunEvent);
          const stop = AbortSignal.any([ctx.signal, ctx.closing]);
          const onStop = (): void => void reader.stop();
          stop.addEventListener('abort', onStop, { once: true });
          let delivered = 0;
          let quietChecks = 0;
          let seenAtCheck = 0;
          const timer = setInterval(() => {
            if (delivered !== seenAtCheck) {
              seenAtCheck = delivered;
              quietChecks = 0;
              return;
            }
            store.runs.get(req.runId).then(
              (run) => {
                quietChecks = run !== null && TERMINAL_STATES.has(run.state) ? quietChecks + 1 : 0;
                if (quietChecks >= 2) {
                  ctx.logger.info('run ended without a final event in the log; ending the watch', {
                    runId: req.runId,
                    state: run?.state,
                  });
                  void reader.stop();
                }
              },
              (err: unknown) => ctx.logger.warn('watch could not re-read the run', { runId: req.runId, err }),
            );
          }, watchCheckMs);
          try {
            for await (const record of reader) {
              delivered++;
              if (record.seq <= after) continue;
              yield { event: record.message, sequence: BigInt(record.seq) };
              const kind = record.message.event?.$case;
              if (kind === 'runCompleted' || kind === 'runFailed') return;
            }
          } finally {
            clearInterval(timer);
            stop.removeEventListener('abort', onStop);
            await reader.stop();
          }
        },
      ),
    },
  };
}
