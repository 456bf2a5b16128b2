// CoordinatorService over real NATS (JetStream) and FerretDB from @rest/testkit, served alone by
// service-kit's startGrpcServer on 127.0.0.1:0 and called through the generated grpc-js client.
// Nothing advances the runs here (no engine): tests move them through the store and publish the
// run events themselves, as the engine and the workers would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { connectBus, runEventSubject, type Bus, type RunEvent } from '@rest/bus';
import { coordinator, events, runSpec } from '@rest/proto';
import { startGrpcServer, type RunningGrpcServer } from '@rest/service-kit';
import { createMemoryLogger } from '@rest/service-kit/testing';
import { openStore, type Store } from '@rest/store';
import { startInfra, type Infra } from '@rest/testkit';
import { coordinatorService } from '../src/index.js';

const WAIT_MS = 20_000;
const TAG = randomBytes(3).toString('hex');
const id = (name: string): string => `it-${TAG}-${name}`;

let infra: Infra;
let store: Store;
let bus: Bus;
let server: RunningGrpcServer;
let client: coordinator.CoordinatorServiceClient;

const SPEC: runSpec.RunSpec = runSpec.RunSpec.fromPartial({
  dataset: { name: 'tiny' },
  basePolicyId: 'base',
  reward: { model: 'chrf' },
  growSteps: 1,
  improveSteps: 2,
  thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.5, 0.6] } } },
  samplesPerSource: 2,
});

before(async () => {
  infra = await startInfra();
  store = await openStore({ uri: infra.mongoUri, dbName: `coord_it_${TAG}` });
  bus = await connectBus({ servers: infra.natsUrl, name: 'coordinator-tests' });
  await bus.ensureStreams();
  for (const split of ['train', 'valid', 'test'] as const) {
    await store.datasets.upsert(
      'tiny',
      split,
      [0, 1, 2].map((idx) => ({ idx, source: `${split} ${idx}`, reference: `ref ${idx}` })),
    );
  }
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [coordinatorService({ store, bus, logger: createMemoryLogger('warn'), watchCheckMs: 100 })],
    maxReceiveMessageBytes: 4 << 20,
    maxSendMessageBytes: 4 << 20,
    drainTimeoutMs: 2000,
    logger: createMemoryLogger('warn'),
  });
  client = new coordinator.CoordinatorServiceClient(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  );
});

after(async () => {
  client?.close();
  await server?.shutdown('tests done');
  await bus?.close();
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
  await infra?.stop();
});

type Outcome<Res> = { error: grpc.ServiceError | null; value: Res | undefined };
type Client = coordinator.CoordinatorServiceClient;
type UnaryName = 'createRun' | 'getRun' | 'listRuns' | 'cancelRun';
/** The request and response types of a generated unary method (its last, 4-argument overload). */
type Unary<F> = F extends (
  request: infer Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: infer Res) => void,
) => grpc.ClientUnaryCall
  ? { request: Req; response: Res }
  : never;
type Req<K extends UnaryName> = Unary<Client[K]>['request'];
type Res<K extends UnaryName> = Unary<Client[K]>['response'];

/** Calls one unary method; resolves with its outcome (never rejects). */
function call<K extends UnaryName>(method: K, request: Req<K>): Promise<Outcome<Res<K>>> {
  const fn = client[method] as (
    request: Req<K>,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (error: grpc.ServiceError | null, response: Res<K>) => void,
  ) => grpc.ClientUnaryCall;
  return new Promise((resolve) => {
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + WAIT_MS }, (error, value) =>
      resolve(error === null ? { error: null, value } : { error, value: undefined }),
    );
  });
}

/** Like {@link call}; fails the test on an error status. */
async function ok<K extends UnaryName>(method: K, request: Req<K>): Promise<Res<K>> {
  const { error, value } = await call(method, request);
  if (error !== null) throw new Error(`${grpc.status[error.code]}: ${error.details}`);
  return value!;
}

const create = (runId: string, spec: runSpec.RunSpec = SPEC): Promise<coordinator.CreateRunResponse> =>
  ok('createRun', { runId, spec });

/** The field paths of an INVALID_ARGUMENT's violations trailer. */
function violatedFields(error: grpc.ServiceError | null): string[] {
  const raw = error?.metadata.get('rest-field-violations-bin')[0];
  if (raw === undefined) return [];
  return (JSON.parse(Buffer.from(raw as Buffer).toString('utf8')) as { field: string }[]).map((v) => v.field);
}

