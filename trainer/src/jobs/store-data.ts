/**
 * An Improve step's data from MongoDB: the step's shards (leased, so the job's data cannot be taken by
 * two trainers at once and a crashed trainer's shards free up when its leases expire), the Grow samples
 * they point at plus the other samples of the same sources (baselines, DPO pairs), and the validation
 * sources of the dataset.
 *
 * Convention read here: a human reference stored as a sample carries `policyId` "reference"
 * ({@link REFERENCE_SAMPLE_POLICY}); every other sample is a policy's output.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '@rest/service-kit';
import type { SampleDoc, ShardDoc, ShardLease, ShardScope, Split, Store } from '@rest/store';
import type { ImproveData, ScoredCandidate, ValidItem } from '../improve/data.js';

/** `policyId` of samples that hold a source's human reference. */
export const REFERENCE_SAMPLE_POLICY = 'reference';

/** The leases of a job's shards. */
export class ShardLeases {
  constructor(
    private readonly store: Store,
    private held: ShardLease[],
  ) {}

  /** The leased shards, ordered by shard number. */
  get shards(): ShardDoc[] {
    return this.held.map((l) => l.shard).sort((a, b) => a.n - b.n);
  }

  /** Extends every lease. Throws FailedPreconditionError when one was lost. */
  async renew(ttlMs: number): Promise<void> {
    const next: ShardLease[] = [];
    for (const l of this.held) next.push(await this.store.shards.renew(l, ttlMs));
    this.held = next;
  }

  /** Marks every shard done. */
  async complete(): Promise<void> {
    for (const l of this.held) await this.store.shards.complete(l);
  }

  /** Gives every shard back (best effort). */
  async release(): Promise<void> {
    for (const l of this.held) await this.store.shards.release(l).catch(() => undefined);
  }
}

/**
 * Leases all `numShards` shards of `scope` to `owner`. Shards still held by a crashed trainer are
 * waited for until their leases expire (`heartbeat` runs meanwhile). Completed shards (a previous
 * incarnation finished with them) are read without a lease. Throws UnavailableError when some shard
 * is still held after `waitMs`.
 */
export async function leaseShards(
  store: Store,
  scope: ShardScope,
  numShards: number,
  owner: string,
  ttlMs: number,
  waitMs: number,
  heartbeat: () => Promise<void>,
): Promise<{ leases: ShardLeases; completed: ShardDoc[] }> {
  const held: ShardLease[] = [];
  const completed: ShardDoc[] = [];
  const deadline = Date.now() + waitMs;
  for (;;) {
    for (let got = await store.shards.leaseNext(scope, owner, ttlMs); got !== null;) {
      held.push(got);
      got = await store.shards.leaseNext(scope, owner, ttlMs);
    }
    if (held.length + completed.length >= numShards) break;
    const have = new Set([...held.map((l) => l.shard.n), ...completed.map((s) => s.n)]);
    for (let n = 0; n < numShards; n++) {
      if (have.has(n)) continue;
      const shard = await store.shards.get(scope, n);
      if (shard?.completedAt != null) completed.push(shard);
    }
    if (held.length + completed.length >= numShards) break;
    if (Date.now() > deadline) {
      await new ShardLeases(store, held).release();
      throw new UnavailableError(
        `only ${held.length + completed.length} of ${numShards} shards of ${scope.run}/${scope.grow}/${scope.improve} could be leased`,
      );
    }
    await heartbeat();
    await sleep(Math.min(1000, Math.max(100, ttlMs / 10)));
  }
  return { leases: new ShardLeases(store, held), completed };
}

function candidateOf(s: SampleDoc, reward: number, referencePolicyId: string): ScoredCandidate {
  const isReference = s.policyId === REFERENCE_SAMPLE_POLICY;
  return {
    key: `${s.idx}/${s.k}`,
    sourceId: String(s.idx),
    source: s.source,
    text: s.text,
    tokenIds: s.tokenIds,
    reward,
    isReference,
    ...(isReference ? {} : { behaviourLogProb: s.behaviourLogProb }),
    ...(s.tokenLogProbs === null || isReference ? {} : { behaviourTokenLogProbs: s.tokenLogProbs }),
    behaviourIsReference: !isReference && s.policyId === referencePolicyId,
  };
}

/** Options of {@link loadStoreData}. */
export interface StoreDataOptions {
  readonly rewardModel: string;
  readonly referencePolicyId: string;
  readonly dataset: string;
  readonly validSplit: string;
  /** Validation sources (the first ones by idx); undefined: all. */
  readonly maxValid: number | undefined;
}

/**
 * Reads the step's candidates: the shards' examples as D_i (their rewards as the shards recorded them)
 * and every sample of their sources under `rewardModel` as D_g's view for baselines and pairs.
 */
export async function loadStoreData(
  store: Store,
  scope: ShardScope,
  shards: readonly ShardDoc[],
  o: StoreDataOptions,
): Promise<ImproveData> {
  const wanted = new Set<number>();
  for (const s of shards) for (const e of s.examples) wanted.add(e.idx);
  const idxs = [...wanted].sort((a, b) => a - b);
  const samples = new Map<string, SampleDoc>();
  // Contiguous runs of source indices, fetched in pages.
  const PAGE = 5000;
  for (let i = 0; i < idxs.length;) {
    let j = i;
    while (j + 1 < idxs.length && idxs[j + 1]! - idxs[i]! < 256) j++;
    let from = idxs[i]!;
    const to = idxs[j]! + 1;
    for (;;) {
      const page = await store.samples.find(scope.run, scope.grow, { fromIdx: from, toIdx: to, limit: PAGE });
      for (const s of page) if (wanted.has(s.idx)) samples.set(`${s.idx}/${s.k}`, s);
      if (page.length < PAGE) break;
      // Pages end inside a source at worst: re-read from that source (the map de-duplicates).
      from = page[page.length - 1]!.idx;
      if (page[0]!.idx === from) throw new UnavailableError(`source ${from} has more than ${PAGE} samples`);
    }
    i = j + 1;
  }
  const all: ScoredCandidate[] = [];
  for (const s of samples.values()) {
    const r = s.rewards[o.rewardModel];
    if (r !== undefined && Number.isFinite(r)) all.push(candidateOf(s, r, o.referencePolicyId));
  }
  const train: ScoredCandidate[] = [];
  for (const shard of shards)
    for (const e of shard.examples) {
      const s = samples.get(`${e.idx}/${e.k}`);
      if (s !== undefined) train.push(candidateOf(s, e.reward, o.referencePolicyId));
    }
  const docs = await store.datasets.list(o.dataset, o.validSplit as Split, {
    limit: o.maxValid ?? 100_000,
  });
  const valid: ValidItem[] = docs.map((d) => ({
    source: d.source,
    ...(d.reference === null ? {} : { reference: d.reference }),
  }));
  return { train, all, valid };
}
