/**
 * Routes: an alias (what clients call, e.g. `en-de`) → weighted policy variants for A/B serving, with
 * a version counter for optimistic concurrency. Versions are claims in the revision log, so a stale
 * writer fails even when it races (FerretDB included); see `revision-log.ts`.
 */
import type { Collection } from 'mongodb';
import { FailedPreconditionError } from '@rest/service-kit';
import { materialize, type RevisionDoc, RevisionLog } from './revision-log.js';
import { Violations } from './validate.js';

/** One variant of a route. */
export interface RouteVariant {
  readonly policyId: string;
  /** Relative weight ≥ 0; traffic share = weight / sum of weights. */
  readonly weight: number;
}

/** The fields of a route that a version fixes. */
export interface RouteFields {
  readonly alias: string;
  readonly variants: readonly RouteVariant[];
  readonly updatedAt: Date;
}

/** A stored route (collection `routes`). */
export interface RouteDoc extends RouteFields {
  /** The alias. */
  readonly _id: string;
  /** 1 at creation, +1 per set. */
  readonly version: number;
}

const NS = 'routes';

/** Typed access to `routes`. */
export class RouteRepo {
  private readonly log: RevisionLog<RouteFields>;

  constructor(
    private readonly coll: Collection<RouteDoc>,
    revisions: Collection<RevisionDoc<RouteFields>>,
    private readonly now: () => number = Date.now,
  ) {
    this.log = new RevisionLog(revisions, NS);
  }

  /** The current route of `alias`, or null. Repairs a lagging materialised copy. */
  async get(alias: string): Promise<RouteDoc | null> {
    const copy = await this.coll.findOne({ _id: alias }, { projection: { version: 1 } });
    const latest = await this.log.latest(alias, copy?.version ?? 0);
    if (latest === null) return null;
    const route = { _id: alias, version: latest.version, ...latest.state };
    await materialize(this.coll, route, copy?.version ?? 0);
    return route;
  }

  /** All routes, by alias (materialised copies). */
  async list(): Promise<RouteDoc[]> {
    return this.coll.find({}).sort({ _id: 1 }).toArray();
  }

  /**
   * Sets the variants of `alias` if its version is still `expectedVersion` (0 = must not exist).
   * @returns the route at its new version.
   * @throws InvalidArgumentError for a bad alias, no variants, a bad policy id or weight, or all
   * weights 0.
   * @throws FailedPreconditionError when `expectedVersion` is stale or a concurrent set won.
   */
  async set(alias: string, variants: readonly RouteVariant[], expectedVersion: number): Promise<RouteDoc> {
    const v = new Violations();
    v.id('alias', alias);
    v.int('expectedVersion', expectedVersion);
    if (variants.length === 0) v.add('variants', 'must not be empty');
    variants.forEach((x, i) => {
      v.id(`variants[${i}].policyId`, x.policyId);
      if (!(Number.isFinite(x.weight) && x.weight >= 0))
        v.add(`variants[${i}].weight`, 'must be finite and >= 0');
    });
    if (variants.length > 0 && variants.every((x) => x.weight === 0))
      v.add('variants', 'weights must not all be 0');
    v.throwIfAny();
    const current = (await this.get(alias))?.version ?? 0;
    if (current !== expectedVersion) {
      throw new FailedPreconditionError(`route ${alias} is at version ${current}, not ${expectedVersion}`);
    }
    const at = new Date(this.now());
    const fields: RouteFields = {
      alias,
      variants: variants.map((x) => ({ policyId: x.policyId, weight: x.weight })),
      updatedAt: at,
    };
    if ((await this.log.claim(alias, expectedVersion + 1, fields, at)) === null) {
      throw new FailedPreconditionError(
        `route ${alias} changed concurrently (version ${expectedVersion} is stale)`,
      );
    }
    const route = { _id: alias, version: expectedVersion + 1, ...fields };
    await materialize(this.coll, route, expectedVersion);
    return route;
  }
}
