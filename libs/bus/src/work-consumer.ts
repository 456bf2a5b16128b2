/**
 * Workers on a work queue: a durable pull consumer shared by every worker of the queue, explicit
 * acks, bounded redelivery and the dead-letter path (see `dead-letter.ts`).
 *
 * Per message: decode → handler → ack. A handler error naks with exponential backoff (retryable) or
 * dead-letters and terminates (`isRetryable` false); an undecodable payload is logged, dead-lettered
 * and terminated, so it is never redelivered. Delivery is at least once: a worker that dies before
 * its ack loses the message to another worker after `ack_wait`, so handlers must be idempotent.
 */
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { InvalidArgumentError, UnavailableError, type Logger } from '@rest/service-kit';
import { decodeWith, type MessageCodec } from './codec.js';
import type { BusContext } from './context.js';
import { moveDeadLetter, publishDeadLetter, type DeadLetterReason } from './dead-letter.js';
import { PullLoop } from './pull-loop.js';
import {
  STREAMS,
  deadLetterMoverName,
  maxDeliveriesAdvisorySubject,
  workConsumerName,
  workStream,
  type StreamName,
  type WorkQueue,
} from './subjects.js';

/** Server-side settings of a queue's durable consumer (shared by all its workers; last writer wins). */
export interface WorkConsumerOptions {
  /** How long a delivered message may go without ack or `working()` before redelivery. @default 30_000 */
  readonly ackWaitMs?: number;
  /** Deliveries before a message is dead-lettered (first delivery included). @default 5 */
  readonly maxDeliver?: number;
  /** Unacked messages the consumer allows across all workers. @default 1000 */
  readonly maxAckPending?: number;
  /** How long one pull waits on the server; bounds the stop latency of an idle worker. @default 5_000 */
  readonly pullExpiresMs?: number;
  /** First nak delay of a retryable failure; doubles per delivery. @default 1_000 */
  readonly retryInitialMs?: number;
  /** Upper bound of the nak delay. @default 60_000 */
  readonly retryMaxMs?: number;
  /**
   * Whether a handler error is worth another delivery.
   * @default every error except `InvalidArgumentError` (the message itself is wrong)
   */
  readonly isRetryable?: (err: unknown) => boolean;
  /** Run this queue's dead-letter mover beside the workers. @default true */
  readonly runDeadLetterMover?: boolean;
}

/** What a handler gets beside the decoded message. */
export interface WorkContext {
  /** Resets the server's `ack_wait` timer (JetStream `+WPI`): call it more often than `ack_wait` in long jobs. */
  working(): void;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  /** The consumer's `max_deliver`: when `deliveryCount` equals it, this is the last attempt. */
  readonly maxDeliver: number;
  /** The message's `Nats-Msg-Id`, if any. */
  readonly msgId: string | undefined;
  /** The message's sequence in its work stream. */
  readonly streamSequence: number;
  /** Child logger carrying queue, sequence and delivery count. */
  readonly logger: Logger;
}

/** Processes one work message; return (or resolve) to ack, throw (or reject) to nak or dead-letter (see `isRetryable`). */
export type WorkHandler<T> = (message: T, context: WorkContext) => Promise<void> | void;

/** Options of {@link WorkConsumer.consume}. */
export interface ConsumeOptions {
  /** Messages handled at once by this process. @default 1 */
  readonly concurrency?: number;
}

/** A running `consume()`; {@link stop} ends it gracefully. */
export interface WorkSubscription {
  /**
   * Stops pulling and waits for the handlers in flight to settle their messages.
   * Resolves false when `timeoutMs` passed first (those messages come back after `ack_wait`).
   * @default timeoutMs 30_000
   */
  stop(timeoutMs?: number): Promise<boolean>;
}

interface Resolved {
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly maxAckPending: number;
  readonly pullExpiresMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly isRetryable: (err: unknown) => boolean;
  readonly runDeadLetterMover: boolean;
}

