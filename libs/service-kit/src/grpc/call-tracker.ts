/**
 * Counts the calls being handled so shutdown can wait for them, and refuses new ones once draining.
 */

/** In-flight call accounting for one server; internal to `startGrpcServer` and the handler wrapper. */
export class CallTracker {
  private active = 0;
  private accepting = true;
  private readonly idleWaiters = new Set<() => void>();
  private readonly closingController = new AbortController();

  /** Fires when draining starts; handed to every call as `ctx.closing`. */
  get closing(): AbortSignal {
    return this.closingController.signal;
  }

  /** Calls being handled now. */
  get inFlight(): number {
    return this.active;
  }

  /** Counts a new call in; false when draining (the call must be refused). */
  begin(): boolean {
    if (!this.accepting) return false;
    this.active++;
    return true;
  }

  /** Counts a finished call out. */
  end(): void {
    this.active = Math.max(0, this.active - 1);
    if (this.active === 0) for (const wake of this.idleWaiters) wake();
  }

  /** Refuses new calls from now on and fires `closing`. */
  stopAccepting(reason: string): void {
    this.accepting = false;
    this.closingController.abort(new Error(reason));
  }

  /**
   * Resolves true once no call is in flight, or false when `timeoutMs` passes first.
   * @param timeoutMs how long to wait, in ms
   */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve(idle);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.idleWaiters.add(wake);
    });
  }
}
