/**
 * One batching lane: service-kit's `Batcher` for one (policy, decoding settings), with a rejoin
 * window in front of it.
 *
 * Why the window: a batch of autoregressive decoding runs for its whole generation, and the Batcher
 * takes the next batch the moment the previous one ends, from what queued meanwhile. Callers that
 * send their next request as soon as they get an answer (a Grow worker, a load tool, any client
 * with a fixed concurrency) are then always late for it, and N such callers settle into two
 * alternating half batches: about half the throughput of one full batch. So while a batch runs,
 * new items wait in front of the Batcher, and are let in `rejoinMs` after the lane goes quiet (by
 * which time the callers just answered have sent their next requests and join them), or as soon as
 * as many items are waiting as the last batch had: then everyone it answered is back, and a lone
 * caller waits for nothing. While callers keep coming back, each arrival keeps the window open
 * for another quarter of `rejoinMs` (at most three times `rejoinMs` in all): 64 callers over gRPC
 * on two shared cores come back over 15–30 ms, one every few tenths of a millisecond, and a window
 * that closed mid-way split them into a large batch and a straggling small one
 * (bench/policy-server, run G). Traffic that does not come back in step (open-loop arrivals)
 * waits at most `rejoinMs` more than it would without the window when nothing arrives, and at most
 * three times that while arrivals keep it open; 0 turns it off.
 *
 * Items let in from the window start without the Batcher's `maxWaitMs`: either everyone the last
 * batch answered is back, or they have waited `rejoinMs` already, so waiting for more only adds
 * latency (a lone caller's every request would otherwise wait `maxWaitMs` for company that never
 * comes).
 *
 * A waiting item whose signal fires leaves at once, like a queued one.
 */
import { Batcher, type BatcherOptions } from '@rest/service-kit';

interface Held {
  /** Items the request brings. */
  readonly items: number;
  readonly admit: () => void;
}

/** A Batcher with a rejoin window; see the module comment. */
export class Lane<Item, Result> {
  private readonly batcher: Batcher<Item, Result>;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly held = new Set<Held>();
  /** Items held since the lane went quiet: the callers of the last batch coming back. */
  private returnedItems = 0;
  /** Items of the last batch to finish: once as many have come back, everyone it answered is. */
  private lastBatchItems = 0;
  /** When the lane went quiet, and when its window closes (`performance.now()` ms). */
  private quietAt = 0;
  private closesAt = 0;

  /** @throws RangeError when a Batcher limit is out of range */
  constructor(
    options: BatcherOptions<Item, Result>,
    private readonly rejoinMs: number,
  ) {
    this.batcher = new Batcher({
      ...options,
      run: async (items) => {
        this.running++;
        clearTimeout(this.timer);
        this.timer = undefined;
        try {
          return await options.run(items);
        } finally {
          this.lastBatchItems = items.length;
          if (--this.running === 0) this.openSoon();
        }
      },
    });
  }

  /** True when nothing is queued, held, running or about to be let in. */
  get idle(): boolean {
    return (
      this.running === 0 &&
      this.held.size === 0 &&
      this.timer === undefined &&
      this.batcher.queuedItems === 0 &&
      this.batcher.runningBatches === 0
    );
  }

  /**
   * Submits `items` to the Batcher, after the rejoin window when a batch is running.
   * @throws what `Batcher.submit` throws, and the signal's reason while held
   */
  async submit(items: readonly Item[], signal: AbortSignal): Promise<Result[]> {
    if (this.rejoinMs > 0 && (this.running > 0 || this.timer !== undefined)) {
      await this.hold(items.length, signal);
      return this.batcher.submit(items, signal, 0);
    }
    return this.batcher.submit(items, signal);
  }

  /** Lets every held item in and closes the Batcher (see `Batcher.close`). */
  close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.openNow();
    return this.batcher.close();
  }

  private hold(items: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('the request was aborted'));
        return;
      }
      const onAbort = (): void => {
        this.held.delete(held);
        reject(signal.reason instanceof Error ? signal.reason : new Error('the request was aborted'));
      };
      const held: Held = {
        items,
        admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.held.add(held);
      if (this.running > 0) return;
      this.returnedItems += items;
      if (this.timer === undefined) return;
      // Everyone the last batch answered is back (a lone caller at once): no reason to wait longer.
      if (this.returnedItems >= this.lastBatchItems) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.openNow();
        return;
      }
      // Callers are coming back: keep the window open a little past this one (the timer re-arms).
      this.closesAt = Math.max(
        this.closesAt,
        Math.min(this.quietAt + 3 * this.rejoinMs, performance.now() + this.rejoinMs / 4),
      );
    });
  }

  private openSoon(): void {
    this.returnedItems = 0;
    this.quietAt = performance.now();
    this.closesAt = this.quietAt + this.rejoinMs;
    this.arm(this.rejoinMs);
  }

  /** Opens the window after `ms`, or later if arrivals have moved `closesAt` on meanwhile. */
  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const left = this.closesAt - performance.now();
      if (left >= 1) {
        this.arm(left);
        return;
      }
      this.timer = undefined;
      this.openNow();
    }, ms);
  }

  private openNow(): void {
    const held = [...this.held];
    this.held.clear();
    for (const h of held) h.admit();
  }
}
