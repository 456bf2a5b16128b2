/**
 * The trainer assembled: MongoDB (jobs, shards, bundles), NATS (the `rest.work.improve` worker and the
 * events), TrainerService with health, reflection and metrics. `main.ts` runs it; integration tests
 * start it in-process or as a child process.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connectBus, type Bus, type WorkSubscription } from '@rest/bus';
import { loadPackageDefinition } from '@rest/proto';
import { openStore, type Store } from '@rest/store';
import { createServerMetrics, startGrpcServer, type Logger, type RunningGrpcServer } from '@rest/service-kit';
import type { Config } from './config.js';
import { improveWorker } from './events/improve-consumer.js';
import { busPublisher } from './events/publisher.js';
import { JobRepo } from './jobs/job-repo.js';
import { rewardResolver } from './rpc/reward-client.js';
import { trainerService } from './rpc/trainer-service.js';

/** Options of {@link startTrainerServer}. */
export interface StartTrainerServerOptions {
  readonly config: Config;
  readonly logger: Logger;
}

/** A running trainer. */
export interface TrainerServer {
  /** The bound gRPC port. */
  readonly port: number;
  readonly metricsPort: number | undefined;
  /** This incarnation's lease owner id. */
  readonly owner: string;
  readonly store: Store;
  readonly bus: Bus;
  readonly grpc: RunningGrpcServer;
  /**
   * Health NOT_SERVING, stop the job in flight at its next heartbeat (its message is redelivered and the
   * job resumes from its checkpoint), drain gRPC, close NATS and MongoDB. Idempotent; never rejects.
   */
  shutdown(reason: string): Promise<void>;
}

/**
 * Connects, binds and starts taking Improve work.
 * @throws UnavailableError when MongoDB or NATS cannot be reached, and the bind error when the port is
 *   taken (nothing is left running)
 */
export async function startTrainerServer(options: StartTrainerServerOptions): Promise<TrainerServer> {
  const { config, logger } = options;
  const owner = `trainer-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const store = await openStore({ uri: config.mongoUri, dbName: config.mongoDb, logger });
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  const unwind = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  try {
    const jobs = new JobRepo(store.db);
    await jobs.ensureIndexes();
    const bus = await connectBus({ servers: config.natsUrl.split(','), name: 'trainer', logger });
    cleanup.push(() => bus.close());
    await bus.ensureStreams();
    const rewards = rewardResolver(config.reward);
    cleanup.push(() => Promise.resolve(rewards.close()));
    const abort = new AbortController();
    const worker = await improveWorker(
      bus,
      {
        store,
        jobs,
        publisher: busPublisher(bus),
        logger,
        reward: (spec) => rewards.resolve(spec),
        owner,
        signal: abort.signal,
        settings: {
          workDir: config.jobs.workDir,
          leaseTtlMs: config.jobs.leaseTtlMs,
          heartbeatMs: config.jobs.heartbeatMs,
          progressEverySteps: config.jobs.progressEverySteps,
          checkpointEverySteps: config.jobs.checkpointEverySteps,
          evalBatchSize: config.jobs.evalBatchSize,
          session: {
            executionProvider: config.runtime.executionProvider,
            intraOpThreads: config.runtime.intraOpThreads,
          },
        },
      },
      {
        ackWaitMs: config.jobs.ackWaitMs,
        maxDeliver: config.jobs.maxDeliver,
        concurrency: config.jobs.concurrency,
      },
    );
    // Bind last: once it logs `serving`, nothing is left to await before main.ts takes the signals.
    const grpc = await startGrpcServer({
      ...config.grpc,
      metricsHttp: { host: config.grpc.host, port: config.grpc.metricsPort },
      services: [trainerService({ jobs, watchPollMs: config.jobs.watchPollMs })],
      reflection: loadPackageDefinition(),
      logger,
      metrics: createServerMetrics({ labels: { service: 'trainer' } }),
    });
    const work: WorkSubscription = worker.start();
    logger.info('taking improve work', { owner });
    let stopping: Promise<void> | undefined;
    return {
      port: grpc.port,
      metricsPort: grpc.metricsPort,
      owner,
      store,
      bus,
      grpc,
      shutdown(reason) {
        stopping ??= (async () => {
          abort.abort();
          await grpc.shutdown(reason);
          await work.stop(config.grpc.drainTimeoutMs).catch(() => false);
          await unwind();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
