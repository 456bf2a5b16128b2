/**
 * gRPC server bootstrap: binds the services (through the handler wrapper), `grpc.health.v1`, server
 * reflection and the metrics HTTP server, and shuts all of it down gracefully:
 *
 *   health NOT_SERVING + refuse new calls (UNAVAILABLE) → wait for in-flight calls (`drainTimeoutMs`)
 *   → `tryShutdown` (`closeTimeoutMs`) → `forceShutdown` if that times out → stop the metrics server.
 *
 * Health and reflection keep answering while draining, so probes see NOT_SERVING instead of a refused
 * connection. Set the pod's `terminationGracePeriodSeconds` above `drainTimeoutMs + closeTimeoutMs`.
 */
import {
  Server,
  ServerCredentials,
  type ChannelOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from '../logger.js';
import { startMetricsServer, type MetricsServer, type ServerMetrics } from '../metrics.js';
import { CallTracker } from './call-tracker.js';
import { wrapServerStream, wrapUnary, type CallRuntime, type MethodImplementation } from './handler.js';

/** One service to serve: its grpc-js definition (ts-proto's `...Service` or proto-loader's) and handlers. */
export interface GrpcServiceBinding {
  readonly definition: ServiceDefinition;
  /** Method name (as in the definition, or its camelCase `originalName`) → `unary()` / `serverStream()`. */
  readonly implementation: Readonly<Record<string, MethodImplementation>>;
}

/** Options of {@link startGrpcServer}; the sizes and timings come from the service's config. */
export interface StartGrpcServerOptions {
  /** Address to bind, e.g. `0.0.0.0` or `127.0.0.1`. */
  readonly host: string;
  /** Port to bind; 0 picks a free one (read it back from `port`). */
  readonly port: number;
  readonly services: readonly GrpcServiceBinding[];
  /** The package definition reflection describes; omit to serve no reflection. */
  readonly reflection?: PackageDefinition;
  /** Largest request accepted, in bytes. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response sent, in bytes. */
  readonly maxSendMessageBytes: number;
  /** Server keepalive ping interval, in ms. @default 30000 */
  readonly keepaliveTimeMs?: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped, in ms. @default 10000 */
  readonly keepaliveTimeoutMs?: number;
  /**
   * Connections are closed (GOAWAY) after this age, in ms, so long-lived k8s clients reconnect and
   * rebalance over new replicas. @default 300000 (5 min)
   */
  readonly maxConnectionAgeMs?: number;
  /** Time calls on an aged connection get to finish, in ms. @default 30000 */
  readonly maxConnectionAgeGraceMs?: number;
  /** How long shutdown waits for in-flight calls, in ms. @default 20000 */
  readonly drainTimeoutMs?: number;
  /** How long `tryShutdown` may take after the drain before `forceShutdown`, in ms. @default 5000 */
  readonly closeTimeoutMs?: number;
  readonly logger: Logger;
  /** Instruments the handler wrapper records into; omit for none. */
  readonly metrics?: ServerMetrics;
  /** Where to serve `/metrics` and `/healthz` (needs `metrics`); omit to serve no HTTP. */
  readonly metricsHttp?: { readonly host?: string; readonly port: number };
}

/** A bound, SERVING gRPC server. */
export interface RunningGrpcServer {
  /** The bound port. */
  readonly port: number;
  readonly server: Server;
  readonly health: HealthImplementation;
  /** Fully qualified names of the served services, e.g. `rest.v1.PolicyService`. */
  readonly serviceNames: readonly string[];
  /** Port of the metrics HTTP server, when one was started. */
  readonly metricsPort: number | undefined;
  /** Calls being handled now. */
  readonly inFlight: number;
  /**
   * Graceful shutdown (see the module comment). Idempotent: later calls return the first one's promise.
   * Never rejects.
   */
  shutdown(reason: string): Promise<void>;
}

/** `/pkg.Service/Method` → `pkg.Service`. */
function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  const match = first === undefined ? null : /^\/([^/]+)\//.exec(first.path);
  if (match?.[1] === undefined) throw new TypeError('a service definition has no methods');
  return match[1];
}

