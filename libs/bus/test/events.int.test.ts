/**
 * The run-event log and the policy/route notices against a real nats-server 2.9, plus stream
 * set-up and connection lifecycle.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { RetentionPolicy, jetstreamManager } from '@nats-io/jetstream';
import {
  STREAMS,
  connectBus,
  runEventSubject,
  streamConfigs,
  updateSubject,
  type Bus,
  type RunEvent,
  type RunEventRecord,
} from '@rest/bus';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '@rest/service-kit';
import { startNatsServer, type NatsServer } from '@rest/testkit';
import { ItemCodec, resetStreams, within, type Item } from './helpers.js';

/** Takes `n` records from a reader, failing after `deadlineMs`. */
async function take<E>(
  iterator: AsyncIterator<E>,
  n: number,
  what: string,
  deadlineMs = 10_000,
): Promise<E[]> {
  const out: E[] = [];
  while (out.length < n) {
    const r = await within(iterator.next(), `${what} #${out.length + 1}`, deadlineMs);
    if (r.done === true) throw new Error(`${what}: reader ended after ${out.length}`);
    out.push(r.value);
  }
  return out;
}

describe('event log', () => {
  let server: NatsServer;
  let bus: Bus;

  before(async () => {
    server = await startNatsServer();
    bus = await connectBus({ servers: server.url, name: 'bus-events-test' });
  });
  after(async () => {
    await bus?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    await resetStreams(bus);
  });

  async function emit(runId: string, event: RunEvent, n: number): Promise<void> {
    await bus.publishEvent(
      runEventSubject(runId, event),
      ItemCodec,
      { id: `${runId}/${event}`, n },
      { msgId: `${runId}:${event}:${n}` },
    );
  }

  test('readRunEvents: a late subscriber replays the run from its first event, in order, then sees live ones', async () => {
    await emit('run-a', 'grow.started', 0);
    await emit('run-b', 'grow.started', 0);
    await emit('run-a', 'grow.shard.done', 1);
    await emit('run-a', 'grow.shard.done', 2);
    await emit('run-b', 'run.failed', 0);
    await emit('run-a', 'grow.completed', 3);

    const reader = await bus.readRunEvents('run-a', ItemCodec);
    const iterator = reader[Symbol.asyncIterator]();
    try {
      const replayed = await take(iterator, 4, 'replayed event');
      assert.deepEqual(
        replayed.map((r) => [r.runId, r.event, r.message.n]),
        [
          ['run-a', 'grow.started', 0],
          ['run-a', 'grow.shard.done', 1],
          ['run-a', 'grow.shard.done', 2],
          ['run-a', 'grow.completed', 3],
        ],
      );
      assert.ok(replayed.every((r, i) => i === 0 || r.seq > (replayed[i - 1] as RunEventRecord<Item>).seq));
      assert.equal(replayed[0]?.msgId, 'run-a:grow.started:0');

      await emit('run-a', 'improve.started', 4);
      const [live] = await take(iterator, 1, 'live event');
      assert.equal(live?.event, 'improve.started');
    } finally {
      await reader.stop();
    }
    assert.deepEqual(await within(iterator.next(), 'the end after stop()'), { done: true, value: undefined });
  });

  test('readRunEvents: breaking out of for-await stops the reader', async () => {
    await emit('run-c', 'run.completed', 9);
    const reader = await bus.readRunEvents('run-c', ItemCodec);
    const seen: string[] = [];
    for await (const r of reader) {
      seen.push(r.event);
      break;
    }
    assert.deepEqual(seen, ['run.completed']);
  });

  test('readRunEvents: an undecodable event is skipped, not fatal', async () => {
    const js = (await jetstreamManager(bus.connection)).jetstream();
    await js.publish(runEventSubject('run-d', 'grow.started'), new Uint8Array([1, 2, 3]));
    await emit('run-d', 'grow.completed', 1);
    const reader = await bus.readRunEvents('run-d', ItemCodec);
    try {
      const [only] = await take(reader[Symbol.asyncIterator](), 1, 'the decodable event');
      assert.equal(only?.event, 'grow.completed');
    } finally {
      await reader.stop();
    }
  });

  test('readRunEvents: rejects a run id with a dot or a wildcard', async () => {
    await assert.rejects(bus.readRunEvents('a.b', ItemCodec), InvalidArgumentError);
    await assert.rejects(bus.readRunEvents('>', ItemCodec), InvalidArgumentError);
  });

  test('readAllRunEvents: every run from a sequence on, so a reader resumes after the last one it handled', async () => {
    await emit('run-e', 'grow.started', 0);
    await emit('run-f', 'grow.started', 0);
    await emit('run-e', 'grow.completed', 1);
    const all = await bus.readAllRunEvents(0, ItemCodec);
    const first = await take(all[Symbol.asyncIterator](), 3, 'event from the start');
    await all.stop();
    assert.deepEqual(
      first.map((r) => [r.runId, r.event]),
      [
        ['run-e', 'grow.started'],
        ['run-f', 'grow.started'],
        ['run-e', 'grow.completed'],
      ],
    );
    await emit('run-f', 'run.completed', 2);
    const resumed = await bus.readAllRunEvents((first[0] as RunEventRecord<Item>).seq, ItemCodec);
    try {
      const rest = await take(resumed[Symbol.asyncIterator](), 3, 'event after the first');
      assert.deepEqual(
        rest.map((r) => [r.runId, r.event]),
        [
          ['run-f', 'grow.started'],
          ['run-e', 'grow.completed'],
          ['run-f', 'run.completed'],
        ],
      );
    } finally {
      await resumed.stop();
    }
    await assert.rejects(bus.readAllRunEvents(-1, ItemCodec), InvalidArgumentError);
  });

  test('readUpdates: from "new" sees only notices published after it opened; "last" starts at the latest', async () => {
    const policies = updateSubject('policies');
    await bus.publishEvent(policies, ItemCodec, { id: 'policy-1', n: 1 }, { msgId: 'policy-1' });
    const fresh = await bus.readUpdates('policies', ItemCodec);
    const latest = await bus.readUpdates('policies', ItemCodec, 'last');
    try {
      await bus.publishEvent(updateSubject('routes'), ItemCodec, { id: 'routes-1', n: 1 });
      await bus.publishEvent(policies, ItemCodec, { id: 'policy-2', n: 2 }, { msgId: 'policy-2' });
      const [next] = await take(fresh[Symbol.asyncIterator](), 1, 'the new policy notice');
      assert.equal(next?.message.id, 'policy-2');
      assert.equal(next?.kind, 'policies');
      const fromLast = await take(latest[Symbol.asyncIterator](), 2, 'policy notices from the latest');
      assert.deepEqual(
        fromLast.map((r) => r.message.id),
        ['policy-1', 'policy-2'],
      );
    } finally {
      await fresh.stop();
      await latest.stop();
    }
  });

  test('publishEvent: the same msgId within the duplicate window is acknowledged as duplicate', async () => {
    const subject = runEventSubject('run-e', 'eval.completed');
    const a = await bus.publishEvent(subject, ItemCodec, { id: 'e', n: 1 }, { msgId: 'run-e:eval' });
    const b = await bus.publishEvent(subject, ItemCodec, { id: 'e', n: 1 }, { msgId: 'run-e:eval' });
    assert.deepEqual([a.duplicate, b.duplicate, b.seq], [false, true, a.seq]);
  });

  test('ensureStreams: is idempotent and applies a new duplicate window to existing streams', async () => {
    await bus.ensureStreams();
    await bus.ensureStreams({ duplicateWindowMs: 5 * 60_000 });
    const jsm = await jetstreamManager(bus.connection);
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    assert.deepEqual(names.sort(), Object.values(STREAMS).sort());
    const runs = await jsm.streams.info(STREAMS.runs);
    assert.equal(runs.config.duplicate_window, 5 * 60_000 * 1_000_000);
    const grow = await jsm.streams.info(STREAMS.workGrow);
    assert.equal(grow.config.retention, 'workqueue');
    assert.equal(grow.config.storage, 'file');
  });

  test('ensureStreams: an immutable mismatch (retention) is a FailedPreconditionError', async () => {
    const jsm = await jetstreamManager(bus.connection);
    await jsm.streams.delete(STREAMS.workEval);
    const evalConfig = streamConfigs().find((c) => c.name === STREAMS.workEval);
    await jsm.streams.add({ ...evalConfig, retention: RetentionPolicy.Limits, name: STREAMS.workEval });
    await assert.rejects(bus.ensureStreams(), FailedPreconditionError);
  });

  test('streamConfigs: rejects a duplicate window longer than a max age, naming both fields', () => {
    assert.throws(
      () => streamConfigs({ duplicateWindowMs: 60_000, runEventsMaxAgeMs: 1_000 }),
      (err: unknown) => err instanceof InvalidArgumentError && /runEventsMaxAgeMs/.test(err.message),
    );
  });
});

describe('connection', () => {
  test('connectBus: an unreachable server is an UnavailableError', async () => {
    await assert.rejects(
      connectBus({
        servers: 'nats://127.0.0.1:1',
        name: 'nowhere',
        connectTimeoutMs: 1_000,
        maxReconnectAttempts: 0,
      }),
      UnavailableError,
    );
  });

  test('Bus.close: stops running workers and drains; a second close is a no-op', async () => {
    const server = await startNatsServer();
    try {
      const bus = await connectBus({ servers: server.url, name: 'bus-close-test' });
      await bus.ensureStreams();
      const consumer = await bus.workConsumer('eval', ItemCodec);
      consumer.consume(() => {}, { concurrency: 3 });
      await within(bus.close(), 'close()', 10_000);
      await bus.close();
      assert.equal(bus.connection.isClosed(), true);
    } finally {
      await server.stop();
    }
  });
});
