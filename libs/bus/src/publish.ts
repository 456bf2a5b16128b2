/**
 * Publishing to JetStream with de-duplication: every call waits for the stream's PubAck, and a
 * `Nats-Msg-Id` seen within the stream's `duplicate_window` is acknowledged as `duplicate` instead
 * of being stored again. Work messages must carry an id (a retried coordinator step must not queue
 * a shard twice); events should.
 */
import type { PubAck } from '@nats-io/jetstream';
import { TimeoutError, headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { DeadlineExceededError, InvalidArgumentError, UnavailableError } from '@rest/service-kit';
import type { MessageCodec } from './codec.js';
import type { BusContext } from './context.js';
import type { EventSubject, WorkSubject } from './subjects.js';

/** Options of a publish. */
export interface PublishOptions {
  /**
   * De-duplication id sent as `Nats-Msg-Id`: derive it from what the message means (e.g.
   * `<runId>:grow:<shard>`), not from a random source, so a retry reuses it.
   */
  readonly msgId?: string;
  /** Extra headers (not `Nats-*`, which JetStream reserves). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long to wait for the PubAck. @default the connection's JetStream timeout */
  readonly timeoutMs?: number;
}

/** Options of {@link publishWork}: the id is required. */
export interface PublishWorkOptions extends PublishOptions {
  readonly msgId: string;
}

/** The stream's acknowledgement of a publish. */
export interface PublishResult {
  /** Stream that stored the message. */
  readonly stream: string;
  /** Its sequence in that stream (the first copy's sequence when `duplicate`). */
  readonly seq: number;
  /** True when the id was already seen within the duplicate window: nothing new was stored. */
  readonly duplicate: boolean;
}

const MSG_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;

function buildHeaders(options: PublishOptions): MsgHdrs | undefined {
  if (options.headers === undefined) return undefined;
  const h = natsHeaders();
  for (const [key, value] of Object.entries(options.headers)) {
    if (key.toLowerCase().startsWith('nats-')) {
      throw InvalidArgumentError.fromViolations([
        { field: `headers.${key}`, problem: 'Nats-* headers are reserved' },
      ]);
    }
    h.set(key, value);
  }
  return h;
}

/**
 * Encodes `message` with `codec` and publishes it to `subject`, waiting for the PubAck.
 * @throws InvalidArgumentError when `msgId` is present but empty, too long or has spaces, or a
 *   header is reserved.
 * @throws DeadlineExceededError when no PubAck arrives in time (the message may or may not be
 *   stored: retry with the same `msgId`).
 * @throws UnavailableError when no stream takes the subject or the connection is down.
 */
export async function publish<T>(
  ctx: BusContext,
  subject: WorkSubject | EventSubject,
  codec: MessageCodec<T>,
  message: T,
  options: PublishOptions = {},
): Promise<PublishResult> {
  if (options.msgId !== undefined && !MSG_ID_PATTERN.test(options.msgId)) {
    throw InvalidArgumentError.fromViolations([
      { field: 'msgId', problem: 'must be 1-256 printable ASCII characters without spaces' },
    ]);
  }
  const hdrs = buildHeaders(options);
  const payload = codec.encode(message).finish();
  let ack: PubAck;
  try {
    ack = await ctx.js.publish(subject, payload, {
      ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
      ...(hdrs === undefined ? {} : { headers: hdrs }),
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    });
  } catch (err) {
    if (err instanceof TimeoutError || (err instanceof Error && err.cause instanceof TimeoutError)) {
      throw new DeadlineExceededError(`publish to ${subject}: no PubAck in time`, { cause: err });
    }
    throw new UnavailableError(`publish to ${subject} failed`, { cause: err });
  }
  if (ack.duplicate)
    ctx.logger.debug('duplicate publish ignored by stream', { subject, msgId: options.msgId, seq: ack.seq });
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
}

/**
 * Publishes one unit of work. `msgId` is required so that a retried publish is stored once.
 * @throws see {@link publish}; InvalidArgumentError also when `msgId` is missing.
 */
export async function publishWork<T>(
  ctx: BusContext,
  subject: WorkSubject,
  codec: MessageCodec<T>,
  message: T,
  options: PublishWorkOptions,
): Promise<PublishResult> {
  if (typeof options.msgId !== 'string') {
    throw InvalidArgumentError.fromViolations([{ field: 'msgId', problem: 'is required for work messages' }]);
  }
  return publish(ctx, subject, codec, message, options);
}
