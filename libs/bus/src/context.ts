/**
 * What the bus modules share: the connection, the JetStream handles and the logger. Kept apart from
 * `bus.ts` so the modules do not import the class that composes them.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '@rest/service-kit';

/** The handles every bus operation runs on. */
export interface BusContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Already a child with `component: 'bus'`. */
  readonly logger: Logger;
}
