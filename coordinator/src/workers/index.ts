/**
 * The grow-worker role (`COORD_ROLE=grow-worker`, or `all`): the consumers of `rest.work.grow`
 * (`grow-worker.ts`) and `rest.work.eval` (`eval-worker.ts`) over one pair of gRPC clients to the
 * policy and reward servers. Any number of processes may run it; JetStream spreads the messages.
 *
 * Each handler keeps its message alive with a `working()` heartbeat every third of `ackWaitMs`, so
 * a long shard is not redelivered while it progresses; a worker that dies stops the heartbeat and
 * its message goes to another worker after `ackWaitMs`.
 *
 * It does not connect, create streams or close the bus and the store: the process entry owns them
 * (`bus.ensureStreams()` before {@link startWorkers}; {@link RunningWorkers.stop} before `bus.close()`).
 */
import { hostname } from 'node:os';
import type { Bus, WorkContext, WorkConsumerOptions, WorkSubscription } from '@rest/bus';
import { events } from '@rest/proto';
import { CancelledError, type Logger } from '@rest/service-kit';
import type { Store } from '@rest/store';
import type { Config } from '../config.js';
import { handleEvalWork } from './eval-worker.js';
import { handleGrowWork } from './grow-worker.js';
import { createWorkerRpc } from './rpc-clients.js';
import { isPermanent, type WorkerDeps } from './worker-deps.js';

/** Options of {@link startWorkers}. */
export interface StartWorkersOptions {
  /** The service config; the workers read `policyServer`, `rewardServer` and `workers`. */
  readonly config: Pick<Config, 'policyServer' | 'rewardServer' | 'workers'>;
  readonly logger: Logger;
  readonly store: Store;
  /** A connected bus whose streams exist. */
  readonly bus: Bus;
  /** Identity reported in `grow.shard.done`. @default `<hostname>:<pid>` */
  readonly owner?: string;
}

/** Running workers. */
export interface RunningWorkers {
  /**
   * Graceful stop: stops pulling; messages in flight finish the call they are in and are then nak'd
   * for redelivery (their stored work is kept). Past `workers.stopTimeoutMs` the calls in flight are
   * cancelled. Then closes the gRPC clients. Idempotent; never rejects.
   */
  stop(): Promise<void>;
}

/** After the calls in flight are cancelled, how long handlers get to nak their messages. */
const CANCEL_GRACE_MS = 5_000;

/**
 * Ensures the two queues' durable consumers and starts handling messages.
 * @throws InvalidArgumentError for out-of-range consumer settings; UnavailableError when JetStream
 *   refuses the consumers (nothing is left running).
 */
export async function startWorkers(options: StartWorkersOptions): Promise<RunningWorkers> {
  const { config, store, bus } = options;
  const w = config.workers;
  const owner = options.owner ?? `${hostname()}:${process.pid}`;
  const logger = options.logger.child({ component: 'workers', owner });
  const rpc = createWorkerRpc({
    policyServer: config.policyServer,
    rewardServer: config.rewardServer,
    rpcTimeoutMs: w.rpcTimeoutMs,
  });
  const draining = new AbortController();
  const cancelling = new AbortController();
  const deps: WorkerDeps = {
    store,
    bus,
    rpc,
    owner,
    generateBatchSources: w.generateBatchSources,
    scoreBatch: w.scoreBatch,
    stopping: draining.signal,
    cancel: cancelling.signal,
  };
  const consumerOptions: WorkConsumerOptions = {
    ackWaitMs: w.ackWaitMs,
    maxDeliver: w.maxDeliver,
    isRetryable: (err) => !isPermanent(err),
  };
  let subscriptions: WorkSubscription[];
  try {
    const grow = await bus.workConsumer('grow', events.GrowWork, consumerOptions);
    const evals = await bus.workConsumer('eval', events.EvalWork, consumerOptions);
    const heartbeatMs = Math.max(100, Math.floor(w.ackWaitMs / 3));
    const beating =
      <T>(queue: string, handle: (message: T, ctx: WorkContext, deps: WorkerDeps) => Promise<void>) =>
      async (message: T, ctx: WorkContext): Promise<void> => {
        const timer = setInterval(() => ctx.working(), heartbeatMs);
        const messageLogger = logger.child({
          queue,
          seq: ctx.streamSequence,
          deliveryCount: ctx.deliveryCount,
        });
        try {
          await handle(message, { ...ctx, logger: messageLogger }, deps);
        } finally {
          clearInterval(timer);
        }
      };
    subscriptions = [
      grow.consume(beating('grow', handleGrowWork), { concurrency: w.concurrency }),
      evals.consume(beating('eval', handleEvalWork), { concurrency: w.evalConcurrency }),
    ];
  } catch (err) {
    rpc.close();
    throw err;
  }
  logger.info('workers started', {
    policyServer: config.policyServer,
    rewardServer: config.rewardServer,
    concurrency: w.concurrency,
    evalConcurrency: w.evalConcurrency,
  });

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    draining.abort(new CancelledError('workers stopping'));
    const settled = await Promise.all(subscriptions.map((s) => s.stop(w.stopTimeoutMs)));
    if (!settled.every(Boolean)) {
      logger.warn('workers: messages still in flight after the stop timeout; cancelling their calls', {
        stopTimeoutMs: w.stopTimeoutMs,
      });
      cancelling.abort(new CancelledError('workers stopped'));
      await Promise.all(subscriptions.map((s) => s.stop(CANCEL_GRACE_MS)));
    }
    rpc.close();
    logger.info('workers stopped');
  };
  return {
    stop() {
      stopped ??= stop().catch((err: unknown) => logger.error('workers: stop failed', { err }));
      return stopped;
    },
  };
}
