/**
 * `connectBus()` and the `Bus` it returns: one NATS connection with JetStream, and every bus
 * operation the services use, typed by subject family and codec.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { InvalidArgumentError, NOOP_LOGGER, UnavailableError, type Logger } from '@rest/service-kit';
import type { MessageCodec } from './codec.js';
import type { BusContext } from './context.js';
import {
  readDeadLetters,
  readAllRunEvents,
  readRunEvents,
  readUpdates,
  type DeadLetterRecord,
  type EventReader,
  type RunEventCodecs,
  type RunEventRecord,
  type UpdateRecord,
  type UpdatesFrom,
} from './event-readers.js';
import {
  publish,
  publishWork,
  type PublishOptions,
  type PublishResult,
  type PublishWorkOptions,
} from './publish.js';
import { ensureStreams, type StreamOptions } from './streams.js';
import type { EventSubject, UpdateKind, WorkQueue, WorkSubject } from './subjects.js';
import { WorkConsumer, type WorkConsumerOptions } from './work-consumer.js';

/** Options of {@link connectBus}. */
export interface ConnectBusOptions {
  /** One URL or several, e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Connection name shown by the server's monitoring, e.g. the service name. */
  readonly name: string;
  /** @default NOOP_LOGGER */
  readonly logger?: Logger;
  /** Time to establish the first connection. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** Time to wait for a JetStream API answer or a PubAck. @default 10_000 */
  readonly requestTimeoutMs?: number;
  /** Reconnect attempts per server after a loss; -1 retries forever. @default -1 */
  readonly maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to one server (plus jitter). @default 2_000 */
  readonly reconnectTimeWaitMs?: number;
  /** Client ping interval; two missed pongs mark the connection stale. @default 20_000 */
  readonly pingIntervalMs?: number;
  /** Time `close()` gives subscriptions to drain before closing. @default 10_000 */
  readonly drainTimeoutMs?: number;
}

/**
 * Connects to NATS, reconnecting on loss, and checks that JetStream answers.
 * @throws InvalidArgumentError when `servers` is empty.
 * @throws UnavailableError when no server can be reached or JetStream is not enabled.
 */
export async function connectBus(options: ConnectBusOptions): Promise<Bus> {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  if (servers.length === 0 || servers.some((s) => s.trim() === '')) {
    throw InvalidArgumentError.fromViolations([
      { field: 'servers', problem: 'must name at least one server' },
    ]);
  }
  const logger = (options.logger ?? NOOP_LOGGER).child({ component: 'bus' });
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? 10_000,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 2_000,
      pingInterval: options.pingIntervalMs ?? 20_000,
      maxPingOut: 2,
    });
  } catch (err) {
    throw new UnavailableError(`cannot connect to NATS at ${servers.join(', ')}`, { cause: err });
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
    const js = jetstream(nc, { timeout: requestTimeoutMs });
    return new Bus({ nc, js, jsm, logger }, options.drainTimeoutMs ?? 10_000);
  } catch (err) {
    await nc.close();
    throw new UnavailableError('JetStream is not available on this NATS account', { cause: err });
  }
}

/** A connection to the platform's JetStream: publish, consume work, read events, close. */
export class Bus {
  private readonly consumers = new Set<{ stop(timeoutMs?: number): Promise<boolean> }>();
  private closing: Promise<void> | undefined;

  /** @internal use {@link connectBus}. */
  constructor(
    private readonly ctx: BusContext,
    private readonly drainTimeoutMs: number,
  ) {
    void this.watchStatus();
  }

  /** The underlying connection, for health checks (`isClosed()`) and tests. */
  get connection(): NatsConnection {
    return this.ctx.nc;
  }

  /**
   * Creates or updates every platform stream (idempotent; call on start-up).
   * @throws see `ensureStreams` in streams.ts.
   */
  ensureStreams(options?: StreamOptions): Promise<void> {
    return ensureStreams(this.ctx, options);
  }

  /**
   * Publishes one unit of work, de-duplicated on `msgId`, and waits for the PubAck.
   * @throws InvalidArgumentError (bad/missing msgId), DeadlineExceededError (no PubAck in time:
   *   retry with the same msgId), UnavailableError (no stream or no connection).
   */
  publishWork<T>(
    subject: WorkSubject,
    codec: MessageCodec<T>,
    message: T,
    options: PublishWorkOptions,
  ): Promise<PublishResult> {
    return publishWork(this.ctx, subject, codec, message, options);
  }

  /**
   * Publishes a run event or a policy/route notice and waits for the PubAck; de-duplicated when
   * `msgId` is set. Build the subject with `runEventSubject()` or `updateSubject()`.
   * @throws as {@link publishWork}, except that `msgId` is optional.
   */
  publishEvent<T>(
    subject: EventSubject,
    codec: MessageCodec<T>,
    message: T,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    return publish(this.ctx, subject, codec, message, options);
  }

  /**
   * Ensures the queue's durable consumer with these settings and returns workers for it.
   * @throws InvalidArgumentError when an option is out of range; UnavailableError when JetStream refuses.
   */
  async workConsumer<T>(
    queue: WorkQueue,
    codec: MessageCodec<T>,
    options?: WorkConsumerOptions,
  ): Promise<WorkConsumer<T>> {
    const consumer = await WorkConsumer.create(this.ctx, queue, codec, options);
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * Reads one run's events from its first stored event on, then live.
   * @throws InvalidArgumentError for a bad run id; UnavailableError when the reader cannot open.
   */
  readRunEvents<T>(runId: string, codecs: RunEventCodecs<T>): Promise<EventReader<RunEventRecord<T>>> {
    return readRunEvents(this.ctx, runId, codecs);
  }

  /**
   * Reads every run's events after stream sequence `afterSequence` (0: all), then live.
   * @throws InvalidArgumentError for a bad sequence; UnavailableError when the reader cannot open.
   */
  readAllRunEvents<T>(
    afterSequence: number,
    codecs: RunEventCodecs<T>,
  ): Promise<EventReader<RunEventRecord<T>>> {
    return readAllRunEvents(this.ctx, afterSequence, codecs);
  }

  /**
   * Reads policy or route notices from now on (`'new'`) or from the latest stored one (`'last'`).
   * @throws UnavailableError when the reader cannot open.
   */
  readUpdates<T>(
    kind: UpdateKind,
    codec: MessageCodec<T>,
    from?: UpdatesFrom,
  ): Promise<EventReader<UpdateRecord<T>>> {
    return readUpdates(this.ctx, kind, codec, from);
  }

  /**
   * Reads a queue's dead letters from the oldest kept one on, then live.
   * @throws UnavailableError when the reader cannot open.
   */
  readDeadLetters(queue: WorkQueue): Promise<EventReader<DeadLetterRecord>> {
    return readDeadLetters(this.ctx, queue);
  }

  /**
   * Graceful shutdown: stops every work consumer (waiting up to `drainTimeoutMs` for handlers in
   * flight), then drains the connection. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop(this.drainTimeoutMs)));
    if (this.ctx.nc.isClosed()) return;
    try {
      await this.ctx.nc.drain();
    } catch (err) {
      this.ctx.logger.warn('drain failed; closing', { err });
      await this.ctx.nc.close();
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.ctx.nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.ctx.logger.warn('NATS disconnected', { server: s.server });
          break;
        case 'reconnect':
          this.ctx.logger.info('NATS reconnected', { server: s.server });
          break;
        case 'error':
          this.ctx.logger.error('NATS error', { err: s.error });
          break;
        case 'staleConnection':
          this.ctx.logger.warn('NATS connection stale');
          break;
        default:
          break;
      }
    }
  }
}
