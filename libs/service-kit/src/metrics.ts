/**
 * Prometheus metrics for a service: a registry per server (never prom-client's global one, so tests can
 * run several servers in one process), default process metrics, the gRPC server instruments the
 * handler wrapper records, and a small HTTP server for `/metrics` and `/healthz`.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Bucket bounds of the handling-time histogram, in seconds: 1 ms … 60 s (generation can be slow). */
const HANDLING_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The gRPC server instruments and the registry they live in. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** `grpc_server_handled_total{rpc, code}`: finished RPCs. */
  readonly handled: Counter<'rpc' | 'code'>;
  /** `grpc_server_handling_seconds{rpc, code}`: time from call start to status. */
  readonly handlingSeconds: Histogram<'rpc' | 'code'>;
  /** `grpc_server_in_flight{rpc}`: calls being handled now. */
  readonly inFlight: Gauge<'rpc'>;
  /** Records one finished RPC. `code` is the status name, e.g. `OK`, `INVALID_ARGUMENT`. */
  observe(rpc: string, code: string, durationMs: number): void;
}

/** Options of {@link createServerMetrics}. */
export interface CreateServerMetricsOptions {
  /** Labels put on every series of this registry, e.g. `{ service: 'policy-server' }`. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Whether to collect prom-client's default process metrics (CPU, memory, event loop, GC). @default true */
  readonly defaultMetrics?: boolean;
}

/** A fresh registry with the gRPC server instruments (and default process metrics unless turned off). */
export function createServerMetrics(options: CreateServerMetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ ...options.labels });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'gRPC calls finished, by method and status code',
    labelNames: ['rpc', 'code'] as const,
    registers: [registry],
  });
  const handlingSeconds = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'gRPC call duration from start to status, by method and status code',
    labelNames: ['rpc', 'code'] as const,
    buckets: HANDLING_SECONDS_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'grpc_server_in_flight',
    help: 'gRPC calls being handled now, by method',
    labelNames: ['rpc'] as const,
    registers: [registry],
  });
  return {
    registry,
    handled,
    handlingSeconds,
    inFlight,
    observe(rpc, code, durationMs) {
      handled.inc({ rpc, code });
      handlingSeconds.observe({ rpc, code }, durationMs / 1000);
    },
  };
}

/** Options of {@link startMetricsServer}. */
export interface StartMetricsServerOptions {
  readonly registry: Registry;
  /** Address to bind. @default '0.0.0.0' */
  readonly host?: string;
  /** Port to bind; 0 picks a free one (read it back from `port`). */
  readonly port: number;
  /** Answer of `/healthz`: 200 when it returns true, 503 otherwise. @default () => true */
  readonly healthy?: () => boolean;
}

/** A running metrics HTTP server. */
export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** Stops listening and closes open connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) and `GET /healthz` over HTTP.
 * @throws Error (e.g. EADDRINUSE) when the port cannot be bound
 */
export async function startMetricsServer(options: StartMetricsServerOptions): Promise<MetricsServer> {
  const healthy = options.healthy ?? (() => true);
  const server: HttpServer = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n'),
      );
    } else if (path === '/healthz') {
      const ok = healthy();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not serving\n');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
