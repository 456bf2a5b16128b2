/**
 * The policy server assembled: MongoDB (policies, routes, bundles) and NATS (reload notices), the
 * policy catalog and model pool, preloaded policies warmed up, the routes read, then PolicyService
 * and GRPCInferenceService bound through the kit's `startGrpcServer` with health, reflection and
 * Prometheus metrics. `main.ts` runs it; integration tests start it on port 0.
 *
 * Shutdown: health NOT_SERVING and the gRPC drain (in-flight calls finish), then the reload loops
 * stop, shadow copies and batches finish, the sessions are released, NATS drains and MongoDB closes.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { connectBus, type Bus } from '@rest/bus';
import { loadPackageDefinition } from '@rest/proto';
import {
  createServerMetrics,
  NotFoundError,
  startGrpcServer,
  type Logger,
  type RunningGrpcServer,
} from '@rest/service-kit';
import { openStore, type Store } from '@rest/store';
import type { Config } from './config.js';
import { DecodeEngine } from './decoding/decode-engine.js';
import { announceRoute } from './events/announce.js';
import { startReload, type Reload } from './events/reload.js';
import { ModelPool } from './policies/model-pool.js';
import { PolicyCatalog } from './policies/policy-catalog.js';
import { catalogLoader } from './policies/policy-loader.js';
import { createPolicyMetrics } from './policy-metrics.js';
import { RouteManager } from './routing/route-manager.js';
import { inferenceService } from './rpc/inference-service.js';
import { policyService } from './rpc/policy-service.js';
import { PolicyServing } from './serving/policy-serving.js';

/** Options of {@link startPolicyServer}. */
export interface StartPolicyServerOptions {
  readonly config: Config;
  readonly logger: Logger;
}

/** A running policy server. */
export interface PolicyServer {
  /** The bound gRPC port. */
  readonly port: number;
  /** The bound `/metrics` port. */
  readonly metricsPort: number | undefined;
  readonly grpc: RunningGrpcServer;
  readonly pool: ModelPool;
  readonly routes: RouteManager;
  readonly serving: PolicyServing;
  readonly engine: DecodeEngine;
  /**
   * Health NOT_SERVING, drain in-flight calls (`grpc.drainTimeoutMs`), close the server, stop the
   * reload loops, finish shadow copies and batches, release the sessions, drain NATS, close
   * MongoDB. Idempotent; never rejects.
   */
  shutdown(reason: string): Promise<void>;
}

/** This package's version, for OIP ServerMetadata (the file sits one level above src/ and dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

/**
 * Connects, loads and starts serving; see the module comment.
 * @throws UnavailableError when MongoDB or NATS cannot be reached, BundleError for a bad local
 *   folder, FailedPreconditionError for a preloaded policy that cannot load, and the bind
 *   error when a port is taken (nothing is left running)
 */
export async function startPolicyServer(options: StartPolicyServerOptions): Promise<PolicyServer> {
  const { config, logger } = options;
  const cleanup: (() => Promise<void>)[] = [];
  const undo = async (): Promise<void> => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    const store: Store = await openStore({ uri: config.mongoUri, dbName: config.mongoDb, logger });
    cleanup.push(() => store.close());
    const bus: Bus = await connectBus({ servers: config.natsUrl.split(','), name: 'policy-server', logger });
    cleanup.push(() => bus.close());
    await bus.ensureStreams();

    // Process-wide: V8 reads the factor at every full collection (config.ts, runtime.heapGrowingPercent).
    if (config.runtime.heapGrowingPercent > 0)
      setFlagsFromString(`--heap-growing-percent=${config.runtime.heapGrowingPercent}`);
    const serverMetrics = createServerMetrics({ labels: { service: 'policy-server' } });
    const loading: { engine?: DecodeEngine } = {};
    const metrics = createPolicyMetrics(serverMetrics.registry, () => loading.engine?.queuedSources ?? 0);
    const catalog = await PolicyCatalog.open({
      registry: store,
      dirs: config.policies.dirs,
      cacheDir:
        config.policies.cacheDir === '' ? join(tmpdir(), 'rest-policy-cache') : config.policies.cacheDir,
      logger,
    });
    const pool = new ModelPool({
      loader: catalogLoader(
        catalog,
        {
          executionProvider: config.runtime.executionProvider,
          intraOpThreads: config.runtime.intraOpThreads,
          allowSpinning: config.runtime.allowSpinning,
          // onnxruntime is noisy below warning; it logs at our debug level only.
          logSeverity: config.logLevel === 'trace' || config.logLevel === 'debug' ? 2 : 3,
        },
        logger.child({ component: 'loader' }),
        config.batching.continuous ? { maxWaitMs: config.batching.maxWaitMs } : undefined,
      ),
      budgetBytes: config.policies.memoryBudgetBytes,
      logger: logger.child({ component: 'pool' }),
      onChange: (loaded) => metrics.setLoaded(loaded),
    });
    cleanup.push(() => pool.close());
    const engine = new DecodeEngine({
      batching: config.batching,
      maxQueuedSources: config.limits.maxQueuedSources,
      retain: (policy) => pool.retain(policy),
      logger,
      onBatch: (policy, kind, info) => metrics.observeBatch(policy, kind, info),
      onDecoded: (policy, kind, ms) => metrics.observeDecode(policy, kind, ms),
    });
    loading.engine = engine;
    cleanup.push(() => engine.close());
    const routes = new RouteManager({
      routes: store.routes,
      catalog,
      pool,
      announce: (route) => announceRoute(bus, route),
      logger,
    });
    const serving = new PolicyServing({
      catalog,
      pool,
      engine,
      routes: routes.table,
      metrics,
      config,
      logger,
    });
    cleanup.push(() => serving.drainShadows());

    for (const policyId of config.policies.preload) {
      try {
        (await pool.acquire(policyId)).release();
      } catch (error) {
        // Not registered yet: loaded when it is published. Anything else (a broken bundle) stops start-up.
        if (!(error instanceof NotFoundError)) throw error;
        logger.warn('preload policy not registered yet; it loads when published', { policyId });
      }
    }
    const reload: Reload = await startReload({
      bus,
      routes,
      pool,
      preload: config.policies.preload,
      refreshIntervalMs: config.routing.refreshIntervalMs,
      logger,
    });
    cleanup.push(() => reload.stop());

    let ready = true;
    const grpc = await startGrpcServer({
      ...config.grpc,
      metricsHttp: { host: config.grpc.host, port: config.grpc.metricsPort },
      services: [
        policyService({ serving, routes, catalog, pool, limits: config.limits }),
        inferenceService({
          serving,
          limits: config.limits,
          serverVersion: packageVersion(),
          ready: () => ready,
        }),
      ],
      reflection: loadPackageDefinition(),
      logger,
      metrics: serverMetrics,
    });
    let stopping: Promise<void> | undefined;
    return {
      port: grpc.port,
      metricsPort: grpc.metricsPort,
      grpc,
      pool,
      routes,
      serving,
      engine,
      shutdown(reason) {
        stopping ??= (async () => {
          ready = false;
          await grpc.shutdown(reason);
          await undo();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
