/**
 * Hot reload: `rest.routes.updated` applies the new route version (after loading its policies, see
 * RouteManager), and `rest.policies.published` warms a newly registered policy that this replica is
 * configured to preload or that a route already names. Notices are read from "now on"; the routes
 * that exist at start-up come from MongoDB, read after the readers are open so that nothing falls
 * between the two. A periodic re-read of MongoDB covers notices missed while NATS was away.
 *
 * A notice that does not decode is logged and skipped by the bus; one that fails to apply is logged,
 * and the loop goes on.
 */
import { events } from '@rest/proto';
import type { Bus, EventReader, UpdateRecord } from '@rest/bus';
import type { Logger } from '@rest/service-kit';
import type { ModelPool } from '../policies/model-pool.js';
import type { RouteManager } from '../routing/route-manager.js';
import type { Route } from '../routing/route.js';

/** Options of {@link startReload}. */
export interface ReloadOptions {
  readonly bus: Bus;
  readonly routes: RouteManager;
  readonly pool: ModelPool;
  /** Policy ids loaded as soon as they are published. */
  readonly preload: readonly string[];
  readonly refreshIntervalMs: number;
  readonly logger: Logger;
}

/** The running reload loops. */
export interface Reload {
  /** Stops the readers and the timer and waits for the loops to end. */
  stop(): Promise<void>;
}

/** A route notice's route in the domain, or undefined when it is malformed (no variant with weight). */
export function routeOfNotice(notice: events.RouteUpdated): Route | undefined {
  const r = notice.route;
  if (r === undefined || r.alias === '' || r.version < 1 || !r.variants.some((v) => v.weight > 0))
    return undefined;
  return {
    alias: r.alias,
    version: r.version,
    variants: r.variants.map((v) => ({
      name: v.name === '' ? v.policyId : v.name,
      policyId: v.policyId,
      weight: v.weight,
    })),
    shadow: r.shadow === undefined ? null : { policyId: r.shadow.policyId, sampleRate: r.shadow.sampleRate },
    updatedAt: r.updatedAt ?? new Date(0),
  };
}

async function drain<T>(
  reader: EventReader<UpdateRecord<T>>,
  handle: (message: T) => Promise<void>,
  logger: Logger,
): Promise<void> {
  for await (const record of reader) {
    try {
      await handle(record.message);
    } catch (error) {
      logger.error('notice not applied', { kind: record.kind, seq: record.seq, err: error });
    }
  }
}

/**
 * Opens the notice readers, loads the routes from MongoDB, and starts the loops and the refresh timer.
 * @throws UnavailableError when a reader cannot be opened or MongoDB cannot be read
 */
export async function startReload(options: ReloadOptions): Promise<Reload> {
  const logger = options.logger.child({ component: 'reload' });
  const routeReader = await options.bus.readUpdates('routes', events.RouteUpdated);
  const policyReader = await options.bus.readUpdates('policies', events.PolicyPublished);
  const stopReaders = async (): Promise<void> => {
    await Promise.all([routeReader.stop(), policyReader.stop()]);
  };
  try {
    await options.routes.refresh('start-up');
  } catch (error) {
    await stopReaders();
    throw error;
  }
  const loops = [
    drain(
      routeReader,
      async (notice) => {
        const route = routeOfNotice(notice);
        if (route === undefined) {
          logger.warn('malformed route notice skipped', { messageId: notice.messageId });
          return;
        }
        await options.routes.apply(route, 'rest.routes.updated');
      },
      logger,
    ),
    drain(
      policyReader,
      async (notice) => {
        const policyId = notice.policy?.policyId ?? '';
        logger.info('policy published', { policyId });
        const wanted =
          options.preload.includes(policyId) || options.routes.table.referencedPolicies().has(policyId);
        if (policyId !== '' && wanted && !options.pool.isLoaded(policyId)) {
          (await options.pool.acquire(policyId)).release();
        }
      },
      logger,
    ),
  ];
  let refreshing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = options.routes
      .refresh('periodic')
      .catch((error: unknown) => logger.warn('route refresh failed', { err: error }));
  }, options.refreshIntervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await stopReaders();
      await Promise.allSettled([...loops, refreshing]);
    },
  };
}
