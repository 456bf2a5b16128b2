/**
 * Loaded policies (two ONNX sessions and a tokenizer each) in an LRU under a memory budget.
 *
 * - A policy's cost is the summed size of its ONNX files: an estimate (sessions also hold activations
 *   and onnxruntime's arenas) that is known before loading, so room is made first.
 * - Every user holds a lease, and a policy's sessions are released only when its last lease ends.
 *   Eviction takes the least recently used idle policies; making room for a load may also evict
 *   busy ones, which leave the LRU at once and are released when their requests are done. That is
 *   what lets a route switch policies under load without failing a request.
 * - Loads are single-flight: concurrent acquires of one policy share one load. A failed load is not
 *   remembered, so the next acquire tries again.
 * - Evicted policies still finishing requests are not counted against the budget: memory can
 *   exceed it by them for as long as their requests run (refusing would fail requests).
 */
import { UnavailableError, type Logger } from '@rest/service-kit';
import type { LoadedPolicy } from './loaded-policy.js';

/** A hold on a loaded policy; call `release` exactly once (later calls are ignored). */
export interface PolicyLease {
  readonly policy: LoadedPolicy;
  release(): void;
}

/** What the pool needs to load a policy. */
export interface PolicyLoader {
  /** Bytes the policy will take (its ONNX files), known before loading. */
  estimateBytes(policyId: string): Promise<number>;
  /** Loads and warms up a policy. */
  load(policyId: string, instance: number): Promise<LoadedPolicy>;
}

/** Options of {@link ModelPool}. */
export interface ModelPoolOptions {
  readonly loader: PolicyLoader;
  readonly budgetBytes: number;
  readonly logger: Logger;
  /** Called after each load and unload with the loaded ids and bytes (metrics). @default none */
  readonly onChange?: (loaded: readonly { id: string; bytes: number }[]) => void;
}

interface Entry {
  readonly policy: LoadedPolicy;
  leases: number;
  lastUsedMs: number;
  evicted: boolean;
}

/** The LRU of loaded policies; see the module comment. */
export class ModelPool {
  /** Current (not evicted) entries by policy id. */
  private readonly entries = new Map<string, Entry>();
  /** Every entry whose sessions are not released yet, evicted-but-busy ones included. */
  private readonly live = new Map<LoadedPolicy, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly releasing = new Set<Promise<void>>();
  private readonly idleWaiters: (() => void)[] = [];
  private nextInstance = 1;
  private closed = false;

  constructor(private readonly options: ModelPoolOptions) {}

  /** Ids of the loaded policies. */
  get loadedIds(): readonly string[] {
    return [...this.entries.keys()];
  }

  /** Ids of every policy whose sessions are loaded, evicted ones still finishing requests included. */
  get liveIds(): readonly string[] {
    return [...this.live.keys()].map((p) => p.id);
  }

  /** Summed bytes of the loaded policies (evicted ones still finishing requests not included). */
  get loadedBytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.policy.bytes;
    return sum;
  }

  /** True when `id` is loaded now. */
  isLoaded(id: string): boolean {
    return this.entries.has(id);
  }

  /**
   * A lease on policy `id`, loading it (after evicting idle policies to make room) when needed.
   * @throws what the loader throws (unknown policy, broken bundle)
   * @throws UnavailableError after {@link close}
   */
  async acquire(id: string): Promise<PolicyLease> {
    if (this.closed) throw new UnavailableError('the server is shutting down');
    const entry = this.entries.get(id) ?? (await this.load(id));
    return this.lease(entry);
  }

  /**
   * A second lease on a policy that a lease holds now (a batch run takes one so that a caller
   * cancelling mid-run cannot unload the sessions under the run). Undefined when it is unloaded.
   */
  retain(policy: LoadedPolicy): PolicyLease | undefined {
    const entry = this.live.get(policy);
    return entry === undefined ? undefined : this.lease(entry);
  }

  /** Unloads every policy as soon as its leases end; acquires fail from now on. Resolves when all are released. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.loading.values()]);
    for (const entry of [...this.entries.values()]) this.evict(entry, 'shutdown');
    if (this.live.size === 0 && this.releasing.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private lease(entry: Entry): PolicyLease {
    entry.leases++;
    entry.lastUsedMs = performance.now();
    let released = false;
    return {
      policy: entry.policy,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        entry.lastUsedMs = performance.now();
        if (entry.leases > 0) return;
        if (entry.evicted) this.unload(entry);
        else this.shrink(0);
      },
    };
  }

  private load(id: string): Promise<Entry> {
    let pending = this.loading.get(id);
    if (pending === undefined) {
      pending = (async () => {
        const bytes = await this.options.loader.estimateBytes(id);
        this.shrink(bytes);
        const policy = await this.options.loader.load(id, this.nextInstance++);
        const entry: Entry = { policy, leases: 0, lastUsedMs: performance.now(), evicted: false };
        this.live.set(policy, entry);
        if (this.closed) {
          entry.evicted = true;
          this.unload(entry);
          throw new UnavailableError('the server is shutting down');
        }
        this.entries.set(id, entry);
        this.options.logger.info('policy loaded', {
          policyId: id,
          bytes: policy.bytes,
          loadedBytes: this.loadedBytes,
          budgetBytes: this.options.budgetBytes,
        });
        this.changed();
        return entry;
      })().finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /**
   * Makes room for `incoming` bytes: evicts idle policies, least recently used first, until the
   * loaded ones fit the budget. Making room for a load may also evict busy policies (least recently
   * used first): they leave the LRU at once, so that the policy being loaded is not the one the
   * budget pushes out when it goes idle, and their sessions are released with their last lease.
   * (Without that, a route switched away from a policy that a long stream still uses would unload
   * and reload its new policy after every request.)
   */
  private shrink(incoming: number): void {
    const budget = this.options.budgetBytes;
    const over = (): boolean => this.loadedBytes + incoming > budget;
    if (!over()) return;
    const byAge = (a: Entry, b: Entry): number => a.lastUsedMs - b.lastUsedMs;
    const entries = [...this.entries.values()];
    for (const entry of entries.filter((e) => e.leases === 0).sort(byAge)) {
      if (!over()) return;
      this.evict(entry, 'memory budget');
    }
    if (incoming === 0) return;
    for (const entry of entries.filter((e) => e.leases > 0).sort(byAge)) {
      if (!over()) return;
      this.evict(entry, 'memory budget (released when its requests finish)');
    }
    if (over()) {
      this.options.logger.warn('a policy alone is larger than the memory budget', {
        incomingBytes: incoming,
        budgetBytes: budget,
      });
    }
  }

  private evict(entry: Entry, reason: string): void {
    this.entries.delete(entry.policy.id);
    entry.evicted = true;
    this.options.logger.info('policy unloaded', { policyId: entry.policy.id, reason, leases: entry.leases });
    if (entry.leases === 0) this.unload(entry);
    this.changed();
  }

  private unload(entry: Entry): void {
    if (!this.live.delete(entry.policy)) return;
    const releasing = entry.policy
      .release()
      .catch((error: unknown) =>
        this.options.logger.warn('policy release failed', { policyId: entry.policy.id, err: error }),
      )
      .finally(() => {
        this.releasing.delete(releasing);
        if (this.closed && this.live.size === 0 && this.releasing.size === 0) {
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        }
      });
    this.releasing.add(releasing);
  }

  private changed(): void {
    this.options.onChange?.(
      [...this.entries.values()].map((e) => ({ id: e.policy.id, bytes: e.policy.bytes })),
    );
  }
}
