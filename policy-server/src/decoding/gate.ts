/**
 * A FIFO counting semaphore: at most `slots` holders at once, waiters served in arrival order. The
 * batchers of every policy and decoding share one, so that `batching.maxConcurrentBatches` bounds
 * the session runs of the whole process (each run already uses `intraOpThreads` cores).
 */
export class Gate {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1)
      throw new RangeError(`Gate: slots must be an integer ≥ 1 (got ${slots})`);
  }

  /** Holders now. */
  get busy(): number {
    return this.held;
  }

  /** Waits for a slot; call the returned function exactly once to free it. */
  async enter(): Promise<() => void> {
    if (this.held < this.slots) this.held++;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = this.waiters.shift();
      if (next === undefined) this.held--;
      else next(); // the slot passes to the next waiter directly
    };
  }
}
