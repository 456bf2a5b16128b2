/**
 * Policies: registered policy bundles with their lineage. A registration is immutable; registering
 * the same id again with the same bundle is a no-op, so a trainer retrying after a lost reply is safe.
 */
import type { Collection, Filter } from 'mongodb';
import { FailedPreconditionError, NotFoundError } from '@rest/service-kit';
import { isDuplicateKeyError } from './mongo-errors.js';
import { Violations } from './validate.js';

/** A bundle file as registered with a policy. */
export interface PolicyFile {
  /** Path within the bundle, e.g. `onnx/encoder_model.onnx`. */
  readonly name: string;
  /** Storage id of the file (GridFS ObjectId in hex, or a path for folder storage). */
  readonly fileId: string;
}

/** What registering a policy takes. */
export interface PolicyInput {
  readonly id: string;
  /** The policy it was trained from; null for an initial policy. */
  readonly parentId: string | null;
  /** The run that produced it; null for imported policies. */
  readonly run: string | null;
  readonly grow: number;
  readonly improve: number;
  /** Evaluation metrics at registration (e.g. `bleu`). */
  readonly metrics: Readonly<Record<string, number>>;
  /** The bundle in bundle storage. */
  readonly bundleId: string;
  readonly files: readonly PolicyFile[];
}

/** A stored policy (collection `policies`). */
export interface PolicyDoc extends Omit<PolicyInput, 'id'> {
  readonly _id: string;
  readonly createdAt: Date;
}

/** Filters and paging of {@link PolicyRepo.list}. */
export interface PolicyListQuery {
  readonly run?: string;
  readonly afterId?: string;
  /** @default 50 (at most 500) */
  readonly limit?: number;
}

/** Typed access to `policies`. */
export class PolicyRepo {
  constructor(
    private readonly coll: Collection<PolicyDoc>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Registers a policy.
   * @returns the stored policy (the existing one when replayed).
   * @throws InvalidArgumentError listing every bad field.
   * @throws FailedPreconditionError when the id is taken by a different bundle.
   */
  async register(input: PolicyInput): Promise<PolicyDoc> {
    const v = new Violations();
    v.id('id', input.id);
    if (input.parentId !== null) v.id('parentId', input.parentId);
    if (input.run !== null) v.id('run', input.run);
    v.int('grow', input.grow);
    v.int('improve', input.improve);
    v.id('bundleId', input.bundleId);
    for (const [name, value] of Object.entries(input.metrics)) v.finite(`metrics.${name}`, value);
    input.files.forEach((f, i) => {
      v.text(`files[${i}].name`, f.name);
      v.text(`files[${i}].fileId`, f.fileId);
    });
    v.throwIfAny();
    const { id, ...rest } = input;
    const doc: PolicyDoc = {
      _id: id,
      ...rest,
      metrics: { ...rest.metrics },
      files: rest.files.map((f) => ({ name: f.name, fileId: f.fileId })),
      createdAt: new Date(this.now()),
    };
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const existing = await this.require(id);
    if (existing.bundleId !== input.bundleId) {
      throw new FailedPreconditionError(
        `policy ${id} is already registered with bundle ${existing.bundleId}`,
      );
    }
    return existing;
  }

  /** A policy, or null. */
  async get(id: string): Promise<PolicyDoc | null> {
    return this.coll.findOne({ _id: id });
  }

  /**
   * A policy.
   * @throws NotFoundError when it is not registered.
   */
  async require(id: string): Promise<PolicyDoc> {
    const doc = await this.get(id);
    if (doc === null) throw new NotFoundError(`policy ${id} not found`);
    return doc;
  }

  /** Policies ordered by id, filtered and paged. */
  async list(query: PolicyListQuery = {}): Promise<PolicyDoc[]> {
    const filter: Filter<PolicyDoc> = {
      ...(query.run === undefined ? {} : { run: query.run }),
      ...(query.afterId === undefined ? {} : { _id: { $gt: query.afterId } }),
    };
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    return this.coll.find(filter).sort({ _id: 1 }).limit(limit).toArray();
  }
}
