/**
 * The test service behind grpc-server.int.test.ts: a kit-built server over test/fixtures/kit_test.proto
 * whose handlers report through `Probes`, and raw grpc-js clients for it, health and reflection.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { z } from 'zod';
import {
  createServerMetrics,
  defineConfig,
  grpcServerConfigShape,
  serverStream,
  startGrpcServer,
  unary,
  validate,
  type CallContext,
  type RunningGrpcServer,
} from '../src/index.js';
import { deferred, type MemoryLogger } from '../src/testing.js';

const LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;
export const WAIT_MS = 5_000;
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kit_test.proto');
const REFLECTION_PROTO = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), // .../build/src
  '..',
  'proto',
  'grpc',
  'reflection',
  'v1',
  'reflection.proto',
);

interface EchoRequest {
  text: string;
  repeat: number;
}
export interface EchoResponse {
  text: string;
}

export type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function clientClass(definition: PackageDefinition, path: string): grpc.ServiceClientConstructor {
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

const testPackage = loadSync(FIXTURE, LOADER_OPTIONS);
export const TestClient = clientClass(testPackage, 'kit.test.v1.TestService');
export const HealthClient = clientClass(loadSync(healthProtoPath, LOADER_OPTIONS), 'grpc.health.v1.Health');
export const ReflectionClient = clientClass(
  loadSync(REFLECTION_PROTO, LOADER_OPTIONS),
  'grpc.reflection.v1.ServerReflection',
);

/** Hooks the test handlers report through. */
export interface Probes {
  slowStarted: ReturnType<typeof deferred<void>>;
  releaseSlow: ReturnType<typeof deferred<void>>;
  hangCtx: ReturnType<typeof deferred<{ reason: unknown; deadline: Date | undefined }>>;
  countClosed: ReturnType<typeof deferred<{ reason: unknown; sent: number }>>;
}

export function newProbes(): Probes {
  return { slowStarted: deferred(), releaseSlow: deferred(), hangCtx: deferred(), countClosed: deferred() };
}

const CONFIG = defineConfig({
  prefix: 'KITTEST',
  schema: z.object({ grpc: z.object(grpcServerConfigShape()) }),
});

export async function startTestServer(logger: MemoryLogger, probes: Probes): Promise<RunningGrpcServer> {
  const config = CONFIG.load({
    env: {
      KITTEST_GRPC__HOST: '127.0.0.1',
      KITTEST_GRPC__PORT: '0',
      KITTEST_GRPC__METRICS_PORT: '0',
      KITTEST_GRPC__DRAIN_TIMEOUT_MS: '10s',
      KITTEST_GRPC__CLOSE_TIMEOUT_MS: '2s',
    },
  });
  const parseEcho = (request: EchoRequest): EchoRequest =>
    validate((v) => ({
      text: v.maxLength('EchoRequest.text', v.nonEmpty('EchoRequest.text', request.text), 100),
      repeat: v.integer('EchoRequest.repeat', request.repeat, 1, 10),
    }));
  const service = TestClient.service;
  return startGrpcServer({
    ...config.grpc,
    metricsHttp: { port: config.grpc.metricsPort },
    logger,
    metrics: createServerMetrics({ labels: { service: 'kit-test' } }),
    reflection: testPackage,
    services: [
      {
        definition: service,
        implementation: {
          echo: unary<EchoRequest, EchoResponse>((request) => {
            const { text, repeat } = parseEcho(request);
            return Promise.resolve({ text: text.repeat(repeat) });
          }),
          explode: unary<EchoRequest, EchoResponse>(() => {
            const cause = new Error('connect ECONNREFUSED 10.0.0.7:27017');
            return Promise.reject(new Error('secret sauce: password=hunter2', { cause }));
          }),
          slow: unary<EchoRequest, EchoResponse>(async (request) => {
            probes.slowStarted.resolve();
            await probes.releaseSlow.promise;
            return { text: `slow ${request.text}` };
          }),
          hang: unary<EchoRequest, EchoResponse>(async (_request, ctx: CallContext) => {
            const reason = await new Promise<unknown>((resolve) =>
              ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true }),
            );
            probes.hangCtx.resolve({ reason, deadline: ctx.deadline });
            throw reason;
          }),
          count: serverStream<{ limit: number }, { n: number }>(async function* (request, ctx) {
            let sent = 0;
            try {
              for (let n = 1; request.limit === 0 || n <= request.limit; n++) {
                // Stands in for the I/O a real stream waits on between messages.
                await setImmediate();
                yield { n };
                sent++;
              }
            } finally {
              probes.countClosed.resolve({ reason: ctx.signal.reason, sent });
            }
          }),
        },
      },
    ],
  });
}

export function newClient<T extends grpc.ServiceClientConstructor>(ctor: T, port: number): Client {
  return new ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
}

export interface UnaryResult<T> {
  readonly error: grpc.ServiceError | null;
  readonly value: T | undefined;
  readonly trailer: grpc.Metadata | undefined;
}

/** Calls a unary method and settles with its error or value (never rejects), plus trailing metadata. */
export function callUnary<T>(
  client: Client,
  method: string,
  request: unknown,
  options: grpc.CallOptions = {},
  metadata = new grpc.Metadata(),
): Promise<UnaryResult<T>> {
  return new Promise((resolve) => {
    let trailer: grpc.Metadata | undefined;
    let result: { error: grpc.ServiceError | null; value: T | undefined } | undefined;
    const done = (): void => {
      if (result !== undefined && trailer !== undefined) resolve({ ...result, trailer });
    };
    const call = (client[method] as (...args: unknown[]) => grpc.ClientUnaryCall)(
      request,
      metadata,
      { deadline: Date.now() + WAIT_MS, ...options },
      (error: grpc.ServiceError | null, value: T | undefined) => {
        result = { error, value };
        if (error !== null) trailer = error.metadata;
        done();
      },
    );
    call.on('status', (status: grpc.StatusObject) => {
      trailer = status.metadata;
      done();
    });
  });
}
