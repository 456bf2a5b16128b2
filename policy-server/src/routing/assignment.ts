/**
 * A/B assignment: which variant of a route serves a request, and whether its shadow gets a copy.
 *
 * A request key is hashed with the route alias (SHA-256, first 52 bits, as a point `u` in [0, 1));
 * the variants own consecutive slices of [0, 1) in their listed order, each as wide as its share of
 * the weights. So a key stays on its variant while the route's weights do not change, any key has
 * the same point on every replica, and a weight change moves only the keys whose point changes
 * slice (10% → 50% for the second variant moves 40% of keys, all towards it). The alias is hashed
 * in so that one user key lands independently on different routes. Without a key the point is
 * drawn at random per request.
 *
 * Shadow mirroring is decided the same way on a second, independent point (`shadow` is hashed in).
 */
import { createHash } from 'node:crypto';
import type { Route } from './route.js';

/** 2^52: the points are multiples of 2^-52, exact in a double. */
const SCALE = 2 ** 52;

/** The point in [0, 1) of `key` on route `alias`; `salt` separates independent decisions. */
export function routePoint(alias: string, key: string, salt = ''): number {
  const digest = createHash('sha256').update(`${salt}\u0000${alias}\u0000${key}`, 'utf8').digest();
  // 52 bits: the top 20 bits of the first word, then 32 more.
  const high = digest.readUInt32BE(0) >>> 12;
  const low = digest.readUInt32BE(4);
  return (high * 2 ** 32 + low) / SCALE;
}

/**
 * The index of the variant owning point `u` in [0, 1): variant i owns
 * [sum of earlier weights, sum including its own) / total. Zero-weight variants own nothing.
 * @throws RangeError when no weight is positive (routes are validated before they are stored)
 */
export function variantAt(weights: readonly number[], u: number): number {
  const total = weights.reduce((a, w) => a + w, 0);
  if (!(total > 0)) throw new RangeError('a route needs a positive weight sum');
  const target = u * total;
  let acc = 0;
  let last = -1;
  for (const [i, w] of weights.entries()) {
    if (w <= 0) continue;
    last = i;
    acc += w;
    if (target < acc) return i;
  }
  return last; // rounding at the top end
}

/** Which variant serves a request, and whether its shadow gets a copy. */
export interface Assignment {
  /** Index into `route.variants`. */
  readonly variant: number;
  readonly mirror: boolean;
}

/**
 * Assigns a request to a variant of `route`: sticky by `requestKey` (see the module comment), or
 * at random when the key is empty.
 * @param random source of uniform [0, 1) numbers for keyless requests. @default Math.random
 */
export function assign(route: Route, requestKey: string, random: () => number = Math.random): Assignment {
  const keyed = requestKey !== '';
  const u = keyed ? routePoint(route.alias, requestKey) : random();
  const variant = variantAt(
    route.variants.map((v) => v.weight),
    u,
  );
  const rate = route.shadow?.sampleRate ?? 0;
  const mirror = rate > 0 && (keyed ? routePoint(route.alias, requestKey, 'shadow') : random()) < rate;
  return { variant, mirror };
}
