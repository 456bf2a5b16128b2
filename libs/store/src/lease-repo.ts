/**
 * Leases: exclusive, expiring claims on a named resource (a shard, a job), correct on MongoDB and on
 * FerretDB's SQLite backend alike.
 *
 * Why not `findOneAndUpdate`: FerretDB's SQLite backend executes findAndModify (and update) as a read
 * followed by a separate write, so two workers can both read "expired" and both write themselves in.
 * The one write that is atomic on both servers is an insert against a unique key. So a lease is an
 * append-only log per resource, and every change is an insert:
 *
 *   leases: { _id: "<resource>@<epoch>", resource, epoch, owner, state, acquiredAt, expiresAt }
 *   unique on _id and on (resource, epoch)
 *
 * The current state of a resource is its document with the highest epoch. `state` is `held` (owner
 * holds it until `expiresAt`), `released` (free now) or `completed` (terminal: never leased again).
 * Every transition from epoch e is the insert of epoch e + 1:
 *
 *   acquire   read the highest epoch e; if it is a `held` lease past `expiresAt` or `released` (or
 *             there is none, e = 0), insert e + 1 as `held` by the caller.
 *   renew     the holder of e inserts e + 1 as `held` by itself with a new `expiresAt`.
 *   release   the holder of e inserts e + 1 as `released`.
 *   complete  the holder of e inserts e + 1 as `completed`.
 *
 * Correctness argument. (1) For each (resource, e + 1) the unique index admits exactly one insert;
 * every other inserter gets E11000 and learns it lost. Reads may be stale, but a stale read only
 * makes its reader try an epoch that already exists, which fails. (2) Hence the epochs of a resource
 * form one chain, and each link was written by exactly one party that observed the link before it.
 * A renewal, release or completion by the holder of e succeeds only if no one inserted e + 1 first,
 * i.e. only if nobody took the lease after e; otherwise it throws FailedPreconditionError and the
 * caller must stop. (3) Another worker inserts e + 1 only after reading e as expired, so two owners
 * never hold overlapping unexpired epochs, provided clocks agree to within the margin holders keep
 * (a holder must stop, or renew, before its `expiresAt` by its own clock). If the holder renews late
 * but still wins e + 1, nobody held the resource in between, so exclusion still holds. (4) After a
 * `completed` epoch, acquire refuses to insert, and a racer with a stale read targets an epoch that
 * already exists; so a completed resource is never leased again. (5) No update ever rewrites a lease
 * document, so FerretDB's non-atomic read-modify-write never applies. The epoch is also a fencing
 * token: writes guarded by it can reject a deposed holder.
 *
 * Replays: a transition retried after a lost reply finds its own document at e + 1 (same owner and
 * state) and reports success, so owners must be unique per worker incarnation.
 *
 * Not done here: the log is not compacted (one small document per transition); clocks are the
 * clients' own, so keep TTLs well above the expected skew.
 */
import type { Collection } from 'mongodb';
import { FailedPreconditionError } from '@rest/service-kit';
import { isDuplicateKeyError } from './mongo-errors.js';
import { Violations } from './validate.js';

/** The states a lease log entry can record, see the module header. */
export const LEASE_STATES = ['held', 'released', 'completed'] as const;
/** One of {@link LEASE_STATES}. */
export type LeaseState = (typeof LEASE_STATES)[number];

/** One entry of a resource's lease log (collection `leases`). */
export interface LeaseDoc {
  /** `<resource>@<epoch>` */
  readonly _id: string;
  readonly resource: string;
  /** 1, 2, ...: one per transition; also a fencing token. */
  readonly epoch: number;
  /** The worker that wrote this entry (the holder, for `held`). */
  readonly owner: string;
  readonly state: LeaseState;
  readonly acquiredAt: Date;
  /** For `held`: end of the lease (client clock). For the others: when it was written. */
  readonly expiresAt: Date;
}

/** A lease held by the caller: pass it back to renew, release or complete. */
export interface Lease {
  readonly resource: string;
  readonly epoch: number;
  readonly owner: string;
  /** The holder must stop (or renew) before this time, allowing for clock skew. */
  readonly expiresAt: Date;
}

/** The outcome of one acquisition attempt, for callers that keep hints in step (shards). */
export type AcquireOutcome =
  | { readonly kind: 'acquired'; readonly lease: Lease }
  | { readonly kind: 'busy'; readonly current: LeaseDoc }
  | { readonly kind: 'completed'; readonly current: LeaseDoc }
  | { readonly kind: 'lost' };

/** Longest accepted lease. @default 24 h */
const MAX_TTL_MS = 24 * 60 * 60 * 1000;

function leaseOf(doc: LeaseDoc): Lease {
  return { resource: doc.resource, epoch: doc.epoch, owner: doc.owner, expiresAt: doc.expiresAt };
}

