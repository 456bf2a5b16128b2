/**
 * service-kit's gRPC bootstrap against a real grpc-js server on 127.0.0.1:0 and real clients:
 * health, reflection, error mapping, deadlines, streaming cancellation, and graceful shutdown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  DeadlineExceededError,
  FIELD_VIOLATIONS_KEY,
  installSignalHandlers,
  serverStream,
  startGrpcServer,
  unary,
  type RunningGrpcServer,
} from '../src/index.js';
import { createMemoryLogger, withTimeout, type MemoryLogger } from '../src/testing.js';
import {
  callUnary,
  HealthClient,
  newClient,
  newProbes,
  ReflectionClient,
  startTestServer,
  TestClient,
  WAIT_MS,
  type Client,
  type EchoResponse,
  type Probes,
} from './test-server.js';

describe('startGrpcServer (integration)', () => {
  let logger: MemoryLogger;
  let probes: Probes;
  let running: RunningGrpcServer;
  let client: Client;
  let health: Client;

  before(async () => {
    logger = createMemoryLogger();
    probes = newProbes();
    running = await startTestServer(logger, probes);
    client = newClient(TestClient, running.port);
    health = newClient(HealthClient, running.port);
  });

  after(async () => {
    client.close();
    health.close();
    await running.shutdown('test done');
  });

  it('startGrpcServer: health reports SERVING for the server and each service', async () => {
    for (const service of ['', 'kit.test.v1.TestService']) {
      const { error, value } = await callUnary<{ status: string }>(health, 'check', { service });
      assert.equal(error, null);
      assert.equal(value?.status, 'SERVING', `health of "${service}"`);
    }
    const unknown = await callUnary(health, 'check', { service: 'nope.Service' });
    assert.equal(unknown.error?.code, grpc.status.NOT_FOUND);
  });

  it('startGrpcServer: reflection lists the test service', async () => {
    const reflection = newClient(ReflectionClient, running.port);
    try {
      const stream = (reflection.serverReflectionInfo as () => grpc.ClientDuplexStream<unknown, unknown>)();
      const response = withTimeout(
        new Promise<{ listServicesResponse?: { service: { name: string }[] } }>((resolve, reject) => {
          stream.once('data', resolve);
          stream.once('error', reject);
        }),
        WAIT_MS,
        'the reflection response',
      );
      stream.write({ host: '', listServices: '' });
      const names = (await response).listServicesResponse?.service.map((s) => s.name) ?? [];
      stream.end();
      assert.ok(names.includes('kit.test.v1.TestService'), `reflection listed ${names.join(', ')}`);
    } finally {
      reflection.close();
    }
  });

  it('unary: answers, echoes the request id in trailers, logs one line and counts it in /metrics', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'req-echo-1');
    const { error, value, trailer } = await callUnary<EchoResponse>(
      client,
      'echo',
      { text: 'ab', repeat: 2 },
      {},
      metadata,
    );
    assert.equal(error, null);
    assert.equal(value?.text, 'abab');
    assert.deepEqual(trailer?.get('x-request-id'), ['req-echo-1']);
    const line = await logger.waitFor(
      (l) => l.fields.requestId === 'req-echo-1' && l.message === 'rpc finished',
    );
    assert.equal(line.fields.rpc, 'kit.test.v1.TestService/Echo');
    assert.equal(line.fields.code, 'OK');
    assert.equal(typeof line.fields.durationMs, 'number');
    const text = await (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text();
    assert.match(
      text,
      /grpc_server_handled_total\{rpc="kit.test.v1.TestService\/Echo",code="OK",service="kit-test"\} [1-9]/,
    );
    assert.equal((await fetch(`http://127.0.0.1:${running.metricsPort}/healthz`)).status, 200);
  });

  it('unary: a malformed request gets INVALID_ARGUMENT naming every bad field', async () => {
    const { error } = await callUnary(client, 'echo', { text: '', repeat: 0 });
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error.details, /EchoRequest\.text: must be non-empty/);
    assert.match(error.details, /EchoRequest\.repeat: must be in \[1, 10\] \(got 0\)/);
    const violations = JSON.parse(String(error.metadata.get(FIELD_VIOLATIONS_KEY)[0])) as { field: string }[];
    assert.deepEqual(
      violations.map((v) => v.field),
      ['EchoRequest.text', 'EchoRequest.repeat'],
    );
  });

  it('unary: an unexpected exception gets INTERNAL with a ref id and without its message', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'req-boom-7');
    const { error } = await callUnary(client, 'explode', { text: 'x', repeat: 1 }, {}, metadata);
    assert.equal(error?.code, grpc.status.INTERNAL);
    assert.equal(error.details, 'internal error (ref req-boom-7)');
    assert.doesNotMatch(error.details, /hunter2|secret|ECONNREFUSED/);
    assert.doesNotMatch(JSON.stringify(error.metadata.getMap()), /hunter2/);
    const line = await logger.waitFor((l) => l.fields.requestId === 'req-boom-7');
    assert.equal(line.level, 'error');
    assert.equal(line.fields.code, 'INTERNAL');
    const chain = line.fields.err as { message: string }[];
    assert.deepEqual(
      chain.map((l) => l.message),
      ['secret sauce: password=hunter2', 'connect ECONNREFUSED 10.0.0.7:27017'],
    );
    assert.equal(logger.lines.filter((l) => l.fields.requestId === 'req-boom-7').length, 1, 'logged once');
  });

  it('unary: an expired deadline aborts ctx.signal with DeadlineExceededError', async () => {
    const deadline = new Date(Date.now() + 200);
    const { error } = await callUnary(client, 'hang', { text: 'x', repeat: 1 }, { deadline });
    assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
    const seen = await withTimeout(probes.hangCtx.promise, WAIT_MS, 'the handler to see the deadline');
    assert.ok(seen.reason instanceof DeadlineExceededError, `reason was ${String(seen.reason)}`);
    assert.ok(seen.deadline !== undefined && Math.abs(seen.deadline.getTime() - deadline.getTime()) < 1_000);
    await logger.waitFor(
      (l) => l.fields.rpc === 'kit.test.v1.TestService/Hang' && l.fields.code === 'DEADLINE_EXCEEDED',
    );
  });

  it('serverStream: streams messages and stops the generator when the client cancels', async () => {
    const call = (client.count as (req: unknown) => grpc.ClientReadableStream<{ n: number }>)({ limit: 0 });
    const received: number[] = [];
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('error', (error: grpc.ServiceError) => resolve(error));
      call.on('end', () => resolve(undefined));
    });
    await withTimeout(
      new Promise<void>((resolve) => {
        call.on('data', (message: { n: number }) => {
          received.push(message.n);
          if (received.length === 5) resolve();
        });
      }),
      WAIT_MS,
      'five streamed messages',
    );
    call.cancel();
    const closed = await withTimeout(probes.countClosed.promise, WAIT_MS, 'the generator to be closed');
    assert.equal((closed.reason as Error).name, 'CancelledError');
    assert.deepEqual(received.slice(0, 5), [1, 2, 3, 4, 5]);
    assert.equal((await ended)?.code, grpc.status.CANCELLED);
    await logger.waitFor(
      (l) => l.fields.rpc === 'kit.test.v1.TestService/Count' && l.fields.code === 'CANCELLED',
    );
  });

  it('serverStream: a finite stream ends with OK', async () => {
    const call = (client.count as (req: unknown) => grpc.ClientReadableStream<{ n: number }>)({ limit: 3 });
    const received: number[] = [];
    call.on('data', (message: { n: number }) => received.push(message.n));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        call.on('end', resolve);
        call.on('error', reject);
      }),
      WAIT_MS,
      'the stream to end',
    );
    assert.deepEqual(received, [1, 2, 3]);
  });
});

describe('startGrpcServer shutdown (integration)', () => {
  it('shutdown: SIGTERM turns health NOT_SERVING, refuses new calls and lets the in-flight call finish', async () => {
    const logger = createMemoryLogger();
    const probes = newProbes();
    const running = await startTestServer(logger, probes);
    const client = newClient(TestClient, running.port);
    const health = newClient(HealthClient, running.port);
    const signals = new EventEmitter();
    const handlers = installSignalHandlers({
      logger,
      source: signals,
      shutdown: [(reason) => running.shutdown(reason)],
    });
    const watch = (health.watch as (req: unknown) => grpc.ClientReadableStream<{ status: string }>)({
      service: '',
    });
    watch.on('error', () => {});
    try {
      const statuses: string[] = [];
      const sawStatus = (wanted: string): Promise<void> =>
        withTimeout(
          new Promise<void>((resolve) => {
            if (statuses.includes(wanted)) return resolve();
            watch.on('data', (m: { status: string }) => m.status === wanted && resolve());
          }),
          WAIT_MS,
          `health ${wanted}`,
        );
      watch.on('data', (m: { status: string }) => statuses.push(m.status));
      await sawStatus('SERVING');

      const slow = callUnary<EchoResponse>(client, 'slow', { text: 'work', repeat: 1 });
      await withTimeout(probes.slowStarted.promise, WAIT_MS, 'the slow call to start');

      signals.emit('SIGTERM');
      await sawStatus('NOT_SERVING');
      const check = await callUnary<{ status: string }>(health, 'check', {
        service: 'kit.test.v1.TestService',
      });
      assert.equal(check.value?.status, 'NOT_SERVING');

      const refused = await callUnary(client, 'echo', { text: 'late', repeat: 1 });
      assert.equal(refused.error?.code, grpc.status.UNAVAILABLE);
      assert.equal(running.inFlight, 1);

      probes.releaseSlow.resolve();
      const finished = await slow;
      assert.equal(finished.error, null);
      assert.equal(finished.value?.text, 'slow work');

      watch.cancel();
      assert.equal(await withTimeout(handlers.exitCode, WAIT_MS, 'shutdown to finish'), 0);
      const line = await logger.waitFor((l) => l.message === 'shut down');
      assert.equal(line.fields.drained, true);
      assert.equal(line.fields.forced, false);
      const after = await callUnary(
        client,
        'echo',
        { text: 'gone', repeat: 1 },
        { deadline: Date.now() + 1_000 },
      );
      assert.ok(after.error !== null, 'calls after shutdown fail');
    } finally {
      probes.releaseSlow.resolve();
      watch.cancel();
      handlers.uninstall();
      client.close();
      health.close();
      await running.shutdown('test cleanup');
    }
  });
});

describe('startGrpcServer start-up checks', () => {
  it('startGrpcServer: refuses an implementation that misses a method or has the wrong kind', async () => {
    await assert.rejects(
      startGrpcServer({
        host: '127.0.0.1',
        port: 0,
        maxReceiveMessageBytes: 1024,
        maxSendMessageBytes: 1024,
        logger: createMemoryLogger(),
        services: [
          {
            definition: TestClient.service,
            implementation: {
              echo: serverStream(async function* () {}),
              typo: unary(() => Promise.resolve({})),
            },
          },
        ],
      }),
      (error: Error) =>
        error instanceof TypeError &&
        /TestService\/Echo: implemented with serverStream\(\) but the proto says unary/.test(error.message) &&
        /TestService\/Slow: no implementation/.test(error.message) &&
        /"typo" is not a method/.test(error.message),
    );
  });
});
