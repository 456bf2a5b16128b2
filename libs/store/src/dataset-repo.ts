/**
 * Source sentences with optional references, keyed (dataset, split, idx). Upserts replace a
 * sentence's text, so re-importing a corrected dataset converges; importing the same rows twice is a
 * no-op in effect.
 */
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { duplicatesOnly } from './mongo-errors.js';
import { Violations } from './validate.js';

/** The dataset splits. */
export const SPLITS = ['train', 'valid', 'test'] as const;
/** One of {@link SPLITS}. */
export type Split = (typeof SPLITS)[number];

/** One sentence to import. */
export interface SentenceInput {
  /** 0-based position within the split. */
  readonly idx: number;
  readonly source: string;
  /** Reference translation, when the split has one. */
  readonly reference?: string;
}

/** A stored sentence (collection `datasets`). */
export interface SentenceDoc {
  /** `<dataset>/<split>/<idx>` */
  readonly _id: string;
  readonly dataset: string;
  readonly split: Split;
  readonly idx: number;
  readonly source: string;
  readonly reference: string | null;
}

/** Range of {@link DatasetRepo.list}. */
export interface SentenceRange {
  /** First idx, inclusive. @default 0 */
  readonly fromIdx?: number;
  /** Last idx, exclusive. @default unbounded */
  readonly toIdx?: number;
  /** @default 10000 */
  readonly limit?: number;
}

/** Documents per bulk call. */
const BATCH = 500;

/** Typed access to `datasets`. */
export class DatasetRepo {
  constructor(private readonly coll: Collection<SentenceDoc>) {}

  /**
   * Upserts sentences of one split.
   * @returns how many were new.
   * @throws InvalidArgumentError listing every bad field.
   */
  async upsert(dataset: string, split: Split, rows: readonly SentenceInput[]): Promise<number> {
    checkRows(dataset, split, rows);
    let upserted = 0;
    for (let start = 0; start < rows.length; start += BATCH) {
      const ops: AnyBulkWriteOperation<SentenceDoc>[] = rows.slice(start, start + BATCH).map((r) => ({
        updateOne: {
          filter: { _id: `${dataset}/${split}/${r.idx}` },
          update: { $set: { dataset, split, idx: r.idx, source: r.source, reference: r.reference ?? null } },
          upsert: true,
        },
      }));
      upserted += (await this.coll.bulkWrite(ops, { ordered: false })).upsertedCount;
    }
    return upserted;
  }

  /**
   * Inserts sentences of one split, leaving existing (dataset, split, idx) keys as they are: a plain
   * insert, several times faster than {@link upsert} on FerretDB, for importing a corpus.
   * @returns how many were new.
   * @throws InvalidArgumentError listing every bad field.
   */
  async insertNew(dataset: string, split: Split, rows: readonly SentenceInput[]): Promise<number> {
    checkRows(dataset, split, rows);
    let inserted = 0;
    for (let start = 0; start < rows.length; start += BATCH) {
      const docs: SentenceDoc[] = rows.slice(start, start + BATCH).map((r) => ({
        _id: `${dataset}/${split}/${r.idx}`,
        dataset,
        split,
        idx: r.idx,
        source: r.source,
        reference: r.reference ?? null,
      }));
      try {
        inserted += (await this.coll.insertMany(docs, { ordered: false })).insertedCount;
      } catch (err) {
        const dups = duplicatesOnly(err);
        if (dups === undefined) throw err;
        inserted += docs.length - dups;
      }
    }
    return inserted;
  }

  /** Sentences of a split ordered by idx, within `range`. */
  async list(dataset: string, split: Split, range: SentenceRange = {}): Promise<SentenceDoc[]> {
    const idx = { $gte: range.fromIdx ?? 0, ...(range.toIdx === undefined ? {} : { $lt: range.toIdx }) };
    return this.coll
      .find({ dataset, split, idx })
      .sort({ idx: 1 })
      .limit(range.limit ?? 10000)
      .toArray();
  }

  /** Number of sentences in a split. */
  async count(dataset: string, split: Split): Promise<number> {
    return this.coll.countDocuments({ dataset, split });
  }
}

function checkRows(dataset: string, split: Split, rows: readonly SentenceInput[]): void {
  const v = new Violations();
  v.id('dataset', dataset);
  if (!SPLITS.includes(split)) v.add('split', `must be one of ${SPLITS.join(', ')}`);
  rows.forEach((r, i) => {
    v.int(`rows[${i}].idx`, r.idx);
    v.text(`rows[${i}].source`, r.source);
    if (r.reference !== undefined) v.text(`rows[${i}].reference`, r.reference, true);
  });
  v.throwIfAny();
}
