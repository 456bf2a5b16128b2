/**
 * Integration-test harness: a real reward server on 127.0.0.1:0 (config loaded through the schema
 * from `REWARD_*` variables, as in production), the generated grpc-js clients of @rest/proto, a
 * promise-returning unary caller, a dependency-free `grpc.health.v1` check, and a Prometheus scrape.
 */
import * as grpc from '@grpc/grpc-js';
import { inference, reward } from '@rest/proto';
import { createMemoryLogger, type MemoryLogger } from '@rest/service-kit/testing';
import { loadConfig, startRewardServer, type RewardServer } from '../src/index.js';

/** Longest a test waits for any one event. */
export const WAIT_MS = 10_000;

/** A started server and clients for it. */
export interface Harness {
  readonly server: RewardServer;
  readonly logger: MemoryLogger;
  readonly rewards: reward.RewardServiceClient;
  readonly oip: inference.GRPCInferenceServiceClient;
  close(): Promise<void>;
}

/** Starts a server with `REWARD_*` variables on top of loopback/port-0 defaults. */
export async function startHarness(env: Readonly<Record<string, string>>): Promise<Harness> {
  const config = loadConfig({
    env: {
      REWARD_GRPC__HOST: '127.0.0.1',
      REWARD_GRPC__PORT: '0',
      REWARD_GRPC__METRICS_PORT: '0',
      REWARD_GRPC__DRAIN_TIMEOUT_MS: '5s',
      REWARD_RUNTIME__INTRA_OP_THREADS: '1',
      REWARD_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  const logger = createMemoryLogger('warn');
  const server = await startRewardServer({ config, logger });
  const address = `127.0.0.1:${server.port}`;
  const credentials = grpc.credentials.createInsecure();
  const rewards = new reward.RewardServiceClient(address, credentials);
  const oip = new inference.GRPCInferenceServiceClient(address, credentials);
  return {
    server,
    logger,
    rewards,
    oip,
    async close() {
      rewards.close();
      oip.close();
      await server.shutdown('test done');
    },
  };
}

/** The outcome of one unary call: exactly one of `error` / `value`. */
export interface Outcome<Res> {
  readonly error: grpc.ServiceError | null;
  readonly value: Res | undefined;
}

/** The request and response types of a generated client's unary method (its last, 4-argument overload). */
type Unary<F> = F extends (
  request: infer Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: infer Res) => void,
) => grpc.ClientUnaryCall
  ? { request: Req; response: Res }
  : never;

/** Calls `client[method]` and resolves with its outcome (never rejects); `onCall` gets the call (to cancel it). */
export function call<C extends grpc.Client, K extends keyof C & string>(
  client: C,
  method: K,
  request: Unary<C[K]>['request'],
  options: Partial<grpc.CallOptions> = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<Outcome<Unary<C[K]>['response']>> {
  type Res = Unary<C[K]>['response'];
  const fn = client[method] as (
    request: unknown,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (error: grpc.ServiceError | null, response: Res) => void,
  ) => grpc.ClientUnaryCall;
  return new Promise((resolve) => {
    const started = fn.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + WAIT_MS, ...options },
      (error, value) => resolve(error === null ? { error: null, value } : { error, value: undefined }),
    );
    onCall?.(started);
  });
}

/** The `rest-field-violations-bin` trailer's field paths of a failed call. */
export function violatedFields(error: grpc.ServiceError | null): string[] {
  const raw = error?.metadata.get('rest-field-violations-bin')[0];
  if (raw === undefined) return [];
  const parsed = JSON.parse(Buffer.from(raw as Buffer).toString('utf8')) as { field: string }[];
  return parsed.map((v) => v.field);
}

/** `grpc.health.v1.Health/Check` for `service`, with hand-encoded messages (no extra dependency). */
export function healthStatus(port: number, service: string): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const name = Buffer.from(service, 'utf8');
  // HealthCheckRequest { string service = 1 }: tag 0x0a, length, bytes (names here are < 128 bytes).
  const request = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  return new Promise<number>((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      { deadline: Date.now() + WAIT_MS },
      (error, response) => {
        client.close();
        // HealthCheckResponse { ServingStatus status = 1 }: tag 0x08 then the varint; absent = 0.
        if (error !== null) reject(error);
        else resolve(response === undefined || response.length < 2 ? 0 : response[1]!);
      },
    );
  });
}

/** The `/metrics` text of a server. */
export async function scrape(server: RewardServer): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`, {
    signal: AbortSignal.timeout(WAIT_MS),
  });
  return response.text();
}

/** The value of one series in a Prometheus text scrape (0 when absent). */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const close = line.indexOf('}');
    const body = open < 0 ? '' : line.slice(open + 1, close);
    const have = new Map([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      const valueText = close < 0 ? line.slice(name.length) : line.slice(close + 1);
      return Number(valueText.trim().split(' ')[0]);
    }
  }
  return 0;
}

/** Polls `/metrics` until `check(text)` holds. @throws Error after {@link WAIT_MS} */
export async function waitForMetrics(
  server: RewardServer,
  check: (text: string) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (check(await scrape(server))) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** BYTES elements in OIP's raw layout: each a 4-byte little-endian length, then its UTF-8 bytes. */
export function rawBytesTensor(texts: readonly string[]): Buffer {
  return Buffer.concat(
    texts.flatMap((t) => {
      const bytes = Buffer.from(t, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length, 0);
      return [length, bytes];
    }),
  );
}
