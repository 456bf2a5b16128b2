/**
 * Integration-test harness: real nats-server and FerretDB from @rest/testkit, a fresh database per
 * world, tiny policy bundles registered in the registry (GridFS + `policies` + a
 * `rest.policies.published` notice) or served from local folders, and a real policy server on
 * 127.0.0.1:0 (config loaded through the schema from `POLICY_*` variables, as in production), with
 * the generated grpc-js clients, a promise-returning unary caller, a `grpc.health.v1` check and a
 * Prometheus scrape.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connectBus, updateSubject, type Bus } from '@rest/bus';
import { events, inference, policy } from '@rest/proto';
import { createMemoryLogger, type MemoryLogger } from '@rest/service-kit/testing';
import { openStore, type Store } from '@rest/store';
import { startInfra, type Infra } from '@rest/testkit';
import { loadConfig, startPolicyServer, type PolicyServer } from '../src/index.js';
import { bundleFiles } from './tiny-policy.js';

/** Longest a test waits for any one event. */
export const WAIT_MS = 20_000;

let worlds = 0;

/** Servers, a database and a scratch folder shared by the tests of one file. */
export interface World {
  readonly infra: Infra;
  readonly dbName: string;
  readonly store: Store;
  readonly bus: Bus;
  /** Scratch folder (bundles, caches). */
  readonly root: string;
  stop(): Promise<void>;
}

/** Starts (or adopts, see testkit) NATS and MongoDB, with a fresh database and scratch folder. */
export async function startWorld(): Promise<World> {
  const infra = await startInfra();
  const dbName = `policy_${process.pid}_${worlds++}`;
  const store = await openStore({ uri: infra.mongoUri, dbName });
  const bus = await connectBus({ servers: infra.natsUrl, name: 'policy-server-tests' });
  await bus.ensureStreams();
  const root = await mkdtemp(join(tmpdir(), 'policy-server-'));
  return {
    infra,
    dbName,
    store,
    bus,
    root,
    async stop() {
      await bus.close();
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
      await infra.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Registers the bundle in `dir` as policy `id` (bundle id = policy id) and announces it. */
export async function registerPolicy(world: World, id: string, dir: string, createdAt?: Date): Promise<void> {
  const manifest = await world.store.bundles.put(id, await bundleFiles(dir));
  await world.store.policies.register({
    id,
    parentId: null,
    run: null,
    grow: 0,
    improve: 0,
    metrics: { bleu: 1.5 },
    bundleId: id,
    files: manifest.files.map((f) => ({ name: f.name, fileId: f.fileId })),
  });
  if (createdAt !== undefined) {
    await world.store.db.collection('policies').updateOne({ _id: id as never }, { $set: { createdAt } });
  }
  const messageId = `policy/${id}`;
  await world.bus.publishEvent(
    updateSubject('policies'),
    events.PolicyPublished,
    {
      messageId,
      policy: {
        policyId: id,
        parentId: '',
        runId: '',
        grow: 0,
        improve: 0,
        metrics: {},
        bundleId: id,
        createdAt: new Date(),
        loaded: false,
      },
    },
    { msgId: messageId },
  );
}

/** A started server and clients for it. */
export interface Harness {
  readonly server: PolicyServer;
  readonly logger: MemoryLogger;
  readonly policies: policy.PolicyServiceClient;
  readonly oip: inference.GRPCInferenceServiceClient;
  readonly address: string;
  close(): Promise<void>;
}

/** Starts a server on `world` with `POLICY_*` variables on top of loopback/port-0 defaults. */
export async function startHarness(
  world: World,
  env: Readonly<Record<string, string>> = {},
): Promise<Harness> {
  const config = loadConfig({
    env: {
      POLICY_GRPC__HOST: '127.0.0.1',
      POLICY_GRPC__PORT: '0',
      POLICY_GRPC__METRICS_PORT: '0',
      POLICY_GRPC__DRAIN_TIMEOUT_MS: '10s',
      POLICY_RUNTIME__INTRA_OP_THREADS: '1',
      POLICY_LOG_LEVEL: 'warn',
      POLICY_NATS_URL: world.infra.natsUrl,
      POLICY_MONGO_URI: world.infra.mongoUri,
      POLICY_MONGO_DB: world.dbName,
      POLICY_POLICIES__CACHE_DIR: join(world.root, 'cache'),
      ...env,
    },
  });
  const logger = createMemoryLogger('warn');
  const server = await startPolicyServer({ config, logger });
  const address = `127.0.0.1:${server.port}`;
  const credentials = grpc.credentials.createInsecure();
  const policies = new policy.PolicyServiceClient(address, credentials);
  const oip = new inference.GRPCInferenceServiceClient(address, credentials);
  return {
    server,
    logger,
    policies,
    oip,
    address,
    async close() {
      policies.close();
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

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** Calls a generated client's unary method and resolves with its outcome (never rejects). */
export function call<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: Partial<grpc.CallOptions> = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<Outcome<Res>> {
  return new Promise((resolve) => {
    const started = method.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + WAIT_MS, ...options },
      (error, value) => resolve(error === null ? { error: null, value } : { error, value: undefined }),
    );
    onCall?.(started);
  });
}

/** Like {@link call}, but fails the test on an error status. */
export async function ok<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: Partial<grpc.CallOptions> = {},
): Promise<Res> {
  const { error, value } = await call(client, method, request, options);
  if (error !== null) throw new Error(`call failed: ${grpc.status[error.code]} ${error.details}`);
  return value!;
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
export async function scrape(server: PolicyServer): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
  return response.text();
}

/** The value of one series in a Prometheus text scrape (0 when absent). */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const close = line.indexOf('}');
    const body = open < 0 ? '' : line.slice(open + 1, close);
    const have = new Map([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      const valueText = close < 0 ? line.slice(name.length) : line.slice(close + 1);
      sum += Number(valueText.trim().split(' ')[0]);
    }
  }
  return sum;
}

/** Polls `probe` until it returns true. @throws Error after {@link WAIT_MS} */
export async function waitUntil(probe: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
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
