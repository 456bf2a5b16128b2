/**
 * Grow output: one document per generated candidate, keyed (run, grow, idx, k).
 *
 * Grow is idempotent because samples are insert-only: a replayed or overlapping batch inserts what is
 * missing and its duplicates fail on the unique key and are counted, never rewritten. Inserting
 * instead of upserting matters on FerretDB, whose update is a read followed by a write: an upsert
 * that matched could write back a stale copy over rewards set in between. The first write of a key
 * wins, so replays must carry the same content (Grow is seeded).
 *
 * Rewards live in the sample (`rewards.<model>`), set by {@link SampleRepo.setRewards}. On FerretDB,
 * two writers setting different models on the same sample at the same moment could lose one update;
 * score one model per (run, grow) at a time.
 */
import type { AnyBulkWriteOperation, Collection, Filter } from 'mongodb';
import { NotFoundError } from '@rest/service-kit';
import { duplicatesOnly } from './mongo-errors.js';
import { Violations } from './validate.js';

/** Largest token id accepted (token ids are stored as int32). */
const MAX_TOKEN_ID = 2 ** 31 - 1;
/** Documents per insert/bulk call. @default 500 */
const BATCH = 500;
/**
 * Updates per bulk write in {@link SampleRepo.setRewards}. FerretDB (1.24, SQLite backend) never
 * answers a bulk write of 100 or more updates; inserts are not affected.
 */
const UPDATE_BATCH = 50;

/** One generated candidate as Grow writes it. */
export interface SampleInput {
  /** Index of the source sentence in its dataset split. */
  readonly idx: number;
  /** Candidate number among the N sampled for this source, 0-based. */
  readonly k: number;
  readonly source: string;
  /** The generated translation. */
  readonly text: string;
  /** [T] int32: target token ids, without BOS/padding. */
  readonly tokenIds: readonly number[];
  /** Sum over tokens of log p(token) under the behaviour policy, in nats (≤ 0). */
  readonly behaviourLogProb: number;
  /** [T] f64: per-token log-probs in nats, when the trainer's objective needs them. */
  readonly tokenLogProbs?: readonly number[];
  /** The policy that generated it. */
  readonly policyId: string;
  /**
   * Rewards already known, by model or metric name: a Grow worker scores before it inserts, so a
   * sample is never stored without its reward (and FerretDB is spared an update per sample).
   * @default {}
   */
  readonly rewards?: Readonly<Record<string, number>>;
}

/** A stored sample (collection `samples`). */
export interface SampleDoc extends Omit<SampleInput, 'tokenLogProbs' | 'rewards'> {
  /** `<run>/<grow>/<idx>/<k>` */
  readonly _id: string;
  readonly run: string;
  readonly grow: number;
  readonly tokenLogProbs: readonly number[] | null;
  /** Reward by model or metric name. */
  readonly rewards: Readonly<Record<string, number>>;
  readonly createdAt: Date;
}

/** One reward to record. */
export interface RewardInput {
  readonly idx: number;
  readonly k: number;
  readonly reward: number;
}

/** What an idempotent bulk write did. */
export interface UpsertCounts {
  /** New documents written. */
  readonly inserted: number;
  /** Inputs whose key already existed (left unchanged). */
  readonly duplicates: number;
}

/** Query of {@link SampleRepo.find}. */
export interface SampleQuery {
  /** Only this source. */
  readonly idx?: number;
  /** First source index, inclusive. @default 0 */
  readonly fromIdx?: number;
  /** Last source index, exclusive. @default unbounded */
  readonly toIdx?: number;
  /** @default 10000 */
  readonly limit?: number;
}

/** Key of one sample. */
export function sampleId(run: string, grow: number, idx: number, k: number): string {
  return `${run}/${grow}/${idx}/${k}`;
}

/** Model names become field paths, so they are restricted to a safe alphabet. */
const MODEL_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Typed access to `samples`. */
export class SampleRepo {
  constructor(private readonly coll: Collection<SampleDoc>) {}

  /**
   * Inserts candidates for (run, grow); existing keys are left as they are (see module header).
   * @throws InvalidArgumentError listing every bad field (ids, ints, int32 token ids, finite log-probs).
   */
  async insertMany(run: string, grow: number, samples: readonly SampleInput[]): Promise<UpsertCounts> {
    checkSamples(run, grow, samples);
    const now = new Date();
    let inserted = 0;
    let duplicates = 0;
    for (let start = 0; start < samples.length; start += BATCH) {
      const docs: SampleDoc[] = samples.slice(start, start + BATCH).map((s) => ({
        _id: sampleId(run, grow, s.idx, s.k),
        run,
        grow,
        idx: s.idx,
        k: s.k,
        source: s.source,
        text: s.text,
        tokenIds: [...s.tokenIds],
        behaviourLogProb: s.behaviourLogProb,
        tokenLogProbs: s.tokenLogProbs === undefined ? null : [...s.tokenLogProbs],
        policyId: s.policyId,
        rewards: { ...s.rewards },
        createdAt: now,
      }));
      try {
        inserted += (await this.coll.insertMany(docs, { ordered: false })).insertedCount;
      } catch (err) {
        const dups = duplicatesOnly(err);
        if (dups === undefined) throw err;
        duplicates += dups;
        inserted += docs.length - dups;
      }
    }
    return { inserted, duplicates };
  }

