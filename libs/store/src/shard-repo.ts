/**
 * Shards: materialised batches of filtered training examples for one Improve step, handed to trainer
 * workers through leases.
 *
 * The authority on who holds a shard is the lease log (`lease-repo.ts`). The lease fields on a shard
 * (`leaseOwner`, `leaseEpoch`, `leaseExpiresAt`, `completedAt`) are hints, written on renew, release
 * and complete (not on acquire: FerretDB serialises writes, and each one costs every racer), that let
 * `leaseNext` list candidates with one query. `leaseNext` keeps that list per scope in memory and
 * works through it with `_id` lookups in the lease log, fetching a fresh list only when it runs dry
 * or racers make it stale. A stale hint costs only a wasted attempt, never a second holder.
 */
import type { Collection, Filter } from 'mongodb';
import { duplicatesOnly } from './mongo-errors.js';
import type { Lease, LeaseDoc, LeaseRepo } from './lease-repo.js';
import type { SampleDoc, UpsertCounts } from './sample-repo.js';
import { Violations } from './validate.js';

/** The Improve step a shard belongs to. */
export interface ShardScope {
  readonly run: string;
  readonly grow: number;
  readonly improve: number;
}

/** One training example of a shard: a reference to a sample and its reward. */
export interface ShardExample {
  readonly idx: number;
  readonly k: number;
  readonly reward: number;
}

/** A shard to materialise. */
export interface ShardInput {
  /** 0-based shard number within the scope. */
  readonly n: number;
  readonly examples: readonly ShardExample[];
  /** The reward threshold τ the examples cleared. */
  readonly threshold: number;
  /** The reward model whose scores were filtered. */
  readonly rewardModel: string;
}

/** A stored shard (collection `shards`). */
export interface ShardDoc extends ShardScope, ShardInput {
  /** `<run>/<grow>/<improve>/<n>` */
  readonly _id: string;
  readonly createdAt: Date;
  /** Hint: holder at the last renew/complete, null when never leased or released. */
  readonly leaseOwner: string | null;
  /** Hint: last known lease epoch, 0 when never leased. */
  readonly leaseEpoch: number;
  /** Hint: when the last known lease ends; the epoch start when never leased. */
  readonly leaseExpiresAt: Date;
  /** Hint: set once the shard's lease was completed. */
  readonly completedAt: Date | null;
}

/** A shard leased by the caller. */
export interface ShardLease {
  readonly shard: ShardDoc;
  readonly lease: Lease;
}

/** Options of {@link ShardRepo.materializeFromSamples}. */
export interface MaterializeOptions {
  readonly rewardModel: string;
  /** Keep samples whose reward is ≥ this. */
  readonly threshold: number;
  /** Examples per shard. */
  readonly shardSize: number;
}

/** Failed attempts on a candidate list before `leaseNext` fetches a fresh one. */
const FAILURES_BEFORE_RELOAD = 4;
/** Fresh candidate lists per `leaseNext` call before it reports nothing free. */
const MAX_RELOADS = 3;
/** Candidates fetched per list. */
const MAX_CANDIDATES = 256;

/** What `leaseNext` remembers of an open shard between calls. */
interface Candidate {
  readonly shard: ShardDoc;
  /** Latest lease epoch seen (0: never leased). */
  readonly epoch: number;
  /** When that lease ends, ms since the epoch; ≤ now means worth an attempt. */
  readonly expiresAtMs: number;
}

/** Shard id and lease resource name of one shard. */
export function shardId(scope: ShardScope, n: number): string {
  return `${scope.run}/${scope.grow}/${scope.improve}/${n}`;
}

function resourceOf(id: string): string {
  return `shard:${id}`;
}

/** Typed access to `shards` and their leases. */
export class ShardRepo {
  /** Open shards per scope, as last seen by this process (see `leaseNext`). */
  private readonly candidates = new Map<string, Map<string, Candidate>>();

