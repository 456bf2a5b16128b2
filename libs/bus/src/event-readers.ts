/**
 * Readers of the event streams, as async iterables that stop cleanly (`break`, `return()` or
 * `stop()` all delete nothing but close the pull; the server drops the ephemeral consumer after
 * its inactivity threshold).
 *
 * Both use JetStream ordered consumers: ephemeral, unacknowledged, recreated by the client at the
 * right sequence after a gap or reconnect, so a reader sees each stored event once and in order.
 * They do not persist a position; the coordinator's durable state lives in MongoDB (DESIGN.md).
 */
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { InvalidArgumentError, UnavailableError, type Logger } from '@rest/service-kit';
import { decodeWith, type MessageCodec } from './codec.js';
import type { BusContext } from './context.js';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_REASONS, type DeadLetterReason } from './dead-letter.js';
import {
  ALL_RUN_EVENTS_FILTER,
  STREAMS,
  deadLetterSubject,
  parseRunEventSubject,
  runEventsFilter,
  updateSubject,
  type RunEvent,
  type StreamName,
  type UpdateKind,
  type WorkQueue,
} from './subjects.js';

/** An async iterable over a stream's messages that can be stopped from outside the loop. */
export interface EventReader<E> extends AsyncIterable<E> {
  /** Ends the iteration: a pending `next()` resolves `done`. Idempotent. */
  stop(): Promise<void>;
}

/** Metadata every delivered event carries. */
export interface EventMeta {
  /** Sequence in its stream: strictly increasing along one reader. */
  readonly seq: number;
  /** When the stream stored it. */
  readonly time: Date;
  /** Its `Nats-Msg-Id`, if the publisher set one. */
  readonly msgId: string | undefined;
}

/** One run event as a reader yields it. */
export interface RunEventRecord<T> extends EventMeta {
  readonly runId: string;
  readonly event: RunEvent;
  readonly message: T;
}

/** One policy/route notice as a reader yields it. */
export interface UpdateRecord<T> extends EventMeta {
  readonly kind: UpdateKind;
  readonly message: T;
}

/** One codec for every run event (an envelope with a oneof), or one per event kind. */
export type RunEventCodecs<T> = MessageCodec<T> | ((event: RunEvent) => MessageCodec<T>);

function meta(msg: JsMsg): EventMeta {
  return { seq: msg.seq, time: msg.time, msgId: msg.headers?.get('Nats-Msg-Id') || undefined };
}

async function openOrdered(
  ctx: BusContext,
  stream: StreamName,
  filter: string,
  deliverPolicy: DeliverPolicy,
  startSequence?: number,
): Promise<ConsumerMessages> {
  try {
    const consumer = await ctx.js.consumers.get(stream, {
      filter_subjects: filter,
      deliver_policy: deliverPolicy,
      ...(startSequence === undefined ? {} : { opt_start_seq: startSequence }),
    });
    return await consumer.consume();
  } catch (err) {
    throw new UnavailableError(`cannot open a reader on ${stream} (${filter})`, { cause: err });
  }
}

function reader<E>(messages: ConsumerMessages, toEvent: (msg: JsMsg) => E | undefined): EventReader<E> {
  const stop = (): Promise<void> => {
    // close() unsubscribes at once, but its promise settles only when someone pulls the iterator
    // to its end; a reader stopped while its loop sits at a `yield` must not wait for that.
    void messages.close();
    return Promise.resolve();
  };
  async function* iterate(): AsyncGenerator<E> {
    try {
      for await (const msg of messages) {
        const event = toEvent(msg);
        if (event !== undefined) yield event;
      }
    } finally {
      await stop();
    }
  }
  return { [Symbol.asyncIterator]: iterate, stop };
}

/**
 * Reads one run's events from the first stored one on (a late subscriber sees the whole run so far),
 * then live. Messages that do not decode are logged and skipped: an event log cannot be fixed by
 * redelivery, and one bad event must not stall a run's reader.
 * @throws InvalidArgumentError when `runId` is not a valid run id.
 * @throws UnavailableError when the reader cannot be opened.
 */
export async function readRunEvents<T>(
  ctx: BusContext,
  runId: string,
  codecs: RunEventCodecs<T>,
): Promise<EventReader<RunEventRecord<T>>> {
  const filter = runEventsFilter(runId);
  const logger = ctx.logger.child({ runId });
  const messages = await openOrdered(ctx, STREAMS.runs, filter, DeliverPolicy.All);
  return reader(messages, (msg) => {
    try {
      const { event } = parseRunEventSubject(msg.subject);
      const codec = typeof codecs === 'function' ? codecs(event) : codecs;
      return { runId, event, message: decodeWith(codec, msg.data, msg.subject), ...meta(msg) };
    } catch (err) {
      skip(logger, msg, err);
      return undefined;
    }
  });
}

