/**
 * Keeps this replica's route table current and writes routes for SetRoute.
 *
 * A new route version is applied only after the policies it serves (and its shadow) are loaded, so
 * a switch never makes requests wait for a load, and requests already running on the old version's
 * policies finish there (their leases keep those loaded). Versions arrive from three places, in any
 * order: this replica's own SetRoute, `rest.routes.updated` notices, and a periodic re-read of
 * MongoDB that catches notices missed while NATS was away. The table keeps the newest.
 */
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type Logger } from '@rest/service-kit';
import type { RouteDoc, RouteRepo } from '@rest/store';
import type { PolicyCatalog } from '../policies/policy-catalog.js';
import type { ModelPool } from '../policies/model-pool.js';
import { RouteTable, type Route, type RouteVariant } from './route.js';

/** A route as SetRoute asks for it (already checked for shape at the edge). */
export interface RouteChange {
  readonly alias: string;
  readonly variants: readonly RouteVariant[];
  readonly shadow: Route['shadow'];
  readonly expectedVersion: number;
}

/** Where SetRoute's violations are reported. */
export interface RouteChangePaths {
  /** e.g. `SetRouteRequest.variants[0].policy_id` */
  variantPolicy(index: number): string;
  /** e.g. `SetRouteRequest.shadow.policy_id` */
  readonly shadowPolicy: string;
  /** The request message's name, prefixed to the store's field names. */
  readonly message: string;
}

/** Options of {@link RouteManager}. */
export interface RouteManagerOptions {
  readonly routes: Pick<RouteRepo, 'get' | 'list' | 'set'>;
  readonly catalog: PolicyCatalog;
  readonly pool: ModelPool;
  /** Tells the other replicas (publishes `rest.routes.updated`); failures are logged, not thrown. */
  readonly announce: (route: Route) => Promise<void>;
  readonly logger: Logger;
}

/** A route document as the domain sees it (variants without names are named by their policy). */
export function routeOfDoc(doc: RouteDoc): Route {
  return {
    alias: doc._id,
    version: doc.version,
    variants: doc.variants.map((v) => ({
      name: v.name ?? v.policyId,
      policyId: v.policyId,
      weight: v.weight,
    })),
    shadow: doc.shadow === undefined || doc.shadow === null ? null : { ...doc.shadow },
    updatedAt: doc.updatedAt,
  };
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** See the module comment. */
export class RouteManager {
  readonly table = new RouteTable();
  private readonly logger: Logger;

  constructor(private readonly options: RouteManagerOptions) {
    this.logger = options.logger.child({ component: 'routes' });
  }

  /**
   * Applies `route` once its policies are loaded, if it is newer than the table's. Load failures
   * are logged and the route applied anyway: the operator asked for it, and requests then report
   * the broken policy.
   */
  async apply(route: Route, reason: string): Promise<void> {
    if (!this.table.isNewer(route)) return;
    const policies = new Set(route.variants.filter((v) => v.weight > 0).map((v) => v.policyId));
    if (route.shadow !== null && route.shadow.sampleRate > 0) policies.add(route.shadow.policyId);
    // The leases are held until the table has switched, so that the memory budget cannot unload a
    // policy of the new version between its load and its first request.
    const leases = await Promise.all(
      [...policies].map(async (policyId) => {
        try {
          return await this.options.pool.acquire(policyId);
        } catch (error) {
          this.logger.error('route policy failed to load', { alias: route.alias, policyId, err: error });
          return undefined;
        }
      }),
    );
    try {
      this.applyLoaded(route, reason);
    } finally {
      for (const lease of leases) lease?.release();
    }
  }

  private applyLoaded(route: Route, reason: string): void {
    if (this.table.apply(route)) {
      this.logger.info('route applied', {
        alias: route.alias,
        version: route.version,
        reason,
        variants: route.variants.map((v) => `${v.name}=${v.policyId}:${v.weight}`),
        shadow: route.shadow?.policyId,
      });
    }
  }

  /** Re-reads every route from MongoDB and applies the newer ones. */
  async refresh(reason: string): Promise<void> {
    const docs = await this.options.routes.list();
    await Promise.all(docs.map((doc) => this.apply(routeOfDoc(doc), reason)));
  }

  /**
   * The current version of a route, read from MongoDB (not the table, which may lag a write made
   * on another replica by a notice's latency).
   * @throws NotFoundError when there is no such route
   */
  async get(alias: string, path: string): Promise<Route> {
    const doc = await this.options.routes.get(alias);
    if (doc === null) throw new NotFoundError(`${path}: route "${alias}" not found`);
    return routeOfDoc(doc);
  }

  /**
   * Writes a route version (creating the route when `expectedVersion` is 0), tells the other
   * replicas, and resolves once this replica serves it.
   * @throws NotFoundError naming the field of a policy id that is not registered
   * @throws FailedPreconditionError when `expectedVersion` is not the current version
   * @throws InvalidArgumentError for what the store refuses (field paths under `paths.message`)
   */
  async set(change: RouteChange, paths: RouteChangePaths): Promise<Route> {
    const missing: string[] = [];
    await Promise.all(
      change.variants.map(async (v, i) => {
        if ((await this.options.catalog.find(v.policyId)) === undefined) {
          missing.push(`${paths.variantPolicy(i)}: policy "${v.policyId}" not found`);
        }
      }),
    );
    if (change.shadow !== null && (await this.options.catalog.find(change.shadow.policyId)) === undefined) {
      missing.push(`${paths.shadowPolicy}: policy "${change.shadow.policyId}" not found`);
    }
    if (missing.length > 0) throw new NotFoundError(missing.sort().join('; '));
    let doc: RouteDoc;
    try {
      doc = await this.options.routes.set(
        change.alias,
        change.variants.map((v) => ({ name: v.name, policyId: v.policyId, weight: v.weight })),
        change.expectedVersion,
        { shadow: change.shadow },
      );
    } catch (error) {
      if (error instanceof InvalidArgumentError) {
        throw InvalidArgumentError.fromViolations(
          error.violations.map((v) => ({ field: `${paths.message}.${snake(v.field)}`, problem: v.problem })),
        );
      }
      if (error instanceof FailedPreconditionError) {
        throw new FailedPreconditionError(
          `${paths.message}.expected_version: ${error.message}; GetRoute reads the current version`,
          { cause: error },
        );
      }
      throw error;
    }
    const route = routeOfDoc(doc);
    await this.options.announce(route).catch((error: unknown) =>
      this.logger.warn('route notice not published; other replicas catch up at their next refresh', {
        alias: route.alias,
        version: route.version,
        err: error,
      }),
    );
    await this.apply(route, 'SetRoute');
    return route;
  }
}
