/**
 * The reward server assembled: scorers loaded from config (metrics, learned models with warm-up),
 * then RewardService and GRPCInferenceService bound through the kit's `startGrpcServer` with health,
 * reflection and Prometheus metrics. `main.ts` runs it; integration tests start it on port 0.
 */
import { readFileSync } from 'node:fs';
import { loadPackageDefinition } from '@rest/proto';
import { createServerMetrics, startGrpcServer, type Logger, type RunningGrpcServer } from '@rest/service-kit';
import type { Config } from './config.js';
import { loadScorers } from './load-scorers.js';
import { createRewardMetrics } from './reward-metrics.js';
import { inferenceService } from './rpc/inference-service.js';
import { rewardService } from './rpc/reward-service.js';
import type { ScorerRegistry } from './scoring/registry.js';

/** Options of {@link startRewardServer}. */
export interface StartRewardServerOptions {
  readonly config: Config;
  readonly logger: Logger;
}

/** A running reward server. */
export interface RewardServer {
  /** The bound gRPC port. */
  readonly port: number;
  /** The bound `/metrics` port, when one was configured. */
  readonly metricsPort: number | undefined;
  readonly scorers: ScorerRegistry;
  readonly grpc: RunningGrpcServer;
  /**
   * Health NOT_SERVING and new calls refused; queued batches start at once and in-flight calls drain
   * (`grpc.drainTimeoutMs`); then the server closes and the sessions are released. Idempotent.
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
 * Loads the scorers and starts serving; see the module comment.
 * @throws RewardModelError, CalibrationFileError or DuplicateScorerError when a scorer cannot be
 *   loaded, and the bind error when a port is taken (nothing is left running)
 */
export async function startRewardServer(options: StartRewardServerOptions): Promise<RewardServer> {
  const { config, logger } = options;
  const serverMetrics = createServerMetrics({ labels: { service: 'reward-server' } });
  // The instruments exist before the models (which report batches to them) are loaded.
  const loading: { scorers?: ScorerRegistry } = {};
  const metrics = createRewardMetrics(
    serverMetrics.registry,
    () => loading.scorers?.list('learned').map((s) => ({ model: s.info.name, items: s.queuedItems })) ?? [],
  );
  const loaded = await loadScorers(config, {
    logger,
    onBatch: (model, info) => metrics.observeBatch(model, info),
  });
  loading.scorers = loaded;
  let ready = true;
  const deps = { scorers: loaded, limits: config.limits, metrics };
  let grpc: RunningGrpcServer;
  try {
    grpc = await startGrpcServer({
      ...config.grpc,
      metricsHttp: { host: config.grpc.host, port: config.grpc.metricsPort },
      services: [
        rewardService(deps),
        inferenceService({ ...deps, serverVersion: packageVersion(), ready: () => ready }),
      ],
      reflection: loadPackageDefinition(),
      logger,
      metrics: serverMetrics,
    });
  } catch (error) {
    await loaded.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    port: grpc.port,
    metricsPort: grpc.metricsPort,
    scorers: loaded,
    grpc,
    shutdown(reason) {
      stopping ??= (async () => {
        ready = false;
        // grpc.shutdown refuses new calls before its first await, so no submit can follow the
        // batchers' close; closing them now runs queued items at once instead of after maxWaitMs,
        // which lets the drain finish those calls.
        const draining = grpc.shutdown(reason);
        await Promise.all([draining, loaded.close()]);
      })();
      return stopping;
    },
  };
}