function resolveOptions(o: WorkConsumerOptions): Resolved {
  const r: Resolved = {
    ackWaitMs: o.ackWaitMs ?? 30_000,
    maxDeliver: o.maxDeliver ?? 5,
    maxAckPending: o.maxAckPending ?? 1000,
    pullExpiresMs: o.pullExpiresMs ?? 5_000,
    retryInitialMs: o.retryInitialMs ?? 1_000,
    retryMaxMs: o.retryMaxMs ?? 60_000,
    isRetryable: o.isRetryable ?? ((err) => !(err instanceof InvalidArgumentError)),
    runDeadLetterMover: o.runDeadLetterMover ?? true,
  };
  const bad: { field: string; problem: string }[] = [];
  const check = (field: keyof Resolved, ok: boolean, problem: string): void => {
    if (!ok) bad.push({ field, problem });
  };
  check('ackWaitMs', Number.isInteger(r.ackWaitMs) && r.ackWaitMs >= 100, 'must be an integer ≥ 100');
  check('maxDeliver', Number.isInteger(r.maxDeliver) && r.maxDeliver >= 1, 'must be an integer ≥ 1');
  check('maxAckPending', Number.isInteger(r.maxAckPending) && r.maxAckPending >= 1, 'must be an integer ≥ 1');
  check(
    'pullExpiresMs',
    Number.isInteger(r.pullExpiresMs) && r.pullExpiresMs >= 1000,
    'must be an integer ≥ 1000',
  );
  check(
    'retryInitialMs',
    Number.isInteger(r.retryInitialMs) && r.retryInitialMs >= 0,
    'must be an integer ≥ 0',
  );
  check(
    'retryMaxMs',
    Number.isInteger(r.retryMaxMs) && r.retryMaxMs >= r.retryInitialMs,
    'must be ≥ retryInitialMs',
  );
  if (bad.length > 0) throw InvalidArgumentError.fromViolations(bad);
  return r;
}

/** Creates the durable consumer, or updates its mutable settings when it exists with others. */
async function ensureConsumer(
  ctx: BusContext,
  stream: StreamName,
  config: Partial<ConsumerConfig>,
): Promise<Consumer> {
  const name = config.durable_name ?? '';
  try {
    try {
      await ctx.jsm.consumers.add(stream, config);
    } catch (err) {
      ctx.logger.debug('consumer add refused; updating instead', { stream, consumer: name, err });
      const { durable_name: _d, deliver_policy: _p, ack_policy: _a, filter_subject: _f, ...mutable } = config;
      await ctx.jsm.consumers.update(stream, name, mutable);
    }
    return await ctx.js.consumers.get(stream, name);
  } catch (err) {
    throw new UnavailableError(`cannot create or update consumer ${stream}/${name}`, { cause: err });
  }
}

/** Workers for one queue. Get one from `Bus.workConsumer()`. */
export class WorkConsumer<T> {
  private readonly subscriptions = new Set<WorkSubscription>();

  private constructor(
    private readonly ctx: BusContext,
    /** The queue this consumer serves. */
    readonly queue: WorkQueue,
    private readonly stream: StreamName,
    private readonly consumer: Consumer,
    private readonly mover: Consumer | undefined,
    private readonly codec: MessageCodec<T>,
    private readonly options: Resolved,
  ) {}

