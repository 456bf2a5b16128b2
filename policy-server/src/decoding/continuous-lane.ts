/**
 * The continuous lane of one loaded policy: greedy and sampled sources of every request and every
 * decoding setting share the policy's running decode (`ContinuousBatch` of @rest/runtime), joining it
 * between two decoder steps and leaving it as soon as their candidates end. Where the batcher's lane
 * (lane.ts) makes a source wait for the batch in front of it to end and then for its own batch's
 * longest source, here a source waits at most for the step in progress.
 *
 * - **Admission**, before each step: sources are handed to the batch round-robin over requests
 *   (fair) while it stays within `maxSources` sources and `maxCost` tokens (`sourceCost`); a lone
 *   source is always taken. The batch itself decides when they join its decode (a busy one takes
 *   newcomers a few at a time, or once one has waited `batching.maxWaitMs`: `ContinuousBatch`).
 * - **Cancellation and deadlines**: a request's waiting sources leave at once and its decoding ones
 *   at the next step (`ContinuousHandle.cancel`).
 * - **Steps** run through `around` (the engine's gate and a lease on the policy), and the event loop
 *   gets a turn between two steps, so requests arriving meanwhile are read and can join the next.
 * - A failed step fails the sources decoding in it; the lane goes on with the others.
 */
import type { Candidate, ContinuousBatch, ContinuousHandle, DecodingOptions } from '@rest/runtime';
import { DecodingError } from '@rest/runtime';
import { InvalidArgumentError, type BatchInfo } from '@rest/service-kit';

/** One source to decode. */
export interface ContinuousItem {
  /** [S] source token ids, end token included */
  readonly ids: readonly number[];
  readonly options: DecodingOptions;
  /** The source's own sampling seed. */
  readonly seed: number;
  /** Its share of `maxCost`. */
  readonly cost: number;
}

/** Options of {@link ContinuousLane}. */
export interface ContinuousLaneOptions {
  /** Most sources decoding at once. */
  readonly maxSources: number;
  /** Most summed item cost decoding at once. */
  readonly maxCost: number;
  /** Runs one step (the engine's gate and lease around it). */
  readonly around: (work: () => Promise<void>) => Promise<void>;
  /** Called after each step: sources, cost and requests in it, and the longest wait of those that joined. */
  readonly onStep?: (info: BatchInfo, ms: number) => void;
}

interface Request {
  readonly items: readonly ContinuousItem[];
  readonly results: Candidate[][];
  /** Next item to admit. */
  next: number;
  /** Items not yet answered. */
  open: number;
  readonly since: number;
  readonly handles: Set<ContinuousHandle>;
  done: boolean;
  readonly resolve: (r: Candidate[][]) => void;
  readonly reject: (e: unknown) => void;
}

/** See the module comment. */
export class ContinuousLane {
  /** Requests with items waiting, in round-robin order. */
  private waiting: Request[] = [];
  private waitingItems = 0;
  private sources = 0;
  private cost = 0;
  private readonly live = new Set<Request>();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly batch: ContinuousBatch,
    private readonly options: ContinuousLaneOptions,
  ) {}

  /** True when nothing waits or decodes. */
  get idle(): boolean {
    return this.loop === undefined && this.waitingItems === 0 && this.live.size === 0;
  }

  /**
   * Decodes `items`; per item its candidates.
   * @throws InvalidArgumentError when an item's options are out of range
   * @throws the signal's reason when it fires first
   */
  submit(items: readonly ContinuousItem[], signal: AbortSignal): Promise<Candidate[][]> {
    return new Promise<Candidate[][]>((resolve, reject) => {
      if (signal.aborted) {
        reject(reasonOf(signal));
        return;
      }
      if (items.length === 0) {
        resolve([]);
        return;
      }
      const req: Request = {
        items,
        results: new Array<Candidate[]>(items.length),
        next: 0,
        open: items.length,
        since: performance.now(),
        handles: new Set(),
        done: false,
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      };
      const onAbort = (): void => this.fail(req, reasonOf(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(req);
      this.waitingItems += items.length;
      this.live.add(req);
      this.loop ??= this.run();
    });
  }

  /** Resolves once everything submitted has been answered. */
  async close(): Promise<void> {
    while (this.loop !== undefined) await this.loop;
  }

  /** Settles `req` with `error`: its waiting items leave, its decoding ones are cancelled. */
  private fail(req: Request, error: unknown): void {
    if (req.done) return;
    req.done = true;
    this.live.delete(req);
    const at = this.waiting.indexOf(req);
    if (at >= 0) {
      this.waiting.splice(at, 1);
      this.waitingItems -= req.items.length - req.next;
    }
    for (const h of req.handles) h.cancel(error);
    req.reject(error);
  }

  private async run(): Promise<void> {
    try {
      while (this.waitingItems > 0 || this.batch.busy) {
        const waitMs = this.admit();
        if (!this.batch.busy) continue;
        const info: BatchInfo = {
          items: this.sources,
          cost: this.cost,
          requests: this.live.size,
          waitMs,
        };
        const started = performance.now();
        try {
          await this.options.around(() => this.batch.step());
        } catch (error) {
          // The batch failed its sources itself; a failure around it (the lease) leaves them to us.
          for (const req of [...this.live]) if (req.handles.size > 0) this.fail(req, error);
        }
        this.options.onStep?.(info, performance.now() - started);
        // A turn for the event loop: requests that arrived during the step are read before the next.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.loop = undefined;
    }
  }

  /** Moves waiting items into the batch while it has room; their longest wait, ms. */
  private admit(): number {
    if (this.waitingItems === 0) return 0;
    const now = performance.now();
    let waitMs = 0;
    let taken = true;
    while (taken && this.waiting.length > 0) {
      taken = false;
      for (const req of [...this.waiting]) {
        const item = req.items[req.next]!;
        const fits =
          this.sources === 0 ||
          (this.sources < this.options.maxSources && this.cost + item.cost <= this.options.maxCost);
        if (!fits) return waitMs;
        taken = true;
        waitMs = Math.max(waitMs, now - req.since);
        // A refused item fails its request, which leaves the queue with all its items.
        if (!this.start(req, req.next)) continue;
        req.next++;
        this.waitingItems--;
        if (req.next === req.items.length) this.waiting.splice(this.waiting.indexOf(req), 1);
      }
    }
    return waitMs;
  }

  /** Adds item `i` of `req` to the batch; false when the batch refuses it (the request has failed). */
  private start(req: Request, i: number): boolean {
    const item = req.items[i]!;
    let handle: ContinuousHandle;
    try {
      handle = this.batch.add(item.ids, item.options, item.seed);
    } catch (error) {
      this.fail(
        req,
        error instanceof DecodingError
          ? new InvalidArgumentError(`decoding: ${error.message}`, { cause: error })
          : error,
      );
      return false;
    }
    this.sources++;
    this.cost += item.cost;
    req.handles.add(handle);
    const leave = (): void => {
      this.sources--;
      this.cost -= item.cost;
      req.handles.delete(handle);
    };
    handle.result.then(
      (candidates) => {
        leave();
        req.results[i] = candidates;
        if (--req.open === 0 && !req.done) {
          req.done = true;
          this.live.delete(req);
          req.resolve(req.results);
        }
      },
      (error: unknown) => {
        leave();
        this.fail(req, error);
      },
    );
    return true;
  }
}

function reasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the request was aborted');
}
