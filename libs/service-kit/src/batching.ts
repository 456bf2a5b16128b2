/**
 * A generic dynamic batcher: the items of concurrent requests are coalesced into batches for one
 * `run(items)` call (an ONNX session run, typically), because a model scores 32 items in little more
 * time than it scores one.
 *
 * - A batch holds at most `maxBatchItems` items and at most `maxBatchCost` total cost (e.g. tokens,
 *   which bound a padded `[B, S]` batch's memory); an item costlier than `maxBatchCost` is refused at
 *   submit, so the bound is hard.
 * - A batch starts when a full one is queued, or when a queued item has waited `maxWaitMs` (or the
 *   shorter wait its submit asked for: a caller that knows no more items are coming says 0), and only
 *   while fewer than `maxConcurrentBatches` batches run. While a batch runs, new items queue
 *   up, which is where most coalescing comes from under load.
 * - Fair: a batch is filled round-robin, one item per queued request in turn, and the requests it
 *   served move to the back of the queue, so a 10,000-item request cannot starve a 1-item one.
 *   A request's items run in order; its results come back in its order.
 * - Bounded: a submit that would queue more than `maxQueuedItems` not-yet-started items is refused
 *   with `ResourceExhaustedError` (the caller may retry later, on another replica).
 * - Cancellable: when a request's signal fires (client cancel, deadline) its not-yet-started items
 *   leave the queue and its promise rejects with the signal's reason at once; results of its items
 *   already running are dropped.
 *
 * It does not retry, time out a `run`, or reorder requests by size: `run` owns its own failures, and
 * a failed run rejects every request with an item in that batch.
 */
import { InvalidArgumentError, ResourceExhaustedError, UnavailableError } from './errors.js';

/** What one batch looked like, for metrics (batch-size histograms, queue wait). */
export interface BatchInfo {
  /** Items in the batch. */
  readonly items: number;
  /** Summed cost of the items (equal to `items` without a `cost` function). */
  readonly cost: number;
  /** Distinct requests with an item in the batch. */
  readonly requests: number;
  /** How long the batch's oldest item waited in the queue, in ms. */
  readonly waitMs: number;
}

/** Options of {@link Batcher}. */
export interface BatcherOptions<Item, Result> {
  /**
   * Runs one batch. Must resolve with exactly one result per item, in the items' order; a rejection
   * (or a wrong count) rejects every request with an item in the batch.
   */
  readonly run: (items: readonly Item[]) => Promise<readonly Result[]>;
  /** Most items in one batch, ≥ 1. */
  readonly maxBatchItems: number;
  /** Most summed `cost` in one batch, > 0. @default Infinity */
  readonly maxBatchCost?: number;
  /** Cost of one item (finite, ≥ 0), e.g. its token count. @default () => 1 */
  readonly cost?: (item: Item) => number;
  /** Longest an item waits for more items before a partial batch starts, in ms, ≥ 0. */
  readonly maxWaitMs: number;
  /** Most not-yet-started items queued over all requests, ≥ 1; more is ResourceExhausted. */
  readonly maxQueuedItems: number;
  /** Batches that may run at once, ≥ 1. @default 1 */
  readonly maxConcurrentBatches?: number;
  /** Called as each batch starts (before `run`); must not throw. @default none */
  readonly onBatch?: (info: BatchInfo) => void;
}