  /**
   * Ensures the queue's durable consumer (and its dead-letter mover's) with these settings.
   * @throws InvalidArgumentError when an option is out of range; UnavailableError when JetStream refuses.
   */
  static async create<T>(
    ctx: BusContext,
    queue: WorkQueue,
    codec: MessageCodec<T>,
    options: WorkConsumerOptions = {},
  ): Promise<WorkConsumer<T>> {
    const o = resolveOptions(options);
    const stream = workStream(queue);
    const name = workConsumerName(queue);
    const consumer = await ensureConsumer(ctx, stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(o.ackWaitMs),
      max_deliver: o.maxDeliver,
      max_ack_pending: o.maxAckPending,
    });
    const mover = o.runDeadLetterMover
      ? await ensureConsumer(ctx, STREAMS.advisories, {
          durable_name: deadLetterMoverName(queue),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: maxDeliveriesAdvisorySubject(stream, '*'),
          ack_wait: nanos(30_000),
          max_deliver: -1,
        })
      : undefined;
    return new WorkConsumer(ctx, queue, stream, consumer, mover, codec, o);
  }

  /**
   * Starts handling messages with `handler`, `concurrency` at a time, until the returned
   * subscription (or this consumer, or the bus) is stopped.
   * @throws InvalidArgumentError when `concurrency` is not an integer in [1, maxAckPending].
   */
  consume(handler: WorkHandler<T>, options: ConsumeOptions = {}): WorkSubscription {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.options.maxAckPending) {
      throw InvalidArgumentError.fromViolations([
        { field: 'concurrency', problem: `must be an integer in [1, ${this.options.maxAckPending}]` },
      ]);
    }
    const logger = this.ctx.logger.child({ queue: this.queue });
    const loops: PullLoop[] = [];
    for (let i = 0; i < concurrency; i++) {
      loops.push(
        new PullLoop(this.consumer, {
          expiresMs: this.options.pullExpiresMs,
          logger,
          onMessage: (msg) => this.handle(msg, handler, logger),
        }),
      );
    }
    if (this.mover !== undefined) {
      loops.push(
        new PullLoop(this.mover, {
          expiresMs: this.options.pullExpiresMs,
          logger: logger.child({ role: 'dead-letter-mover' }),
          onMessage: (msg) => moveDeadLetter(this.ctx, this.queue, this.stream, msg),
        }),
      );
    }
    const running = Promise.all(loops.map((l) => l.run()));
    const subscription: WorkSubscription = {
      stop: async (timeoutMs = 30_000) => {
        this.subscriptions.delete(subscription);
        for (const l of loops) l.stop();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        const done = await Promise.race([running.then(() => true as const), timedOut]);
        clearTimeout(timer);
        if (!done)
          logger.warn('work consumer stop timed out; in-flight messages will be redelivered', { timeoutMs });
        return done;
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Stops every subscription of this consumer; resolves false if any timed out. */
  async stop(timeoutMs?: number): Promise<boolean> {
    const results = await Promise.all([...this.subscriptions].map((s) => s.stop(timeoutMs)));
    return results.every(Boolean);
  }

  private async handle(msg: JsMsg, handler: WorkHandler<T>, parent: Logger): Promise<void> {
    const deliveryCount = msg.info.deliveryCount;
    const logger = parent.child({ seq: msg.seq, deliveryCount });
    const startedMs = Date.now();
    let message: T;
    try {
      message = decodeWith(this.codec, msg.data, msg.subject);
    } catch (err) {
      logger.error('undecodable work message', { err });
      await this.deadLetter(msg, 'undecodable', err, logger);
      return;
    }
    const context: WorkContext = {
      working: () => msg.working(),
      deliveryCount,
      maxDeliver: this.options.maxDeliver,
      msgId: msg.headers?.get('Nats-Msg-Id') || undefined,
      streamSequence: msg.seq,
      logger,
    };
    try {
      await handler(message, context);
    } catch (err) {
      const durationMs = Date.now() - startedMs;
      if (!this.options.isRetryable(err)) {
        logger.error('work message rejected', { err, durationMs });
        await this.deadLetter(msg, 'rejected', err, logger);
        return;
      }
      // On the last delivery nak without delay: the server gives up on it right away and the
      // advisory sends it to the dead letters without waiting out a backoff.
      const last = deliveryCount >= this.options.maxDeliver;
      const delayMs = last ? 0 : this.backoffMs(deliveryCount);
      logger.warn('work message failed; will retry', { err, durationMs, delayMs, last });
      msg.nak(delayMs);
      return;
    }
    try {
      await msg.ackAck();
      logger.debug('work message done', { durationMs: Date.now() - startedMs });
    } catch (err) {
      // The work is done but the server may not know: it will redeliver, and idempotent handlers
      // absorb the repeat.
      logger.warn('ack not confirmed; message may be redelivered', { err });
    }
  }

  private backoffMs(deliveryCount: number): number {
    const base = Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** (deliveryCount - 1));
    // Full jitter in [base/2, base]: spreads retries of a batch that failed together.
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private async deadLetter(
    msg: JsMsg,
    reason: DeadLetterReason,
    err: unknown,
    logger: Logger,
  ): Promise<void> {
    try {
      await publishDeadLetter(this.ctx, {
        queue: this.queue,
        stream: this.stream,
        subject: msg.subject,
        sequence: msg.seq,
        consumer: msg.info.consumer,
        deliveries: msg.info.deliveryCount,
        reason,
        error: err instanceof Error ? err.message : String(err),
        data: msg.data,
        headers: msg.headers,
      });
      msg.term();
    } catch (publishErr) {
      // Keep the message rather than lose it: it comes back later, and after max_deliver the
      // advisory path dead-letters it anyway.
      logger.error('dead-letter publish failed; message kept for redelivery', { err: publishErr });
      msg.nak(this.backoffMs(msg.info.deliveryCount));
    }
  }
}