  constructor(
    private readonly coll: Collection<ShardDoc>,
    private readonly samples: Collection<SampleDoc>,
    private readonly leases: LeaseRepo,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Writes shards; existing (scope, n) are left unchanged, so replays are no-ops.
   * @throws InvalidArgumentError listing every bad field.
   */
  async put(scope: ShardScope, shards: readonly ShardInput[]): Promise<UpsertCounts> {
    const v = new Violations();
    checkScope(v, scope);
    shards.forEach((s, i) => {
      v.int(`shards[${i}].n`, s.n);
      v.finite(`shards[${i}].threshold`, s.threshold);
      v.text(`shards[${i}].rewardModel`, s.rewardModel);
    });
    v.throwIfAny();
    if (shards.length === 0) return { inserted: 0, duplicates: 0 };
    const now = new Date(this.now());
    const docs: ShardDoc[] = shards.map((s) => ({
      _id: shardId(scope, s.n),
      run: scope.run,
      grow: scope.grow,
      improve: scope.improve,
      n: s.n,
      examples: s.examples.map((e) => ({ idx: e.idx, k: e.k, reward: e.reward })),
      threshold: s.threshold,
      rewardModel: s.rewardModel,
      createdAt: now,
      leaseOwner: null,
      leaseEpoch: 0,
      leaseExpiresAt: new Date(0),
      completedAt: null,
    }));
    try {
      return {
        inserted: (await this.coll.insertMany(docs, { ordered: false })).insertedCount,
        duplicates: 0,
      };
    } catch (err) {
      const dups = duplicatesOnly(err);
      if (dups === undefined) throw err;
      return { inserted: docs.length - dups, duplicates: dups };
    }
  }

  /**
   * Filters the Grow samples of `scope` (reward ≥ threshold under `rewardModel`), orders them by
   * (idx, k) and writes them as shards of `shardSize`. Deterministic, so a replay after the Grow's
   * rewards are final writes nothing new.
   * @returns the number of shards of the scope after the call.
   */
  async materializeFromSamples(scope: ShardScope, options: MaterializeOptions): Promise<number> {
    const v = new Violations();
    checkScope(v, scope);
    v.int('shardSize', options.shardSize, 1);
    v.finite('threshold', options.threshold);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.rewardModel)) v.add('rewardModel', 'must be a model name');
    v.throwIfAny();
    const field = `rewards.${options.rewardModel}`;
    const kept = await this.samples
      .find({ run: scope.run, grow: scope.grow, [field]: { $gte: options.threshold } })
      .project<Pick<SampleDoc, 'idx' | 'k' | 'rewards'>>({ idx: 1, k: 1, rewards: 1 })
      .sort({ idx: 1, k: 1 })
      .toArray();
    const shards: ShardInput[] = [];
    for (let start = 0; start < kept.length; start += options.shardSize) {
      shards.push({
        n: shards.length,
        threshold: options.threshold,
        rewardModel: options.rewardModel,
        examples: kept
          .slice(start, start + options.shardSize)
          .map((s) => ({ idx: s.idx, k: s.k, reward: s.rewards[options.rewardModel] ?? Number.NaN })),
      });
    }
    await this.put(scope, shards);
    return this.count(scope);
  }

  /** Number of shards in `scope`. */
  async count(scope: ShardScope): Promise<number> {
    return this.coll.countDocuments({ run: scope.run, grow: scope.grow, improve: scope.improve });
  }

  /** One shard, or null. */
  async get(scope: ShardScope, n: number): Promise<ShardDoc | null> {
    return this.coll.findOne({ _id: shardId(scope, n) });
  }

  /**
   * True when every shard of `scope` is completed. Shards whose hint says otherwise are checked
   * against the lease log (and their hint repaired), so a lost hint update cannot stall a run.
   */
  async allCompleted(scope: ShardScope): Promise<boolean> {
    const open = await this.coll
      .find({ ...scopeFilter(scope), completedAt: null })
      .project<Pick<ShardDoc, '_id' | 'leaseEpoch'>>({ _id: 1, leaseEpoch: 1 })
      .toArray();
    for (const { _id, leaseEpoch } of open) {
      const current = await this.leases.current(resourceOf(_id), leaseEpoch);
      if (current?.state !== 'completed') return false;
      await this.repairHint(_id, current);
    }
    return true;
  }

  /**
   * Leases one free, expired or released shard of `scope` to `owner` for `ttlMs` ms.
   * @returns the shard and its lease, or null when none is free now (all held or completed).
   * @throws InvalidArgumentError for a bad owner or ttl.
   */
  async leaseNext(scope: ShardScope, owner: string, ttlMs: number): Promise<ShardLease | null> {
    const key = shardId(scope, 0);
    let cache = this.candidates.get(key);
    let reloads = 0;
    for (;;) {
      if (cache === undefined) {
        cache = await this.loadCandidates(scope, this.candidates.get(key));
        reloads++;
        if (cache.size === 0) {
          this.candidates.delete(key);
          return null;
        }
        this.candidates.set(key, cache);
      }
      const now = this.now();
      const eligible = [...cache].filter(([, c]) => c.expiresAtMs <= now);
      // Racers start at different places in the list, so they mostly try different shards.
      const offset = Math.floor(Math.random() * eligible.length);
      let failures = 0;
      for (let i = 0; i < eligible.length && failures < FAILURES_BEFORE_RELOAD; i++) {
        const [id, candidate] = eligible[(offset + i) % eligible.length]!;
        const outcome = await this.leases.tryAcquire(resourceOf(id), owner, ttlMs, candidate.epoch);
        if (outcome.kind === 'acquired') {
          cache.delete(id);
          // No hint write here: FerretDB serialises writes, and racers learn that the shard is
          // held from the lease log anyway.
          return { shard: candidate.shard, lease: outcome.lease };
        } else if (outcome.kind === 'busy') {
          const { epoch, expiresAt } = outcome.current;
          cache.set(id, { ...candidate, epoch, expiresAtMs: expiresAt.getTime() });
        } else {
          // completed: never again (its completer writes the hint); lost: a racer holds it now
          // (a reload shows it again if it frees up).
          cache.delete(id);
        }
        failures++;
      }
      // Nothing left, or racers are ahead of this list: fetch fresh hints, a bounded number of times.
      if (reloads >= MAX_RELOADS || (eligible.length === 0 && reloads > 0)) return null;
      cache = undefined;
    }
  }

  /**
   * The scope's open shards that look free by their hints: one scan (FerretDB's SQLite backend
   * answers only `_id` lookups from an index); `leaseNext` then works by `_id` until racers make
   * the list stale. Leases seen held in `previous` stay known until they expire.
   */
  private async loadCandidates(
    scope: ShardScope,
    previous?: Map<string, Candidate>,
  ): Promise<Map<string, Candidate>> {
    const docs = await this.coll
      .find({ ...scopeFilter(scope), completedAt: null, leaseExpiresAt: { $lte: new Date(this.now()) } })
      .limit(MAX_CANDIDATES)
      .toArray();
    const next = new Map<string, Candidate>();
    for (const shard of docs) {
      const known = previous?.get(shard._id);
      next.set(
        shard._id,
        known !== undefined && known.epoch > shard.leaseEpoch
          ? { ...known, shard }
          : { shard, epoch: shard.leaseEpoch, expiresAtMs: shard.leaseExpiresAt.getTime() },
      );
    }
    return next;
  }

  /**
   * Extends a shard lease by `ttlMs` ms from now.
   * @throws FailedPreconditionError when the lease was lost.
   */
  async renew(held: ShardLease, ttlMs: number): Promise<ShardLease> {
    const lease = await this.leases.renew(held.lease, ttlMs);
    await this.recordHint(held.shard._id, lease.epoch, lease.owner, lease.expiresAt, null);
    return { shard: held.shard, lease };
  }

  /**
   * Gives a shard back unfinished, for another worker to take at once.
   * @throws FailedPreconditionError when the lease was already lost.
   */
  async release(held: ShardLease): Promise<void> {
    await this.leases.release(held.lease);
    await this.recordHint(held.shard._id, held.lease.epoch + 1, null, new Date(0), null);
  }

  /**
   * Marks a shard done; it is never leased again.
   * @throws FailedPreconditionError when the lease was lost before completion (another worker may
   * be processing the shard; the caller's results must be discarded or be idempotent).
   */
  async complete(held: ShardLease): Promise<void> {
    const doc = await this.leases.complete(held.lease);
    await this.recordHint(held.shard._id, doc.epoch, doc.owner, doc.expiresAt, doc.acquiredAt);
  }

  private async repairHint(id: string, current: LeaseDoc): Promise<void> {
    const completedAt = current.state === 'completed' ? current.acquiredAt : null;
    await this.recordHint(id, current.epoch, current.owner, current.expiresAt, completedAt);
  }

  /**
   * Writes the lease hint of a shard with one `_id` update (FerretDB scans for filtered updates). A
   * hint that races backwards only costs a wasted lease attempt; `completedAt` is never unset.
   */
  private async recordHint(
    id: string,
    epoch: number,
    owner: string | null,
    expiresAt: Date,
    completedAt: Date | null,
  ): Promise<void> {
    const set = {
      leaseEpoch: epoch,
      leaseOwner: owner,
      leaseExpiresAt: expiresAt,
      ...(completedAt ? { completedAt } : {}),
    };
    await this.coll.updateOne({ _id: id }, { $set: set });
  }
}

function scopeFilter(scope: ShardScope): Filter<ShardDoc> {
  return { run: scope.run, grow: scope.grow, improve: scope.improve };
}

function checkScope(v: Violations, scope: ShardScope): void {
  v.id('scope.run', scope.run);
  v.int('scope.grow', scope.grow);
  v.int('scope.improve', scope.improve);
}
