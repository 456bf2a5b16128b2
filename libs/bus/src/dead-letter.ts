/**
 * The dead-letter path of the work queues.
 *
 * A work message ends up on `rest.dead.work.<queue>` (stream REST_DEAD_LETTER) in one of two ways:
 * - `max_deliveries`: it was delivered `max_deliver` times without an ack (handlers failed, or
 *   workers died holding it). The server then stops delivering it, leaves it in the work-queue
 *   stream and publishes a MAX_DELIVERIES advisory, which REST_WORK_ADVISORIES stores. A mover
 *   (a durable pull consumer per queue on that stream, run by every `WorkConsumer`) reads the
 *   advisory, fetches the message by sequence, republishes it with its original payload and
 *   headers plus `Rest-Dead-*` headers, deletes it from the work stream and acks the advisory.
 *   Every step is idempotent (the republish carries `Nats-Msg-Id: dead:<stream>:<seq>`, a missing
 *   message means it was already moved or acked late), so a mover that dies mid-way is simply
 *   redone by the next; advisories wait in their stream while no mover runs.
 * - `undecodable` / `rejected`: the worker itself republishes the message, then terminates it.
 *
 * Acting in the worker when the delivery count reaches the limit would miss the case the limit
 * exists for: a worker killed during the last delivery never gets to act. The advisory does not
 * depend on any worker surviving.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { UnavailableError } from '@rest/service-kit';
import type { BusContext } from './context.js';
import { deadLetterSubject, type StreamName, type WorkQueue } from './subjects.js';

/** Headers added to every dead letter (the original message's headers are kept beside them). */
export const DEAD_LETTER_HEADERS = {
  /** Why it died: one of {@link DEAD_LETTER_REASONS}. */
  reason: 'Rest-Dead-Reason',
  /** The work stream it came from, e.g. `REST_WORK_GROW`. */
  stream: 'Rest-Dead-Stream',
  /** The subject it was published on, e.g. `rest.work.grow`. */
  subject: 'Rest-Dead-Subject',
  /** Its sequence in that stream. */
  sequence: 'Rest-Dead-Sequence',
  /** The consumer that gave up on it. */
  consumer: 'Rest-Dead-Consumer',
  /** How many times it had been delivered. */
  deliveries: 'Rest-Dead-Deliveries',
  /** Its original `Nats-Msg-Id`, if it had one. */
  msgId: 'Rest-Dead-Msg-Id',
  /** The handler's or decoder's error message (rejected/undecodable only). */
  error: 'Rest-Dead-Error',
} as const;

/** Why a message was dead-lettered. */
export const DEAD_LETTER_REASONS = ['max_deliveries', 'undecodable', 'rejected'] as const;
/** One of {@link DEAD_LETTER_REASONS}. */
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Everything a dead letter records about its source. */
export interface DeadLetterSource {
  readonly queue: WorkQueue;
  readonly stream: StreamName;
  readonly subject: string;
  readonly sequence: number;
  readonly consumer: string;
  readonly deliveries: number;
  readonly reason: DeadLetterReason;
  readonly error?: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

const MAX_ERROR_HEADER_CHARS = 512;

/**
 * Republishes a work message on its queue's dead-letter subject, de-duplicated per source message.
 * @throws UnavailableError when the dead-letter stream does not acknowledge it.
 */
export async function publishDeadLetter(ctx: BusContext, source: DeadLetterSource): Promise<void> {
  const h = natsHeaders();
  if (source.headers !== undefined) {
    for (const key of source.headers.keys()) {
      if (key.toLowerCase().startsWith('nats-')) continue;
      for (const value of source.headers.values(key)) h.append(key, value);
    }
  }
  const originalId = source.headers?.get('Nats-Msg-Id') ?? '';
  h.set(DEAD_LETTER_HEADERS.reason, source.reason);
  h.set(DEAD_LETTER_HEADERS.stream, source.stream);
  h.set(DEAD_LETTER_HEADERS.subject, source.subject);
  h.set(DEAD_LETTER_HEADERS.sequence, String(source.sequence));
  h.set(DEAD_LETTER_HEADERS.consumer, source.consumer);
  h.set(DEAD_LETTER_HEADERS.deliveries, String(source.deliveries));
  if (originalId !== '') h.set(DEAD_LETTER_HEADERS.msgId, originalId);
  if (source.error !== undefined) {
    h.set(DEAD_LETTER_HEADERS.error, source.error.replace(/[\r\n]+/g, ' ').slice(0, MAX_ERROR_HEADER_CHARS));
  }
  try {
    await ctx.js.publish(deadLetterSubject(source.queue), source.data, {
      headers: h,
      msgID: `dead:${source.stream}:${source.sequence}`,
    });
  } catch (err) {
    throw new UnavailableError(`dead-letter publish for ${source.stream}#${source.sequence} failed`, {
      cause: err,
    });
  }
}

/** The fields of the server's `io.nats.jetstream.advisory.v1.max_deliver` advisory that the mover uses. */
interface MaxDeliverAdvisory {
  readonly stream: string;
  readonly consumer: string;
  readonly stream_seq: number;
  readonly deliveries: number;
}

function parseAdvisory(data: Uint8Array): MaxDeliverAdvisory | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<MaxDeliverAdvisory>;
    if (
      typeof v.stream === 'string' &&
      typeof v.consumer === 'string' &&
      Number.isInteger(v.stream_seq) &&
      Number.isInteger(v.deliveries)
    ) {
      return v as MaxDeliverAdvisory;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Handles one stored max-deliveries advisory for `queue`'s stream: moves the message it names to
 * the dead letters and acks the advisory; on failure naks it so another attempt follows.
 * Never throws.
 */
export async function moveDeadLetter(
  ctx: BusContext,
  queue: WorkQueue,
  stream: StreamName,
  advisory: JsMsg,
): Promise<void> {
  const a = parseAdvisory(advisory.data);
  if (a === undefined || a.stream !== stream) {
    ctx.logger.error('unusable max-deliveries advisory terminated', { subject: advisory.subject });
    advisory.term();
    return;
  }
  const log = ctx.logger.child({ stream, seq: a.stream_seq, consumer: a.consumer });
  try {
    const stored = await ctx.jsm.streams.getMessage(stream, { seq: a.stream_seq });
    if (stored === null) {
      log.debug('dead-letter candidate already gone (acked late or moved)');
    } else {
      await publishDeadLetter(ctx, {
        queue,
        stream,
        subject: stored.subject,
        sequence: a.stream_seq,
        consumer: a.consumer,
        deliveries: a.deliveries,
        reason: 'max_deliveries',
        data: stored.data,
        headers: stored.header,
      });
      await ctx.jsm.streams.deleteMessage(stream, a.stream_seq, false).catch((err: unknown) => {
        // Already deleted by a concurrent mover: the move is complete either way.
        log.debug('work message delete after dead-lettering failed', { err });
      });
      log.warn('work message dead-lettered after max deliveries', { deliveries: a.deliveries });
    }
    await advisory.ackAck();
  } catch (err) {
    log.error('dead-letter move failed; will retry', { err });
    advisory.nak(1_000);
  }
}
