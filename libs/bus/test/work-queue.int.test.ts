/**
 * Work queues against a real nats-server 2.9: redelivery after a killed worker, the dead-letter
 * path, de-duplication, poison messages and working() heartbeats.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import {
  DEAD_LETTER_HEADERS,
  STREAMS,
  connectBus,
  workConsumerName,
  workSubject,
  type Bus,
  type WorkContext,
} from '@rest/bus';
import { InvalidArgumentError } from '@rest/service-kit';
import { startNatsServer, type NatsServer } from '@rest/testkit';
import { Inbox, ItemCodec, resetStreams, spawnHoldingWorker, within, type Item } from './helpers.js';

const GROW = workSubject('grow');

describe('work queues', () => {
  let server: NatsServer;
  let bus: Bus;
  let jsm: JetStreamManager;

  before(async () => {
    server = await startNatsServer();
    bus = await connectBus({ servers: server.url, name: 'bus-work-test' });
    jsm = await jetstreamManager(bus.connection);
  });
  after(async () => {
    await bus?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    await resetStreams(bus);
  });

  async function workStreamMessages(): Promise<number> {
    return (await jsm.streams.info(STREAMS.workGrow)).state.messages;
  }

  test('WorkConsumer: a message whose worker is SIGKILLed before ack is redelivered to another worker', async () => {
    const ackWaitMs = 1_000;
    const holder = spawnHoldingWorker(server.url, 'grow', ackWaitMs, 5);
    try {
      // The child creates the consumer; publish once it is ready to pull.
      await bus.publishWork(GROW, ItemCodec, { id: 'shard-1', n: 1 }, { msgId: 'run1:grow:1' });
      const held = await within(holder.holding, 'the child worker to take the message', 15_000);
      assert.equal(held.deliveryCount, 1);
      await holder.kill();

      const got = new Inbox<{ item: Item; ctx: WorkContext }>();
      const consumer = await bus.workConsumer('grow', ItemCodec, { ackWaitMs, maxDeliver: 5 });
      const sub = consumer.consume((item, ctx) => {
        got.push({ item, ctx });
      });
      const redelivered = await got.next('the redelivery to the second worker');
      await sub.stop();

      assert.deepEqual(redelivered.item, { id: 'shard-1', n: 1 });
      assert.equal(redelivered.ctx.streamSequence, held.seq);
      assert.equal(redelivered.ctx.deliveryCount, 2);
      assert.equal(redelivered.ctx.msgId, 'run1:grow:1');
      assert.equal(await workStreamMessages(), 0, 'acked work leaves the work-queue stream');
    } finally {
      await holder.kill();
    }
  });

  test('WorkConsumer: after max deliveries a failing message lands on the dead-letter subject with payload and source headers', async () => {
    const deadLetters = await bus.readDeadLetters('grow');
    const attempts = new Inbox<number>();
    const consumer = await bus.workConsumer('grow', ItemCodec, {
      ackWaitMs: 2_000,
      maxDeliver: 3,
      retryInitialMs: 20,
      retryMaxMs: 50,
    });
    const sub = consumer.consume((_item, ctx) => {
      attempts.push(ctx.deliveryCount);
      throw new Error('reward server unavailable');
    });
    try {
      const published = await bus.publishWork(
        GROW,
        ItemCodec,
        { id: 'poison', n: 7 },
        { msgId: 'run1:grow:7', headers: { 'Rest-Run-Id': 'run1' } },
      );
      const iterator = deadLetters[Symbol.asyncIterator]();
      const dead = await within(iterator.next(), 'the dead letter');
      assert.equal(dead.done, false);
      const letter = dead.value;
      assert.deepEqual(ItemCodec.decode(letter.data), { id: 'poison', n: 7 });
      assert.equal(letter.reason, 'max_deliveries');
      assert.equal(letter.deliveries, 3);
      assert.equal(letter.sourceSequence, published.seq);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.stream], STREAMS.workGrow);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.subject], GROW);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.consumer], workConsumerName('grow'));
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.msgId], 'run1:grow:7');
      assert.equal(letter.headers['Rest-Run-Id'], 'run1', 'original headers are kept');
      assert.deepEqual(
        [await attempts.next('1st'), await attempts.next('2nd'), await attempts.next('3rd')],
        [1, 2, 3],
      );
      assert.equal(await workStreamMessages(), 0, 'the mover removes it from the work stream');
    } finally {
      await sub.stop();
      await deadLetters.stop();
    }
  });

  test('WorkConsumer: a message whose last delivery dies with its worker is dead-lettered after ack_wait', async () => {
    const holder = spawnHoldingWorker(server.url, 'grow', 500, 1);
    const deadLetters = await bus.readDeadLetters('grow');
    try {
      await bus.publishWork(GROW, ItemCodec, { id: 'orphan', n: 1 }, { msgId: 'run1:grow:orphan' });
      await within(holder.holding, 'the child worker to take the message', 15_000);
      await holder.kill();
      // Something must run the mover: a live worker of the queue does.
      const consumer = await bus.workConsumer('grow', ItemCodec, { ackWaitMs: 500, maxDeliver: 1 });
      const calls = new Inbox<Item>();
      const sub = consumer.consume((item) => {
        calls.push(item);
      });
      const dead = await within(deadLetters[Symbol.asyncIterator]().next(), 'the dead letter');
      await sub.stop();
      assert.equal(dead.done, false);
      assert.equal(dead.value.reason, 'max_deliveries');
      assert.equal(dead.value.deliveries, 1);
      assert.deepEqual(ItemCodec.decode(dead.value.data), { id: 'orphan', n: 1 });
      assert.equal(calls.size, 0, 'no worker gets it past max_deliver');
    } finally {
      await holder.kill();
      await deadLetters.stop();
    }
  });

  test('publishWork: a message published twice with the same id is stored and delivered once', async () => {
    const first = await bus.publishWork(GROW, ItemCodec, { id: 'dup', n: 1 }, { msgId: 'run1:grow:dup' });
    const second = await bus.publishWork(GROW, ItemCodec, { id: 'dup', n: 1 }, { msgId: 'run1:grow:dup' });
    await bus.publishWork(GROW, ItemCodec, { id: 'sentinel', n: 2 }, { msgId: 'run1:grow:sentinel' });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);

    const got = new Inbox<string>();
    const consumer = await bus.workConsumer('grow', ItemCodec);
    const sub = consumer.consume((item) => {
      got.push(item.id);
    });
    const ids = [await got.next('first'), await got.next('sentinel')];
    await sub.stop();
    assert.deepEqual(ids, ['dup', 'sentinel'], 'the duplicate was never queued: the sentinel comes next');
    assert.equal(got.size, 0);
  });

  test('Bus.workConsumer: a second call with other settings updates the shared durable consumer', async () => {
    await bus.workConsumer('grow', ItemCodec, { ackWaitMs: 1_000, maxDeliver: 2 });
    await bus.workConsumer('grow', ItemCodec, { ackWaitMs: 3_000, maxDeliver: 4 });
    const info = await jsm.consumers.info(STREAMS.workGrow, workConsumerName('grow'));
    assert.equal(info.config.ack_wait, 3_000 * 1_000_000);
    assert.equal(info.config.max_deliver, 4);
    assert.equal(info.config.ack_policy, 'explicit');
  });

  test('publishWork: rejects a missing or malformed msgId', async () => {
    await assert.rejects(
      bus.publishWork(GROW, ItemCodec, { id: 'x', n: 1 }, {} as { msgId: string }),
      (err: unknown) => err instanceof InvalidArgumentError && /msgId/.test(err.message),
    );
    await assert.rejects(
      bus.publishWork(GROW, ItemCodec, { id: 'x', n: 1 }, { msgId: 'has space' }),
      InvalidArgumentError,
    );
  });

  test('WorkConsumer: an undecodable payload is terminated, dead-lettered and never redelivered', async () => {
    const deadLetters = await bus.readDeadLetters('grow');
    // A producer that bypasses the codec (another version, a bug): raw bytes on the work subject.
    const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x13]);
    const h = headers();
    h.set('Rest-Run-Id', 'run1');
    await jetstream(bus.connection).publish(GROW, garbage, { msgID: 'run1:grow:garbage', headers: h });
    await bus.publishWork(GROW, ItemCodec, { id: 'after-garbage', n: 1 }, { msgId: 'run1:grow:after' });

    const got = new Inbox<{ id: string; deliveryCount: number }>();
    const consumer = await bus.workConsumer('grow', ItemCodec, { ackWaitMs: 500, maxDeliver: 5 });
    const sub = consumer.consume((item, ctx) => {
      got.push({ id: item.id, deliveryCount: ctx.deliveryCount });
    });
    try {
      const dead = await within(deadLetters[Symbol.asyncIterator]().next(), 'the undecodable dead letter');
      assert.equal(dead.done, false);
      assert.equal(dead.value.reason, 'undecodable');
      assert.deepEqual([...dead.value.data], [...garbage], 'the original bytes');
      assert.equal(dead.value.deliveries, 1);
      assert.equal(dead.value.headers['Rest-Run-Id'], 'run1');
      assert.deepEqual(await got.next('the message after the garbage'), {
        id: 'after-garbage',
        deliveryCount: 1,
      });
      assert.equal(await sub.stop(), true, 'stop() returns once every settled message is confirmed');

      const info = await jsm.consumers.info(STREAMS.workGrow, workConsumerName('grow'));
      assert.equal(info.num_ack_pending, 0);
      assert.equal(info.num_redelivered, 0);
      assert.equal(info.num_pending, 0);
      assert.equal(await workStreamMessages(), 0, 'term removes it from the work-queue stream');
    } finally {
      await sub.stop();
      await deadLetters.stop();
    }
  });

  test('WorkConsumer: working() heartbeats keep a job longer than ack_wait from being redelivered', async () => {
    const ackWaitMs = 600;
    const jobMs = 4 * ackWaitMs;
    const starts = new Inbox<number>();
    const done = new Inbox<number>();
    const consumer = await bus.workConsumer('grow', ItemCodec, { ackWaitMs, maxDeliver: 5 });
    const sub = consumer.consume(
      async (_item, ctx) => {
        starts.push(ctx.deliveryCount);
        // The long job itself: it reports progress every ackWait/3.
        const endMs = Date.now() + jobMs;
        while (Date.now() < endMs) {
          await new Promise((resolve) => setTimeout(resolve, ackWaitMs / 3));
          ctx.working();
        }
        done.push(ctx.deliveryCount);
      },
      { concurrency: 2 },
    );
    try {
      await bus.publishWork(GROW, ItemCodec, { id: 'long', n: 1 }, { msgId: 'run1:grow:long' });
      assert.equal(await starts.next('the job to start'), 1);
      assert.equal(await done.next('the job to finish', jobMs + 5_000), 1);
      assert.equal(starts.size, 0, 'a second worker slot never got the message');
      // stop() returns once the handler's ack is confirmed by the server.
      assert.equal(await sub.stop(), true);
      const info = await jsm.consumers.info(STREAMS.workGrow, workConsumerName('grow'));
      assert.equal(info.num_redelivered, 0);
      assert.equal(info.num_ack_pending, 0);
    } finally {
      await sub.stop();
    }
  });

  test('WorkConsumer: without working() the same long job is redelivered past ack_wait', async () => {
    const ackWaitMs = 600;
    const starts = new Inbox<number>();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const consumer = await bus.workConsumer('grow', ItemCodec, { ackWaitMs, maxDeliver: 5 });
    const sub = consumer.consume(
      async (_item, ctx) => {
        starts.push(ctx.deliveryCount);
        await released;
      },
      { concurrency: 2 },
    );
    try {
      await bus.publishWork(GROW, ItemCodec, { id: 'long', n: 1 }, { msgId: 'run1:grow:long2' });
      assert.equal(await starts.next('the job to start'), 1);
      assert.equal(await starts.next('the redelivery to the second slot'), 2);
    } finally {
      release();
      await sub.stop();
    }
  });
});
