/**
 * Routes in the server's domain, and the table of the versions this replica serves.
 *
 * The table only moves forward: a route is replaced by a higher version and never by a lower or
 * equal one, so a late notice, a periodic re-read and a SetRoute answered here can arrive in any
 * order and leave the newest version in place.
 */

/** One weighted variant of a route. */
export interface RouteVariant {
  /** Unique within the route; the policy id when the route was written without names. */
  readonly name: string;
  readonly policyId: string;
  /** ≥ 0; the share is weight / sum of weights. */
  readonly weight: number;
}

/** A route: an alias that splits traffic between policies. */
export interface Route {
  readonly alias: string;
  /** 1 at creation, +1 per change. */
  readonly version: number;
  readonly variants: readonly RouteVariant[];
  /** A policy that gets a copy of `sampleRate` of the requests, answers only measured; null: none. */
  readonly shadow: { readonly policyId: string; readonly sampleRate: number } | null;
  readonly updatedAt: Date;
}

/** The routes this replica serves, newest version of each. */
export class RouteTable {
  private readonly routes = new Map<string, Route>();

  /** The route of `alias`, or undefined. */
  get(alias: string): Route | undefined {
    return this.routes.get(alias);
  }

  /** Every route, by alias. */
  list(): Route[] {
    return [...this.routes.values()].sort((a, b) => a.alias.localeCompare(b.alias));
  }

  /** True when `route` is newer than what the table holds for its alias. */
  isNewer(route: Route): boolean {
    return route.version > (this.routes.get(route.alias)?.version ?? 0);
  }

  /** Puts `route` in place if it is newer; returns whether it was. */
  apply(route: Route): boolean {
    if (!this.isNewer(route)) return false;
    this.routes.set(route.alias, route);
    return true;
  }

  /** Policy ids any route serves or mirrors. */
  referencedPolicies(): Set<string> {
    const ids = new Set<string>();
    for (const route of this.routes.values()) {
      for (const v of route.variants) if (v.weight > 0) ids.add(v.policyId);
      if (route.shadow !== null) ids.add(route.shadow.policyId);
    }
    return ids;
  }
}
