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
import type { Collection, Filter } from 'mongodb';
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

  /**
   * The highest version of `key`, or null when it was never created. Walks `_id`s up from
   * `knownVersion` (e.g. the materialised copy's version), since FerretDB's SQLite backend serves
   * `_id` lookups from its primary key but scans for sorted queries; versions are contiguous.
   * @param knownVersion a version known to exist. @default 0 = unknown
   */
  async latest(key: string, knownVersion = 0): Promise<RevisionDoc<T> | null> {
    const known: RevisionDoc<T> | null = await this.coll.findOne({
      _id: this.idOf(key, Math.max(knownVersion, 1)),
    });
    if (known === null) {
      return knownVersion <= 1 ? null : this.coll.findOne({ ns: this.ns, key }, { sort: { version: -1 } });
    }
    let latest = known;
    for (let step = 0; step < 8; step++) {
      const next: RevisionDoc<T> | null = await this.coll.findOne({
        _id: this.idOf(key, latest.version + 1),
      });
      if (next === null) return latest;
      latest = next;
    }
    return (await this.coll.findOne({ ns: this.ns, key }, { sort: { version: -1 } })) ?? latest;
  }

  private idOf(key: string, version: number): string {
    return `${this.ns}/${key}@${version}`;
  }

  /**
   * Claims `version` of `key` with `state`.
   * @returns the claim, or null when another writer claimed that version first.
   */
  async claim(key: string, version: number, state: T, at: Date): Promise<RevisionDoc<T> | null> {
    const doc: RevisionDoc<T> = { _id: this.idOf(key, version), ns: this.ns, key, version, state, at };
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
 * Writes the materialised copy of version `doc.version` unless the copy is already at it or newer.
 * Compare-then-write by `_id`: a concurrent writer may still put an older copy back, which the next
 * `get` repairs (readers take the version from the log, never from the copy).
 */
export async function materialize<D extends { _id: string; version: number }>(
  coll: Collection<D>,
  doc: D,
  copyVersion?: number,
): Promise<void> {
  const current =
    copyVersion ??
    (await coll.findOne({ _id: doc._id } as Filter<D>, { projection: { version: 1 } }))?.version ??
    0;
  if (current >= doc.version) return;
  await coll.replaceOne({ _id: doc._id } as Filter<D>, doc, { upsert: true });
}
