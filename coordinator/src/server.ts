/**
 * The coordinator process assembled: MongoDB, NATS with the streams ensured, then by `role` the
 * coordinator (CoordinatorService on gRPC plus the leader-elected run engine), the Grow and
 * evaluation workers, or both. `main.ts` runs it; tests and `rest up`/`rest demo` start it in-process.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connectBus } from '@rest/bus';
import { loadPackageDefinition } from '@rest/proto';
import { openStore } from '@rest/store';
import { createServerMetrics, startGrpcServer, type Logger, type RunningGrpcServer } from '@rest/service-kit';
import type { Config } from './config.js';
import { Coordinator } from './engine/coordinator.js';
import { coordinatorService } from './rpc/coordinator-service.js';
import { startWorkers } from './workers/index.js';

/** Options of {@link startCoordinatorServer}. */
export interface StartCoordinatorOptions {
  readonly config: Config;
  readonly logger: Logger;
}

/** A running coordinator process. */
export interface CoordinatorServer {
  /** The bound gRPC port (health and metrics in every role; CoordinatorService with the coordinator). */
  readonly port: number;
  readonly metricsPort: number | undefined;
  /** This incarnation's id (lease owner, worker name). */
  readonly owner: string;
  /** The run engine, when the role includes the coordinator. */
  readonly engine: Coordinator | undefined;
  readonly grpc: RunningGrpcServer;
  /** Health NOT_SERVING, stop the engine and the workers, drain gRPC, close NATS and MongoDB. Idempotent. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Connects, binds and starts the role's loops.
 * @throws UnavailableError when MongoDB or NATS cannot be reached, and the bind error when the port is
 *   taken (nothing is left running)
 */
export async function startCoordinatorServer(options: StartCoordinatorOptions): Promise<CoordinatorServer> {
  const { config, logger } = options;
  const owner = `${config.role === 'grow-worker' ? 'grow-worker' : 'coordinator'}-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const store = await openStore({ uri: config.mongoUri, dbName: config.mongoDb, logger });
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  const unwind = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  try {
    const bus = await connectBus({ servers: config.natsUrl.split(','), name: owner, logger });
    cleanup.push(() => bus.close());
    await bus.ensureStreams();
    const leads = config.role !== 'grow-worker';
    const works = config.role !== 'coordinator';
    const engine = leads
      ? new Coordinator({
          store,
          bus,
          logger: logger.child({ component: 'engine' }),
          owner,
          leaseTtlMs: config.engine.leaseTtlMs,
          tickMs: config.engine.tickMs,
        })
      : undefined;
    const workers = works
      ? await startWorkers({ config, logger: logger.child({ component: 'workers' }), store, bus, owner })
      : undefined;
    if (workers !== undefined) cleanup.push(() => workers.stop());
    const grpc = await startGrpcServer({
      ...config.grpc,
      metricsHttp: { host: config.grpc.host, port: config.grpc.metricsPort },
      services: leads ? [coordinatorService({ store, bus, logger })] : [],
      reflection: loadPackageDefinition(),
      logger,
      metrics: createServerMetrics({ labels: { service: 'coordinator' } }),
    });
    engine?.start();
    logger.info('started', { role: config.role, owner, port: grpc.port });
    let stopping: Promise<void> | undefined;
    return {
      port: grpc.port,
      metricsPort: grpc.metricsPort,
      owner,
      engine,
      grpc,
      shutdown(reason) {
        stopping ??= (async () => {
          await grpc.shutdown(reason);
          await engine?.stop();
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