  /** Number of samples of (run, grow), or of the whole run when `grow` is omitted. */
  async count(run: string, grow?: number): Promise<number> {
    return this.coll.countDocuments(grow === undefined ? { run } : { run, grow });
  }

  /** One sample, or null. */
  async get(run: string, grow: number, idx: number, k: number): Promise<SampleDoc | null> {
    return this.coll.findOne({ _id: sampleId(run, grow, idx, k) });
  }

  /** Samples of (run, grow), ordered by (idx, k). */
  async find(run: string, grow: number, query: SampleQuery = {}): Promise<SampleDoc[]> {
    const range = { $gte: query.fromIdx ?? 0, ...(query.toIdx === undefined ? {} : { $lt: query.toIdx }) };
    const filter: Filter<SampleDoc> = { run, grow, idx: query.idx ?? range };
    return this.coll
      .find(filter)
      .sort({ idx: 1, k: 1 })
      .limit(query.limit ?? 10000)
      .toArray();
  }

  /**
   * Records `rewards.<model>` on samples of (run, grow); replays set the same values. Any number of
   * rewards: they are written in bulk writes of at most 50 updates (FerretDB's limit, see
   * `UPDATE_BATCH`).
   * @throws InvalidArgumentError for a bad model name, key or non-finite reward.
   * @throws NotFoundError when some samples do not exist (the others are written).
   */
  async setRewards(run: string, grow: number, model: string, rewards: readonly RewardInput[]): Promise<void> {
    const v = new Violations();
    v.id('run', run);
    v.int('grow', grow);
    if (!MODEL_PATTERN.test(model)) v.add('model', 'must be 1-64 characters of [A-Za-z0-9_-]');
    rewards.forEach((r, i) => {
      v.int(`rewards[${i}].idx`, r.idx);
      v.int(`rewards[${i}].k`, r.k);
      v.finite(`rewards[${i}].reward`, r.reward);
    });
    v.throwIfAny();
    let matched = 0;
    for (let start = 0; start < rewards.length; start += UPDATE_BATCH) {
      const ops: AnyBulkWriteOperation<SampleDoc>[] = rewards.slice(start, start + UPDATE_BATCH).map((r) => ({
        updateOne: {
          filter: { _id: sampleId(run, grow, r.idx, r.k) },
          update: { $set: { [`rewards.${model}`]: r.reward } },
        },
      }));
      matched += (await this.coll.bulkWrite(ops, { ordered: false })).matchedCount;
    }
    if (matched < rewards.length) {
      throw new NotFoundError(
        `${rewards.length - matched} of ${rewards.length} samples of ${run}/${grow} do not exist`,
      );
    }
  }
}

function checkSamples(run: string, grow: number, samples: readonly SampleInput[]): void {
  const v = new Violations();
  v.id('run', run);
  v.int('grow', grow);
  samples.forEach((s, i) => {
    const at = `samples[${i}]`;
    v.int(`${at}.idx`, s.idx);
    v.int(`${at}.k`, s.k);
    v.text(`${at}.source`, s.source, true);
    v.text(`${at}.text`, s.text, true);
    v.id(`${at}.policyId`, s.policyId);
    v.finite(`${at}.behaviourLogProb`, s.behaviourLogProb);
    if (!s.tokenIds.every((t) => Number.isInteger(t) && t >= 0 && t <= MAX_TOKEN_ID)) {
      v.add(`${at}.tokenIds`, 'must be int32 token ids >= 0');
    }
    if (s.tokenLogProbs !== undefined) {
      if (!s.tokenLogProbs.every((x) => Number.isFinite(x))) v.add(`${at}.tokenLogProbs`, 'must be finite');
      if (s.tokenLogProbs.length !== s.tokenIds.length) {
        v.add(`${at}.tokenLogProbs`, 'must have one entry per token id');
      }
    }
    for (const [model, reward] of Object.entries(s.rewards ?? {})) {
      if (!MODEL_PATTERN.test(model))
        v.add(
          `${at}.rewards`,
          `model name ${JSON.stringify(model)}: must be 1-64 characters of [A-Za-z0-9_-]`,
        );
      v.finite(`${at}.rewards.${model}`, reward);
    }
  });
  v.throwIfAny();
}
