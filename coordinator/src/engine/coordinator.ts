/**
 * The coordinator loop: one leader at a time (a lease in MongoDB), which follows every run's event
 * log from the position it stored, records each event and advances the run it concerns, advances all
 * active runs on a timer as well (so a missed wake-up only delays a step), and fails a run whose work
 * message was dead-lettered. A standby process keeps trying the lease and takes over within one TTL
 * when the leader dies; it resumes from the stored position, and `RunDriver`'s steps are idempotent,
 * so the handover neither loses nor repeats a step.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus, DeadLetterRecord, EventReader, WorkQueue } from '@rest/bus';
import { events } from '@rest/proto';
import { errorChain, type Logger } from '@rest/service-kit';
import type { Lease, Store } from '@rest/store';
import { ACTIVE_STATES, RunDriver } from './run-driver.js';

/** Lease resource of the leader. */
const LEADER = 'coordinator/leader';
/** Where the leader keeps its position in the run-event stream. */
const CURSOR_COLLECTION = 'coordinator_cursor';

/** Options of {@link Coordinator}. */
export interface CoordinatorOptions {
  readonly store: Store;
  readonly bus: Bus;
  readonly logger: Logger;
  /** Unique per process incarnation. */
  readonly owner: string;
  /** Leader lease TTL; renewed every third of it. @default 15 000 */
  readonly leaseTtlMs?: number;
  /** Period of the sweep over active runs. @default 1000 */
  readonly tickMs?: number;
}

interface CursorDoc {
  _id: string;
  seq: number;
}

/** The coordinator process's engine; `start()` returns at once, `stop()` ends every loop. */
export class Coordinator {
  readonly driver: RunDriver;
  private readonly ttlMs: number;
  private readonly tickMs: number;
  private stopped = false;
  private main: Promise<void> | undefined;
  private readers: EventReader<unknown>[] = [];
  /** Per-run chains, so one run is never advanced by two calls at once. */
  private readonly chains = new Map<string, Promise<void>>();
  private leading = false;
  private readonly aborter = new AbortController();

  constructor(private readonly options: CoordinatorOptions) {
    this.driver = new RunDriver(options);
    this.ttlMs = options.leaseTtlMs ?? 15_000;
    this.tickMs = options.tickMs ?? 1000;
  }

  /** True while this process holds the leader lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.main ??= this.run();
  }

  /** Stops the loops and gives the lease up (best effort). Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    await Promise.all(this.readers.map((r) => r.stop()));
    await this.main;
  }

  /** Advances one run now (serialised with every other advance of that run). */
  advance(runId: string): Promise<void> {
    const prev = this.chains.get(runId) ?? Promise.resolve();
    const next = prev
      .then(() => this.driver.advance(runId))
      .catch((err: unknown) => {
        this.options.logger.warn('advance failed; retrying on the next tick', {
          runId,
          err: errorChain(err),
        });
      });
    this.chains.set(runId, next);
    void next.then(() => {
      if (this.chains.get(runId) === next) this.chains.delete(runId);
    });
    return next;
  }

  /** Sleeps `ms`, or less when `stop()` is called. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.aborter.signal }).catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { store, logger, owner } = this.options;
    while (!this.stopped) {
      let lease: Lease | null = null;
      try {
        lease = await store.leases.acquire(LEADER, owner, this.ttlMs);
      } catch (err) {
        logger.warn('leader lease: cannot reach the store', { err: errorChain(err) });
      }
      if (lease === null) {
        await this.pause(this.ttlMs / 3);
        continue;
      }
      logger.info('leading', { owner, epoch: lease.epoch });
      this.leading = true;
      try {
        await this.lead(lease);
      } finally {
        this.leading = false;
      }
    }
  }

  /** Leads until the lease is lost or `stop()`; then stops every reader and releases. */
  private async lead(initial: Lease): Promise<void> {
    const { store, logger } = this.options;
    let lease = initial;
    const loops = [
      this.keep('run events', () => this.followEvents()),
      ...(['grow', 'improve', 'eval'] as const).map((q) =>
        this.keep(`${q} dead letters`, () => this.followDeadLetters(q)),
      ),
    ];
    let nextRenew = Date.now() + this.ttlMs / 3;
    while (!this.stopped) {
      await this.sweep();
      if (Date.now() >= nextRenew) {
        try {
          lease = await store.leases.renew(lease, this.ttlMs);
          nextRenew = Date.now() + this.ttlMs / 3;
        } catch (err) {
          logger.warn('leader lease lost; standing by', { err: errorChain(err) });
          break;
        }
      }
      await this.pause(this.tickMs);
    }
    this.leading = false;
    const readers = this.readers;
    this.readers = [];
    await Promise.all(readers.map((r) => r.stop()));
    await Promise.allSettled(loops);
    await Promise.allSettled([...this.chains.values()]);
    if (this.stopped) await store.leases.release(lease).catch(() => undefined);
  }

  /** Runs a reader loop again (after a pause) whenever it ends or fails while this process leads. */
  private async keep(what: string, loop: () => Promise<void>): Promise<void> {
    while (this.leading && !this.stopped) {
      try {
        await loop();
      } catch (err) {
        this.options.logger.warn(`${what}: reader failed; reopening`, { err: errorChain(err) });
      }
      if (this.leading && !this.stopped) await this.pause(1000);
    }
  }

  private async sweep(): Promise<void> {
    try {
      for (const state of ACTIVE_STATES) {
        const runs = await this.options.store.runs.list({ state, limit: 500 });
        await Promise.all(runs.map((r) => this.advance(r._id)));
      }
    } catch (err) {
      this.options.logger.warn('sweep failed', { err: errorChain(err) });
    }
  }

  /** Records and acts on run events from the stored position on; stores the position after each. */
  private async followEvents(): Promise<void> {
    const { store, bus, logger } = this.options;
    const cursors = store.db.collection<CursorDoc>(CURSOR_COLLECTION);
    const from = (await cursors.findOne({ _id: 'run-events' }))?.seq ?? 0;
    const reader = await bus.readAllRunEvents(from, events.RunEvent);
    this.readers.push(reader);
    for await (const record of reader) {
      while (this.leading && !this.stopped) {
        try {
          await this.driver.record(record);
          break;
        } catch (err) {
          logger.warn('recording an event failed; retrying', { runId: record.runId, err: errorChain(err) });
          await this.pause(1000);
        }
      }
      if (!this.leading || this.stopped) return;
      await cursors.updateOne({ _id: 'run-events' }, { $set: { seq: record.seq } }, { upsert: true });
      void this.advance(record.runId);
    }
  }

  /** Fails the run of every dead-lettered work message of `queue`. */
  private async followDeadLetters(queue: WorkQueue): Promise<void> {
    const reader = await this.options.bus.readDeadLetters(queue);
    this.readers.push(reader);
    for await (const letter of reader) {
      const runId = runOf(queue, letter);
      if (runId === undefined) continue;
      const run = await this.options.store.runs.get(runId);
      if (run === null) continue;
      await this.driver
        .fail(
          run,
          `${queue} work ${letter.msgId ?? ''} failed after ${letter.deliveries} deliveries (${letter.reason})`,
        )
        .catch((err: unknown) =>
          this.options.logger.warn('failing a run failed', { runId, err: errorChain(err) }),
        );
    }
  }
}

function runOf(queue: WorkQueue, letter: DeadLetterRecord): string | undefined {
  try {
    const codec =
      queue === 'grow' ? events.GrowWork : queue === 'improve' ? events.ImproveWork : events.EvalWork;
    const id = codec.decode(letter.data).runId;
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}