/** Publishes one run event the way the engine and the workers do. */
async function publish(
  runId: string,
  name: RunEvent,
  event: events.RunEvent['event'],
  grow = 1,
  improve = 0,
): Promise<number> {
  const messageId = `${runId}/g${grow}/i${improve}/${name}`;
  const ack = await bus.publishEvent(
    runEventSubject(runId, name),
    events.RunEvent,
    { messageId, runId, grow, improve, at: new Date(), event },
    { msgId: messageId },
  );
  return ack.seq;
}

/** Follows WatchRun to its end; resolves with what came and how it ended. */
function watch(
  request: Partial<coordinator.WatchRunRequest>,
  onData?: (response: coordinator.WatchRunResponse, stream: grpc.ClientReadableStream<unknown>) => void,
): Promise<{ responses: coordinator.WatchRunResponse[]; code: grpc.status }> {
  return new Promise((resolve) => {
    const responses: coordinator.WatchRunResponse[] = [];
    const stream = client.watchRun(coordinator.WatchRunRequest.fromPartial(request), {
      deadline: Date.now() + WAIT_MS,
    });
    stream.on('data', (r: coordinator.WatchRunResponse) => {
      responses.push(r);
      onData?.(r, stream);
    });
    stream.on('error', () => undefined);
    stream.on('status', (s: grpc.StatusObject) => resolve({ responses, code: s.code }));
  });
}

