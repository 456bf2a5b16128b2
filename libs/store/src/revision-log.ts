/**
 * Optimistic concurrency that holds on FerretDB's SQLite backend as well as on MongoDB.
 *
 * A guarded update (`updateOne({ _id, version: v }, ...)`) is not enough there: FerretDB runs it as a
 * read followed by a write, so two writers holding version v can both "win". Instead each version of
 * an entity is claimed by inserting `revisions/{ns, key, version}` (unique, `_id` `<ns>/<key>@<v>`)
 * holding the entity's complete new state; exactly one claim per version succeeds. The log is the
 * truth: the current state is the highest version. The entity's own collection (runs, routes) is a
 * materialised copy for listing and queries, written after the claim and repaired on every read, so
 * a writer dying between claim and copy leaves a copy that lags until the next read or write.
 */
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from './mongo-errors.js';

/** One claimed version of an entity (collection `revisions`). */
export interface RevisionDoc<T> {
  /** `<ns>/<key>@<version>` */
  readonly _id: string;
  /** Entity kind: `runs`, `routes`. */
  readonly ns: string;
  /** Entity id. */
  readonly key: string;
  /** 1, 2, ...; version 1 is the creation. */
  readonly version: number;
  /** The entity's complete state at this version. */
  readonly state: T;
  readonly at: Date;
}

/** The version log of one entity kind. */
export class RevisionLog<T> {
  constructor(
    private readonly coll: Collection<RevisionDoc<T>>,
    private readonly ns: string,
  ) {}

  /** The highest version of `key`, or null when it was never created. */
  async latest(key: string): Promise<RevisionDoc<T> | null> {
    return this.coll.findOne({ ns: this.ns, key }, { sort: { version: -1 } });
  }

  /**
   * Claims `version` of `key` with `state`.
   * @returns the claim, or null when another writer claimed that version first.
   */
  async claim(key: string, version: number, state: T, at: Date): Promise<RevisionDoc<T> | null> {
    const doc: RevisionDoc<T> = { _id: `${this.ns}/${key}@${version}`, ns: this.ns, key, version, state, at };
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (err) {
      if (isDuplicateKeyError(err)) return null;
      throw err;
    }
  }
}

/**
 * Writes the materialised copy of version `version` unless the copy is already at it or newer.
 * The replace is filtered on an older version; when that filter misses because the copy is newer,
 * the upsert's insert collides on `_id`, which is the expected no-op.
 */
export async function materialize<D extends { _id: string; version: number }>(
  coll: Collection<D>,
  doc: D,
): Promise<void> {
  try {
    await coll.replaceOne({ _id: doc._id, version: { $lt: doc.version } } as never, doc, { upsert: true });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}
