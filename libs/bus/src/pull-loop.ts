/**
 * One pull slot over a durable consumer: fetch one message, hand it over, repeat, until stopped.
 *
 * Fetching one message per free slot (rather than `consume()` with a client-side buffer) means a
 * message is only pulled when a handler is ready for it, so no message's `ack_wait` ticks while it
 * waits in a buffer behind a long job. `stop()` closes the open pull at once; a message that the
 * server had already sent to that pull is not handled and comes back after `ack_wait`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@rest/service-kit';

/** Options of a {@link PullLoop}. */
export interface PullLoopOptions {
  /** How long one pull waits on the server for a message (≥ 1000). */
  readonly expiresMs: number;
  /** Called with each message; must settle it (ack/nak/term) and should not throw. */
  readonly onMessage: (msg: JsMsg) => Promise<void>;
  readonly logger: Logger;
}

const MAX_ERROR_BACKOFF_MS = 5_000;

/** A single-message pull loop; run several for concurrency. */
export class PullLoop {
  private stopping = false;
  private readonly open = new Set<ConsumerMessages>();
  private readonly abort = new AbortController();

  constructor(
    private readonly consumer: Consumer,
    private readonly options: PullLoopOptions,
  ) {}

  /** Runs until {@link stop}; resolves after the message in hand (if any) is settled. */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let msg: JsMsg | undefined;
      try {
        const batch = await this.consumer.fetch({ max_messages: 1, expires: this.options.expiresMs });
        this.open.add(batch);
        // stop() may have run while fetch() was resolving, before this batch was in `open`.
        if (this.stopping) void batch.close();
        try {
          for await (const m of batch) msg = m;
        } finally {
          this.open.delete(batch);
        }
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        failures++;
        const waitMs = Math.min(MAX_ERROR_BACKOFF_MS, 100 * 2 ** failures);
        this.options.logger.warn('pull failed; retrying', { err, failures, waitMs });
        await delay(waitMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        continue;
      }
      if (msg === undefined) continue;
      if (this.stopping) {
        // Arrived while stopping: hand it straight back rather than start a job we will not finish.
        msg.nak();
        break;
      }
      await this.options.onMessage(msg);
    }
  }

  /** Stops pulling; the loop's `run()` resolves once the message in hand is settled. */
  stop(): void {
    this.stopping = true;
    this.abort.abort();
    for (const batch of this.open) void batch.close();
  }
}