function bindImplementation(
  binding: GrpcServiceBinding,
  runtime: CallRuntime,
  problems: string[],
): UntypedServiceImplementation {
  const wrapped: UntypedServiceImplementation = {};
  const used = new Set<string>();
  for (const [name, attrs] of Object.entries(binding.definition)) {
    const alias = (attrs as { originalName?: string }).originalName;
    const key =
      name in binding.implementation
        ? name
        : alias !== undefined && alias in binding.implementation
          ? alias
          : undefined;
    const method = key === undefined ? undefined : binding.implementation[key];
    const rpc = attrs.path.replace(/^\//, '');
    if (key === undefined || method === undefined) {
      problems.push(`${rpc}: no implementation`);
      continue;
    }
    used.add(key);
    if (attrs.requestStream) {
      problems.push(`${rpc}: client and bidirectional streaming are not supported`);
    } else if (attrs.responseStream !== (method.kind === 'serverStream')) {
      problems.push(
        `${rpc}: implemented with ${method.kind}() but the proto says ${attrs.responseStream ? 'server streaming' : 'unary'}`,
      );
    } else if (method.kind === 'unary') {
      wrapped[name] = wrapUnary(method, rpc, runtime);
    } else {
      wrapped[name] = wrapServerStream(method, rpc, runtime);
    }
  }
  for (const key of Object.keys(binding.implementation)) {
    if (!used.has(key))
      problems.push(`${serviceNameOf(binding.definition)}: "${key}" is not a method of the service`);
  }
  return wrapped;
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    );
  });
}

function tryShutdownWithin(server: Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Builds the server, binds it, starts the metrics HTTP server, then sets health SERVING for `''` and
 * every service.
 * @throws TypeError when an implementation is missing a method, has an extra one, or has the wrong kind
 * @throws Error when the gRPC or metrics port cannot be bound (nothing is left running)
 */
export async function startGrpcServer(options: StartGrpcServerOptions): Promise<RunningGrpcServer> {
  const logger = options.logger.child({ component: 'grpc' });
  const tracker = new CallTracker();
  const runtime: CallRuntime = { logger, metrics: options.metrics, tracker };
  const channelOptions: ChannelOptions = {
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
    'grpc.max_send_message_length': options.maxSendMessageBytes,
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 30_000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 10_000,
    'grpc.max_connection_age_ms': options.maxConnectionAgeMs ?? 300_000,
    'grpc.max_connection_age_grace_ms': options.maxConnectionAgeGraceMs ?? 30_000,
  };
  const server = new Server(channelOptions);
  const problems: string[] = [];
  const serviceNames: string[] = [];
  for (const binding of options.services) {
    serviceNames.push(serviceNameOf(binding.definition));
    server.addService(binding.definition, bindImplementation(binding, runtime, problems));
  }
  if (problems.length > 0) throw new TypeError(`cannot serve: ${problems.join('; ')}`);
  const statuses: Record<string, ServingStatus> = { '': 'NOT_SERVING' };
  for (const name of serviceNames) statuses[name] = 'NOT_SERVING';
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  if (options.reflection !== undefined) new ReflectionService(options.reflection).addToServer(server);

  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await bind(server, `${host}:${options.port}`).catch((error: unknown) => {
    server.forceShutdown();
    throw error;
  });
  let metricsServer: MetricsServer | undefined;
  if (options.metricsHttp !== undefined && options.metrics !== undefined) {
    try {
      metricsServer = await startMetricsServer({
        registry: options.metrics.registry,
        host: options.metricsHttp.host ?? options.host,
        port: options.metricsHttp.port,
        healthy: () => !tracker.closing.aborted,
      });
    } catch (error) {
      server.forceShutdown();
      throw error;
    }
  }
  const setAll = (status: ServingStatus): void => {
    for (const name of Object.keys(statuses)) health.setStatus(name, status);
  };
  setAll('SERVING');
  logger.info('serving', { port, services: serviceNames, metricsPort: metricsServer?.port });

  const drainTimeoutMs = options.drainTimeoutMs ?? 20_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      const startedMs = performance.now();
      logger.info('shutting down', { reason, inFlight: tracker.inFlight });
      setAll('NOT_SERVING');
      tracker.stopAccepting(reason);
      const drained = await tracker.whenIdle(drainTimeoutMs);
      if (!drained)
        logger.warn('drain timed out; closing with calls in flight', {
          inFlight: tracker.inFlight,
          drainTimeoutMs,
        });
      const closed = await tryShutdownWithin(server, closeTimeoutMs);
      if (!closed) server.forceShutdown();
      await metricsServer?.close();
      logger.info('shut down', {
        reason,
        drained,
        forced: !closed,
        durationMs: Math.round(performance.now() - startedMs),
      });
    })();
    return stopping;
  };

  return {
    port,
    server,
    health,
    serviceNames,
    metricsPort: metricsServer?.port,
    get inFlight() {
      return tracker.inFlight;
    },
    shutdown,
  };
}