interface Pending<Item, Result> {
  readonly items: readonly Item[];
  /** Cost of each item. */
  readonly costs: readonly number[];
  /** Index of the next item not yet taken into a batch. */
  next: number;
  /** Items whose result has not arrived yet. */
  remaining: number;
  readonly results: Result[];
  /** `Date.now()` at submit, in ms. */
  readonly enqueuedMs: number;
  /** `Date.now()` by which a partial batch starts for this request, in ms. */
  readonly dueMs: number;
  settled: boolean;
  readonly resolve: (results: Result[]) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

interface Taken<Item, Result> {
  readonly request: Pending<Item, Result>;
  readonly index: number;
}

function positive(name: string, value: number, integer: boolean, min: number): void {
  if (Number.isNaN(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Batcher: ${name} must be ${integer ? 'an integer ' : ''}≥ ${min} (got ${value})`);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the request was aborted');
}

/** The dynamic batcher; see the module comment. */
export class Batcher<Item, Result> {
  private readonly run: (items: readonly Item[]) => Promise<readonly Result[]>;
  private readonly maxBatchItems: number;
  private readonly maxBatchCost: number;
  private readonly cost: (item: Item) => number;
  private readonly maxWaitMs: number;
  private readonly maxQueuedItems: number;
  private readonly maxConcurrentBatches: number;
  private readonly onBatch: ((info: BatchInfo) => void) | undefined;

  /** Requests with items not yet taken into a batch, in round-robin order. */
  private queue: Pending<Item, Result>[] = [];
  private queuedItemCount = 0;
  private queuedCostSum = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];

  /** @throws RangeError when a limit is out of range */
  constructor(options: BatcherOptions<Item, Result>) {
    positive('maxBatchItems', options.maxBatchItems, true, 1);
    positive('maxBatchCost', options.maxBatchCost ?? Infinity, false, Number.MIN_VALUE);
    positive('maxWaitMs', options.maxWaitMs, false, 0);
    positive('maxQueuedItems', options.maxQueuedItems, true, 1);
    positive('maxConcurrentBatches', options.maxConcurrentBatches ?? 1, true, 1);
    this.run = options.run;
    this.maxBatchItems = options.maxBatchItems;
    this.maxBatchCost = options.maxBatchCost ?? Infinity;
    this.cost = options.cost ?? (() => 1);
    this.maxWaitMs = options.maxWaitMs;
    this.maxQueuedItems = options.maxQueuedItems;
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 1;
    this.onBatch = options.onBatch;
  }

  /** Items queued and not yet started, over all requests. */
  get queuedItems(): number {
    return this.queuedItemCount;
  }

  /** Batches running now. */
  get runningBatches(): number {
    return this.running;
  }

  /**
   * Queues `items` and resolves with their results, in order, once every one has run. An empty list
   * resolves with `[]` at once. `waitMs` (≤ `maxWaitMs`, which it defaults to) bounds how long these
   * items wait for others before a partial batch starts: 0 when the caller knows nobody else is coming.
   * @throws ResourceExhaustedError when the queue cannot take `items.length` more items
   * @throws InvalidArgumentError when an item's cost exceeds `maxBatchCost` (field `items[i]`) or is
   *   not a finite number ≥ 0, or when `waitMs` is not a number ≥ 0 (field `waitMs`)
   * @throws UnavailableError after {@link close}
   * @throws the signal's reason when `signal` fires before every item has run
   * @throws what `run` threw, when a batch holding one of the items fails
   */
  submit(items: readonly Item[], signal?: AbortSignal, waitMs = this.maxWaitMs): Promise<Result[]> {
    if (this.closed) return Promise.reject(new UnavailableError('the batcher is closed'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (!(waitMs >= 0))
      return Promise.reject(
        InvalidArgumentError.fromViolations([
          { field: 'waitMs', problem: `must be a number ≥ 0 (got ${waitMs})` },
        ]),
      );
    if (items.length === 0) return Promise.resolve([]);
    if (this.queuedItemCount + items.length > this.maxQueuedItems) {
      return Promise.reject(
        new ResourceExhaustedError(
          items.length > this.maxQueuedItems
            ? `${items.length} items are more than the queue holds (${this.maxQueuedItems}); send fewer at a time`
            : `queue full (${this.queuedItemCount} of ${this.maxQueuedItems} items queued); retry later`,
        ),
      );
    }
    const costs: number[] = [];
    const violations: { field: string; problem: string }[] = [];
    items.forEach((item, index) => {
      const c = this.cost(item);
      costs.push(c);
      if (!Number.isFinite(c) || c < 0) {
        violations.push({ field: `items[${index}]`, problem: `cost must be a finite number ≥ 0 (got ${c})` });
      } else if (c > this.maxBatchCost) {
        violations.push({
          field: `items[${index}]`,
          problem: `costs ${c}, more than a batch holds (${this.maxBatchCost})`,
        });
      }
    });
    if (violations.length > 0) return Promise.reject(InvalidArgumentError.fromViolations(violations));

    const enqueuedMs = Date.now();
    return new Promise<Result[]>((resolve, reject) => {
      const onAbort = (): void => this.fail(request, abortReason(signal!));
      const request: Pending<Item, Result> = {
        items,
        costs,
        next: 0,
        remaining: items.length,
        results: new Array<Result>(items.length),
        enqueuedMs,
        dueMs: enqueuedMs + Math.min(waitMs, this.maxWaitMs),
        settled: false,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(request);
      this.queuedItemCount += items.length;
      for (const c of costs) this.queuedCostSum += c;
      this.schedulePump();
    });
  }

  /**
   * Refuses new submits, starts every queued item without waiting for `maxWaitMs`, and resolves once
   * no batch is running and nothing is queued. Idempotent.
   */
  close(): Promise<void> {
    this.closed = true;
    this.pump();
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs the pump after the current synchronous code, so submits of one tick share a batch. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts every batch that is due and has a free slot; arms the wait timer for the rest. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const full = this.queuedItemCount >= this.maxBatchItems || this.queuedCostSum >= this.maxBatchCost;
      let oldestMs = Infinity;
      let dueMs = Infinity;
      for (const r of this.queue) {
        oldestMs = Math.min(oldestMs, r.enqueuedMs);
        dueMs = Math.min(dueMs, r.dueMs);
      }
      const dueInMs = dueMs - Date.now();
      if (!full && !this.closed && dueInMs > 0) {
        this.timer = setTimeout(() => this.pump(), dueInMs);
        return;
      }
      const taken = this.take();
      if (taken.length === 0) break; // cannot happen: every item fits an empty batch
      this.start(taken, Date.now() - oldestMs);
    }
    if (this.queue.length === 0) {
      // Summed floats drift; an empty queue resets them exactly.
      this.queuedItemCount = 0;
      this.queuedCostSum = 0;
    }
    if (this.running === 0 && this.queue.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Fills one batch round-robin over the queue and moves the requests it served to the back. */
  private take(): Taken<Item, Result>[] {
    const taken: Taken<Item, Result>[] = [];
    const served = new Set<Pending<Item, Result>>();
    let cost = 0;
    for (let progress = true; progress && taken.length < this.maxBatchItems;) {
      progress = false;
      for (const request of this.queue) {
        if (taken.length >= this.maxBatchItems) break;
        if (request.next >= request.items.length) continue;
        const c = request.costs[request.next]!;
        if (cost + c > this.maxBatchCost) continue;
        taken.push({ request, index: request.next });
        request.next++;
        cost += c;
        this.queuedItemCount--;
        this.queuedCostSum -= c;
        served.add(request);
        progress = true;
      }
    }
    const waiting = (r: Pending<Item, Result>): boolean => r.next < r.items.length;
    this.queue = [...this.queue.filter((r) => !served.has(r) && waiting(r)), ...[...served].filter(waiting)];
    return taken;
  }

  private start(taken: readonly Taken<Item, Result>[], waitMs: number): void {
    this.running++;
    const requests = new Set(taken.map((t) => t.request));
    let cost = 0;
    for (const t of taken) cost += t.request.costs[t.index]!;
    this.onBatch?.({ items: taken.length, cost, requests: requests.size, waitMs });
    const items = taken.map((t) => t.request.items[t.index]!);
    Promise.resolve()
      .then(() => this.run(items))
      .then((results) => {
        if (results.length !== taken.length) {
          throw new Error(`Batcher: run returned ${results.length} results for ${taken.length} items`);
        }
        taken.forEach(({ request, index }, k) => {
          if (request.settled) return;
          request.results[index] = results[k]!;
          if (--request.remaining === 0) this.settle(request, () => request.resolve(request.results));
        });
      })
      .catch((error: unknown) => {
        for (const request of requests) this.fail(request, error);
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  /** Rejects a request and drops its not-yet-started items from the queue. */
  private fail(request: Pending<Item, Result>, error: unknown): void {
    if (request.settled) return;
    const index = this.queue.indexOf(request);
    if (index >= 0) {
      this.queue.splice(index, 1);
      for (let i = request.next; i < request.items.length; i++) {
        this.queuedItemCount--;
        this.queuedCostSum -= request.costs[i]!;
      }
      request.next = request.items.length;
      if (this.queue.length === 0) this.queuedCostSum = 0;
    }
    this.settle(request, () => request.reject(error));
    if (this.closed) this.pump();
  }

  private settle(request: Pending<Item, Result>, answer: () => void): void {
    request.settled = true;
    request.detach();
    answer();
  }
}