describe('CoordinatorService', () => {
  it('CreateRun: rejects a bad spec and run id listing every field', async () => {
    const spec = runSpec.RunSpec.fromPartial({
      ...SPEC,
      growSteps: 0,
      reward: undefined,
      thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.5] } } },
    });
    const { error } = await call('createRun', { runId: 'bad.id', spec });
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    const fields = violatedFields(error);
    for (const field of [
      'CreateRunRequest.run_id',
      'CreateRunRequest.spec.grow_steps',
      'CreateRunRequest.spec.reward',
      'CreateRunRequest.spec.threshold_schedule.fixed.thresholds',
    ])
      assert.ok(fields.includes(field), `${field} in ${fields.join(', ')}`);
    assert.match(error.details, /CreateRunRequest\.spec\.grow_steps: /);
    const missing = await call('createRun', { runId: '', spec: undefined });
    assert.deepEqual(violatedFields(missing.error), ['CreateRunRequest.spec']);
  });

  it('CreateRun: NOT_FOUND for a dataset without sentences', async () => {
    const spec = runSpec.RunSpec.fromPartial({ ...SPEC, dataset: { name: 'nowhere' } });
    const { error } = await call('createRun', { runId: id('nodata'), spec });
    assert.equal(error?.code, grpc.status.NOT_FOUND);
    assert.match(error.details, /dataset "nowhere" has no sentences in split train, valid, test/);
  });

  it('CreateRun: a replay returns the run, another spec under its id is ALREADY_EXISTS', async () => {
    const runId = id('replay');
    const first = (await create(runId)).run!;
    assert.equal(first.runId, runId);
    assert.equal(first.state, coordinator.RunState.RUN_STATE_PENDING);
    assert.equal(first.version, 1);
    assert.equal(first.policyId, 'base');
    assert.equal(first.spec?.growSteps, 1);
    assert.equal(typeof first.spec?.seed, 'bigint', 'the drawn seed is stored');
    const again = (await create(runId)).run!;
    assert.equal(again.spec?.seed, first.spec?.seed);
    assert.equal(again.createdAt?.getTime(), first.createdAt?.getTime());
    const withSeed = (await create(runId, { ...SPEC, seed: first.spec.seed })).run!;
    assert.equal(withSeed.version, 1);
    const other = await call('createRun', { runId, spec: { ...SPEC, samplesPerSource: 3 } });
    assert.equal(other.error?.code, grpc.status.ALREADY_EXISTS);
    assert.match(other.error.details, new RegExp(`run ${runId} already exists with a different spec`));
    const assigned = (await create('')).run!;
    assert.match(assigned.runId, /^[0-9a-f]{24}$/);
  });

  it('GetRun: the run with its metrics history; NOT_FOUND and INVALID_ARGUMENT', async () => {
    const runId = id('metrics');
    await create(runId);
    await store.runs.appendMetrics(runId, {
      key: 'g0/i0/eval',
      grow: 0,
      improve: 0,
      values: { reward_mean: 0.41, bleu: 12.5 },
    });
    await store.runs.appendMetrics(runId, {
      key: 'g1/grow',
      grow: 1,
      improve: 0,
      values: { num_samples: 6, reward_mean: 0.38 },
    });
    await store.runs.transition(runId, { from: 'pending', to: 'growing', grow: 1 });
    const run = (await ok('getRun', { runId })).run!;
    assert.equal(run.state, coordinator.RunState.RUN_STATE_GROWING);
    assert.equal(run.grow, 1);
    assert.equal(run.version, 2);
    assert.deepEqual(
      run.history.map((m) => [m.key, m.grow, m.improve, m.values]),
      [
        ['g0/i0/eval', 0, 0, { reward_mean: 0.41, bleu: 12.5 }],
        ['g1/grow', 1, 0, { num_samples: 6, reward_mean: 0.38 }],
      ],
    );
    assert.ok(run.history[0]!.at instanceof Date);
    const missing = await call('getRun', { runId: id('absent') });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
    const bad = await call('getRun', { runId: '' });
    assert.deepEqual(violatedFields(bad.error), ['GetRunRequest.run_id']);
  });

  it('ListRuns: newest first in pages, and a state filter', async () => {
    const ids = ['list-a', 'list-b', 'list-c', 'list-d'].map(id);
    for (const runId of ids) await create(runId);
    await store.runs.transition(ids[1]!, { from: 'pending', to: 'failed', error: 'boom' });
    const seen: coordinator.Run[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await ok('listRuns', {
        state: coordinator.RunState.RUN_STATE_UNSPECIFIED,
        pageSize: 2,
        pageToken,
      });
      assert.ok(page.runs.length <= 2);
      assert.ok(page.runs.every((r) => r.history.length === 0));
      seen.push(...page.runs);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '');
    const total = (await ok('listRuns', { state: 0, pageSize: 500, pageToken: '' })).runs.length;
    assert.equal(seen.length, total);
    assert.equal(pages, Math.ceil(total / 2));
    assert.equal(new Set(seen.map((r) => r.runId)).size, seen.length, 'no run twice');
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      const d = a.createdAt!.getTime() - b.createdAt!.getTime();
      assert.ok(d > 0 || (d === 0 && a.runId > b.runId), `${a.runId} before ${b.runId}`);
    }
    const mine = seen.map((r) => r.runId).filter((r) => ids.includes(r));
    assert.deepEqual(
      mine,
      [...ids].sort((a, b) => {
        const at = (x: string) => seen.find((r) => r.runId === x)!.createdAt!.getTime();
        return at(b) - at(a) || (a < b ? 1 : -1);
      }),
    );
    const failed = await ok('listRuns', {
      state: coordinator.RunState.RUN_STATE_FAILED,
      pageSize: 0,
      pageToken: '',
    });
    assert.ok(failed.runs.some((r) => r.runId === ids[1]));
    assert.ok(failed.runs.every((r) => r.state === coordinator.RunState.RUN_STATE_FAILED));
    assert.equal(failed.runs.find((r) => r.runId === ids[1])!.error, 'boom');
    const bad = await call('listRuns', { state: 0, pageSize: 501, pageToken: 'nope' });
    assert.deepEqual(violatedFields(bad.error), ['ListRunsRequest.page_size', 'ListRunsRequest.page_token']);
  });

  it('CancelRun: cancels, publishes run.failed once, and is idempotent', async () => {
    const runId = id('cancel');
    await create(runId);
    await store.runs.transition(runId, { from: 'pending', to: 'growing', grow: 1 });
    const cancelled = (await ok('cancelRun', { runId, reason: 'changed my mind' })).run!;
    assert.equal(cancelled.state, coordinator.RunState.RUN_STATE_CANCELLED);
    assert.equal(cancelled.error, 'changed my mind');
    const again = (await ok('cancelRun', { runId, reason: 'twice' })).run!;
    assert.equal(again.version, cancelled.version);
    assert.equal(again.error, 'changed my mind');
    // A sentinel after both calls: everything before it in the run's log is what CancelRun published.
    await publish(runId, 'run.completed', {
      $case: 'runCompleted',
      runCompleted: { finalPolicyId: '', metrics: {} },
    });
    const reader = await bus.readRunEvents(runId, events.RunEvent);
    const got: { msgId: string | undefined; message: events.RunEvent }[] = [];
    for await (const record of reader) {
      if (record.message.event?.$case === 'runCompleted') break;
      got.push({ msgId: record.msgId, message: record.message });
    }
    assert.equal(got.length, 1, 'one run.failed');
    assert.equal(got[0]!.msgId, `${runId}/run.failed`);
    const event = got[0]!.message.event;
    assert.equal(event?.$case, 'runFailed');
    assert.equal(event.runFailed.reason, events.RunFailureReason.RUN_FAILURE_REASON_CANCELLED);
    assert.equal(event.runFailed.message, 'changed my mind');

    const done = id('cancel-done');
    await create(done);
    await store.runs.transition(done, { from: 'pending', to: 'growing', grow: 1 });
    await store.runs.transition(done, { from: 'growing', to: 'completed', policyId: 'p-final' });
    const unchanged = (await ok('cancelRun', { runId: done, reason: '' })).run!;
    assert.equal(unchanged.state, coordinator.RunState.RUN_STATE_COMPLETED);
    assert.equal(unchanged.finalPolicyId, 'p-final');
    const missing = await call('cancelRun', { runId: id('absent'), reason: '' });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
  });

  it('WatchRun: replays the log, resumes after a sequence, follows live and ends after run.completed', async () => {
    const runId = id('watch');
    await create(runId);
    const seqs = [
      await publish(runId, 'grow.started', {
        $case: 'growStarted',
        growStarted: { policyId: 'base', numShards: 2, numSources: 3 },
      }),
      await publish(runId, 'grow.shard.done', {
        $case: 'growShardDone',
        growShardDone: { shard: 0, numSources: 2, numSamples: 4, rewards: undefined, worker: 'w' },
      }),
    ];
    let sentLive = false;
    const live = watch({ runId }, (response) => {
      // Once the replay reached the last stored event, the rest is published while the call follows.
      if (sentLive || response.sequence !== BigInt(seqs[1]!)) return;
      sentLive = true;
      void (async () => {
        seqs.push(
          await publish(runId, 'grow.completed', {
            $case: 'growCompleted',
            growCompleted: { numSamples: 6n, numSources: 3, rewards: undefined },
          }),
        );
        seqs.push(
          await publish(runId, 'run.completed', {
            $case: 'runCompleted',
            runCompleted: { finalPolicyId: 'p1', metrics: { bleu: 3 } },
          }),
        );
        // Published after run.completed: the watch must have ended before it.
        await publish(runId, 'eval.completed', {
          $case: 'evalCompleted',
          evalCompleted: { policyId: 'p1', split: 'test', numSources: 3, rewards: undefined, metrics: {} },
        });
      })();
    });
    const all = await live;
    assert.equal(all.code, grpc.status.OK);
    assert.deepEqual(
      all.responses.map((r) => r.event?.event?.$case),
      ['growStarted', 'growShardDone', 'growCompleted', 'runCompleted'],
    );
    assert.deepEqual(
      all.responses.map((r) => r.sequence),
      seqs.map((s) => BigInt(s)),
    );
    const resumed = await watch({ runId, afterSequence: BigInt(seqs[1]!) });
    assert.equal(resumed.code, grpc.status.OK);
    assert.deepEqual(
      resumed.responses.map((r) => r.event?.event?.$case),
      ['growCompleted', 'runCompleted'],
    );
    const unknown = await watch({ runId: id('absent') });
    assert.equal(unknown.code, grpc.status.NOT_FOUND);
  });

  it('WatchRun: ends for a run that is over without a final event in the log', async () => {
    const runId = id('quiet');
    await create(runId);
    await publish(runId, 'grow.started', {
      $case: 'growStarted',
      growStarted: { policyId: 'base', numShards: 1, numSources: 3 },
    });
    await store.runs.transition(runId, { from: 'pending', to: 'failed', error: 'lost' });
    const { responses, code } = await watch({ runId });
    assert.equal(code, grpc.status.OK);
    assert.deepEqual(
      responses.map((r) => r.event?.event?.$case),
      ['growStarted'],
    );
  });

  it('WatchRun: a client cancel ends the call on the server', async () => {
    const runId = id('cancel-watch');
    await create(runId);
    await publish(runId, 'grow.started', {
      $case: 'growStarted',
      growStarted: { policyId: 'base', numShards: 1, numSources: 3 },
    });
    const { code } = await watch({ runId }, (_response, stream) => stream.cancel());
    assert.equal(code, grpc.status.CANCELLED);
    const deadline = Date.now() + WAIT_MS;
    while (server.inFlight > 0) {
      assert.ok(Date.now() < deadline, 'the watch is still in flight on the server');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
