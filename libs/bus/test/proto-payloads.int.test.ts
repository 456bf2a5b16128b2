/**
 * The bus carries generated @rest/proto messages as they are: ts-proto's MessageFns are codecs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectBus, runEventSubject, workSubject, type Bus } from '@rest/bus';
import { events } from '@rest/proto';
import { startNatsServer, type NatsServer } from '@rest/testkit';
import { Inbox, resetStreams, within } from './helpers.js';

describe('@rest/proto payloads', () => {
  let server: NatsServer;
  let bus: Bus;

  before(async () => {
    server = await startNatsServer();
    bus = await connectBus({ servers: server.url, name: 'bus-proto-test' });
    await resetStreams(bus);
  });
  after(async () => {
    await bus?.close();
    await server?.stop();
  });

  test('publishWork: a generated GrowWork reaches the handler field for field', async () => {
    const work = events.GrowWork.fromPartial({
      messageId: 'run-p/g1/grow/shard/3',
      runId: 'run-p',
      grow: 1,
      shard: 3,
      policyId: 'policy-0',
      dataset: 'wmt-tiny',
      split: 'train',
      sources: { $case: 'range', range: { start: 300, end: 400 } },
      samplesPerSource: 4,
    });
    const got = new Inbox<events.GrowWork>();
    const consumer = await bus.workConsumer('grow', events.GrowWork);
    const sub = consumer.consume((message) => {
      got.push(message);
    });
    try {
      const ack = await bus.publishWork(workSubject('grow'), events.GrowWork, work, {
        msgId: work.messageId,
      });
      assert.equal(ack.duplicate, false);
      assert.deepEqual(await got.next('the GrowWork'), work);
    } finally {
      await sub.stop();
    }
  });

  test('readRunEvents: a generated RunEvent envelope round-trips through the run-event log', async () => {
    const event = events.RunEvent.fromPartial({
      messageId: 'run-p/g1/grow.started',
      runId: 'run-p',
      grow: 1,
      at: new Date('2026-01-02T03:04:05.000Z'),
      event: { $case: 'growStarted', growStarted: { policyId: 'policy-0', numShards: 8, numSources: 800 } },
    });
    await bus.publishEvent(runEventSubject('run-p', 'grow.started'), events.RunEvent, event, {
      msgId: event.messageId,
    });
    const reader = await bus.readRunEvents('run-p', events.RunEvent);
    try {
      const first = await within(reader[Symbol.asyncIterator]().next(), 'the RunEvent');
      assert.equal(first.done, false);
      assert.equal(first.value.event, 'grow.started');
      assert.equal(first.value.msgId, 'run-p/g1/grow.started');
      assert.deepEqual(first.value.message, event);
    } finally {
      await reader.stop();
    }
  });
});
