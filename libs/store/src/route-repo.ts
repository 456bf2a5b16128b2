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
  /**
   * Label of the variant, unique within the route (e.g. `control`), reported with every answer it
   * serves and in metrics. Absent on routes written before names existed; readers then use the
   * policy id.
   */
  readonly name?: string;
}

/** A policy that receives a copy of a share of a route's requests, whose answers are only measured. */
export interface RouteShadow {
  readonly policyId: string;
  /** Fraction of requests mirrored, in [0, 1]. */
  readonly sampleRate: number;
}

/** The fields of a route that a version fixes. */
export interface RouteFields {
  readonly alias: string;
  readonly variants: readonly RouteVariant[];
  /** The shadow variant; null or absent: no mirroring. */
  readonly shadow?: RouteShadow | null;
  readonly updatedAt: Date;
}

/** Options of {@link RouteRepo.set}. */
export interface RouteSetOptions {
  /** The shadow variant of the new version; omitted or null: none. */
  readonly shadow?: RouteShadow | null;
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
   * @throws InvalidArgumentError for a bad alias, no variants, a bad policy id, name or weight, a
   * name used twice, all weights 0, or a bad shadow.
   * @throws FailedPreconditionError when `expectedVersion` is stale or a concurrent set won.
   */
  async set(
    alias: string,
    variants: readonly RouteVariant[],
    expectedVersion: number,
    options: RouteSetOptions = {},
  ): Promise<RouteDoc> {
    const v = new Violations();
    v.id('alias', alias);
    v.int('expectedVersion', expectedVersion);
    if (variants.length === 0) v.add('variants', 'must not be empty');
    const names = new Set<string>();
    variants.forEach((x, i) => {
      v.id(`variants[${i}].policyId`, x.policyId);
      if (!(Number.isFinite(x.weight) && x.weight >= 0))
        v.add(`variants[${i}].weight`, 'must be finite and >= 0');
      if (x.name !== undefined) {
        v.id(`variants[${i}].name`, x.name);
        if (names.has(x.name)) v.add(`variants[${i}].name`, `"${x.name}" is used by another variant`);
        names.add(x.name);
      }
    });
    if (variants.length > 0 && variants.every((x) => x.weight === 0))
      v.add('variants', 'weights must not all be 0');
    const shadow = options.shadow ?? null;
    if (shadow !== null) {
      v.id('shadow.policyId', shadow.policyId);
      if (!(shadow.sampleRate >= 0 && shadow.sampleRate <= 1))
        v.add('shadow.sampleRate', 'must be in [0, 1]');
    }
    v.throwIfAny();
    const current = (await this.get(alias))?.version ?? 0;
    if (current !== expectedVersion) {
      throw new FailedPreconditionError(`route ${alias} is at version ${current}, not ${expectedVersion}`);
    }
    const at = new Date(this.now());
    const fields: RouteFields = {
      alias,
      variants: variants.map((x) => ({
        policyId: x.policyId,
        weight: x.weight,
        ...(x.name === undefined ? {} : { name: x.name }),
      })),
      shadow: shadow === null ? null : { policyId: shadow.policyId, sampleRate: shadow.sampleRate },
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