/** Lease primitive over the `leases` collection; see the module header for why it is insert-only. */
export class LeaseRepo {
  constructor(
    private readonly coll: Collection<LeaseDoc>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The latest log entry of `resource`, or null if it was never leased.
   * @param knownEpoch an epoch known to exist (e.g. from a hint), to find the latest by walking
   * `_id`s upwards from it instead of sorting the resource's entries (FerretDB's SQLite backend
   * serves `_id` lookups from its primary key but scans for other queries). @default 0 = unknown
   */
  async current(resource: string, knownEpoch = 0): Promise<LeaseDoc | null> {
    if (knownEpoch <= 0) {
      const first = await this.coll.findOne({ _id: `${resource}@1` });
      if (first === null) return null;
      // Epochs are contiguous (each is an insert of the previous + 1): walk up from the first.
      return this.walkUp(first);
    }
    const known = await this.coll.findOne({ _id: `${resource}@${knownEpoch}` });
    return known === null ? this.coll.findOne({ resource }, { sort: { epoch: -1 } }) : this.walkUp(known);
  }

  private async walkUp(from: LeaseDoc): Promise<LeaseDoc> {
    let latest = from;
    // A long-lived lease renewed many times has many epochs; past a few steps, one sorted query
    // is cheaper than walking.
    for (let step = 0; step < 4; step++) {
      const next = await this.coll.findOne({ _id: `${latest.resource}@${latest.epoch + 1}` });
      if (next === null) return latest;
      latest = next;
    }
    return (await this.coll.findOne({ resource: latest.resource }, { sort: { epoch: -1 } })) ?? latest;
  }

  /** True once `resource` was completed. */
  async isCompleted(resource: string): Promise<boolean> {
    return (await this.current(resource))?.state === 'completed';
  }

  /**
   * One attempt to lease `resource` for `ttlMs` milliseconds, with the reason when it fails.
   * @param knownEpoch see {@link current}. @default 0
   * @throws InvalidArgumentError for an empty resource/owner or a ttl outside (0, 24 h].
   */
  async tryAcquire(resource: string, owner: string, ttlMs: number, knownEpoch = 0): Promise<AcquireOutcome> {
    checkArgs(resource, owner, ttlMs);
    const current = await this.current(resource, knownEpoch);
    const now = this.now();
    if (current !== null) {
      if (current.state === 'completed') return { kind: 'completed', current };
      if (current.state === 'held' && current.expiresAt.getTime() > now) return { kind: 'busy', current };
    }
    const doc = entry(resource, (current?.epoch ?? 0) + 1, owner, 'held', now, now + ttlMs);
    try {
      await this.coll.insertOne(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) return { kind: 'lost' };
      throw err;
    }
    return { kind: 'acquired', lease: leaseOf(doc) };
  }

  /**
   * Leases `resource` to `owner` for `ttlMs` ms if it is free, expired or released.
   * @returns the lease, or null when someone else holds it, it is completed, or a racer won.
   * @throws InvalidArgumentError for bad arguments (see {@link tryAcquire}).
   */
  async acquire(resource: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const outcome = await this.tryAcquire(resource, owner, ttlMs);
    return outcome.kind === 'acquired' ? outcome.lease : null;
  }

  /**
   * Extends a held lease to now + `ttlMs` (a new epoch, owned by the same holder).
   * @throws FailedPreconditionError when the lease was lost (another epoch was written after it).
   */
  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    checkArgs(lease.resource, lease.owner, ttlMs);
    const now = this.now();
    return leaseOf(await this.advance(lease, 'held', now + ttlMs));
  }

  /**
   * Gives a held lease up so another worker may take it at once.
   * @throws FailedPreconditionError when the lease was already lost.
   */
  async release(lease: Lease): Promise<void> {
    await this.advance(lease, 'released', this.now());
  }

  /**
   * Marks the resource done: it is never leased again.
   * @throws FailedPreconditionError when the lease was lost before completion.
   */
  async complete(lease: Lease): Promise<LeaseDoc> {
    return this.advance(lease, 'completed', this.now());
  }

  private async advance(lease: Lease, state: LeaseState, expiresAtMs: number): Promise<LeaseDoc> {
    const doc = entry(lease.resource, lease.epoch + 1, lease.owner, state, this.now(), expiresAtMs);
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const next = await this.coll.findOne({ _id: doc._id });
    if (next !== null && next.owner === lease.owner && next.state === state) return next;
    throw new FailedPreconditionError(
      `lease ${lease.resource}@${lease.epoch} of ${lease.owner} was lost` +
        (next === null ? '' : ` (epoch ${next.epoch} is ${next.state} by ${next.owner})`),
    );
  }
}

function entry(
  resource: string,
  epoch: number,
  owner: string,
  state: LeaseState,
  nowMs: number,
  expiresAtMs: number,
): LeaseDoc {
  return {
    _id: `${resource}@${epoch}`,
    resource,
    epoch,
    owner,
    state,
    acquiredAt: new Date(nowMs),
    expiresAt: new Date(expiresAtMs),
  };
}

function checkArgs(resource: string, owner: string, ttlMs: number): void {
  const v = new Violations();
  v.text('resource', resource);
  v.id('owner', owner);
  v.int('ttlMs', ttlMs, 1, MAX_TTL_MS);
  v.throwIfAny();
}
