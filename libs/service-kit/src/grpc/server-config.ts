/**
 * The config keys every gRPC server has, as a zod shape to put in a service's schema. The key names
 * equal `startGrpcServer`'s option names, so a service passes the slice straight through:
 *
 *   const schema = z.object({ grpc: z.object(grpcServerConfigShape()), ... });   // POLICY_GRPC__PORT, ...
 *   await startGrpcServer({ ...config.grpc, metricsHttp: { port: config.grpc.metricsPort }, services, logger, metrics });
 */
import { z } from 'zod';
import { byteSize, duration } from '../config-schema.js';

/** Defaults a service may change in {@link grpcServerConfigShape}. */
export interface GrpcServerConfigDefaults {
  /** @default 50051 */
  readonly port?: number;
  /** @default 9464 */
  readonly metricsPort?: number;
  /** @default '4MiB' */
  readonly maxReceiveMessage?: string;
  /** @default '4MiB' */
  readonly maxSendMessage?: string;
  /** @default '20s' */
  readonly drainTimeout?: string;
}

/**
 * Fresh zod schemas for the gRPC server keys (host, port, metricsPort, message sizes, keepalive,
 * connection age, drain and close timeouts), each with a default and a doc line.
 */
export function grpcServerConfigShape(defaults: GrpcServerConfigDefaults = {}) {
  const port = (value: number, doc: string) =>
    z.number().int().min(0).max(65535).default(value).describe(doc);
  return {
    host: z.string().min(1).default('0.0.0.0').describe('address the gRPC and metrics servers bind'),
    port: port(defaults.port ?? 50051, 'gRPC port; 0 picks a free one'),
    metricsPort: port(
      defaults.metricsPort ?? 9464,
      'HTTP port for /metrics and /healthz; 0 picks a free one',
    ),
    maxReceiveMessageBytes: byteSize(defaults.maxReceiveMessage ?? '4MiB').describe(
      'largest request message accepted',
    ),
    maxSendMessageBytes: byteSize(defaults.maxSendMessage ?? '4MiB').describe(
      'largest response message sent',
    ),
    keepaliveTimeMs: duration('30s').describe('interval of server keepalive pings'),
    keepaliveTimeoutMs: duration('10s').describe('how long a keepalive ping may go unanswered'),
    maxConnectionAgeMs: duration('5m').describe('connections are closed after this age so clients rebalance'),
    maxConnectionAgeGraceMs: duration('30s').describe('time calls on an aged connection get to finish'),
    drainTimeoutMs: duration(defaults.drainTimeout ?? '20s').describe(
      'on shutdown, how long in-flight calls get to finish; keep terminationGracePeriodSeconds above drain + close',
    ),
    closeTimeoutMs: duration('5s').describe(
      'after the drain, how long a graceful close may take before it is forced',
    ),
  };
}