/**
 * Reads every run's events with a stream sequence greater than `afterSequence` (0: from the first
 * stored one), then live: the coordinator's input, which keeps its position in MongoDB and resumes
 * after a restart from the last event it handled. Undecodable messages are logged and skipped.
 * @throws InvalidArgumentError when `afterSequence` is not a non-negative integer.
 * @throws UnavailableError when the reader cannot be opened.
 */
export async function readAllRunEvents<T>(
  ctx: BusContext,
  afterSequence: number,
  codecs: RunEventCodecs<T>,
): Promise<EventReader<RunEventRecord<T>>> {
  if (!Number.isSafeInteger(afterSequence) || afterSequence < 0) {
    throw InvalidArgumentError.fromViolations([
      { field: 'afterSequence', problem: `must be an integer >= 0 (got ${afterSequence})` },
    ]);
  }
  const messages =
    afterSequence === 0
      ? await openOrdered(ctx, STREAMS.runs, ALL_RUN_EVENTS_FILTER, DeliverPolicy.All)
      : await openOrdered(
          ctx,
          STREAMS.runs,
          ALL_RUN_EVENTS_FILTER,
          DeliverPolicy.StartSequence,
          afterSequence + 1,
        );
  return reader(messages, (msg) => {
    try {
      const { runId, event } = parseRunEventSubject(msg.subject);
      const codec = typeof codecs === 'function' ? codecs(event) : codecs;
      return { runId, event, message: decodeWith(codec, msg.data, msg.subject), ...meta(msg) };
    } catch (err) {
      skip(ctx.logger, msg, err);
      return undefined;
    }
  });
}

/** Where an update reader starts. */
export type UpdatesFrom = 'new' | 'last';

/**
 * Reads policy (`rest.policies.published`) or route (`rest.routes.updated`) notices published
 * after the reader opened (`from: 'new'`), or starting with the latest stored one (`'last'`, so a
 * starting policy server learns the current state). Undecodable notices are logged and skipped.
 * @default from 'new'
 * @throws UnavailableError when the reader cannot be opened.
 */
export async function readUpdates<T>(
  ctx: BusContext,
  kind: UpdateKind,
  codec: MessageCodec<T>,
  from: UpdatesFrom = 'new',
): Promise<EventReader<UpdateRecord<T>>> {
  const subject = updateSubject(kind);
  const logger = ctx.logger.child({ updates: kind });
  const policy = from === 'last' ? DeliverPolicy.Last : DeliverPolicy.New;
  const messages = await openOrdered(ctx, STREAMS.updates, subject, policy);
  return reader(messages, (msg) => {
    try {
      return { kind, message: decodeWith(codec, msg.data, msg.subject), ...meta(msg) };
    } catch (err) {
      skip(logger, msg, err);
      return undefined;
    }
  });
}

function skip(logger: Logger, msg: JsMsg, err: unknown): void {
  logger.error('undecodable event skipped', { subject: msg.subject, seq: msg.seq, err });
}

/** One dead letter as a reader yields it: the original payload, undecoded, plus where it came from. */
export interface DeadLetterRecord extends EventMeta {
  readonly queue: WorkQueue;
  readonly reason: DeadLetterReason | 'unknown';
  /** The original payload, byte for byte. */
  readonly data: Uint8Array;
  /** Every header, the original ones and the `Rest-Dead-*` ones (last value per key). */
  readonly headers: Readonly<Record<string, string>>;
  /** `Rest-Dead-Deliveries`: deliveries before it died (0 when absent). */
  readonly deliveries: number;
  /** `Rest-Dead-Sequence`: its sequence in the work stream (0 when absent). */
  readonly sourceSequence: number;
}

/**
 * Reads a queue's dead letters from the oldest kept one on, then live (for operators and tests).
 * Payloads are not decoded: a dead letter may be exactly the message that does not decode.
 * @throws UnavailableError when the reader cannot be opened.
 */
export async function readDeadLetters(
  ctx: BusContext,
  queue: WorkQueue,
): Promise<EventReader<DeadLetterRecord>> {
  const messages = await openOrdered(ctx, STREAMS.deadLetter, deadLetterSubject(queue), DeliverPolicy.All);
  return reader(messages, (msg) => {
    const headers: Record<string, string> = {};
    for (const key of msg.headers?.keys() ?? []) headers[key] = msg.headers?.last(key) ?? '';
    const reason = headers[DEAD_LETTER_HEADERS.reason] ?? '';
    return {
      queue,
      reason: (DEAD_LETTER_REASONS as readonly string[]).includes(reason)
        ? (reason as DeadLetterReason)
        : 'unknown',
      data: msg.data,
      headers,
      deliveries: Number(headers[DEAD_LETTER_HEADERS.deliveries] ?? 0) || 0,
      sourceSequence: Number(headers[DEAD_LETTER_HEADERS.sequence] ?? 0) || 0,
      ...meta(msg),
    };
  });
}
