/**
 * Which policy serves a request: a policy id as named, or a route's variant by A/B assignment
 * (sticky by request key, see routing/assignment.ts), the default route when nothing is named.
 */
import { NotFoundError } from '@rest/service-kit';
import { assign } from '../routing/assignment.js';
import type { RouteTable } from '../routing/route.js';

/** Which policy a request asks for. */
export type PolicyTarget =
  | { readonly kind: 'policy'; readonly policyId: string }
  | { readonly kind: 'route'; readonly alias: string }
  | { readonly kind: 'default' };

/** Who served a request. */
export interface ServedBy {
  readonly policyId: string;
  /** '' when a policy id was named. */
  readonly route: string;
  /** '' when no route was involved. */
  readonly variant: string;
  /** 0 when no route was involved. */
  readonly routeVersion: number;
}

/** A resolved request: who serves it, and where its shadow copy goes. */
export interface Resolution {
  readonly servedBy: ServedBy;
  /** The shadow policy to copy the request to, when the route chose to. */
  readonly mirrorTo: string | undefined;
}

/**
 * Resolves `target` against the route table.
 * @throws NotFoundError naming `path` for an unknown route (or a missing default route)
 */
export function resolveTarget(
  routes: RouteTable,
  defaultRoute: string,
  target: PolicyTarget,
  requestKey: string,
  path: string,
): Resolution {
  if (target.kind === 'policy') {
    return {
      servedBy: { policyId: target.policyId, route: '', variant: '', routeVersion: 0 },
      mirrorTo: undefined,
    };
  }
  const alias = target.kind === 'route' ? target.alias : defaultRoute;
  const route = routes.get(alias);
  if (route === undefined) {
    throw new NotFoundError(
      target.kind === 'route'
        ? `${path}.route: route "${alias}" not found`
        : `${path}: unset, and the default route "${alias}" does not exist; name a policy_id or a route`,
    );
  }
  const { variant, mirror } = assign(route, requestKey);
  const v = route.variants[variant]!;
  return {
    servedBy: { policyId: v.policyId, route: alias, variant: v.name, routeVersion: route.version },
    mirrorTo: mirror ? route.shadow?.policyId : undefined,
  };
}
