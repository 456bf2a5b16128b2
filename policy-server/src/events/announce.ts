/**
 * Publishing `rest.routes.updated` after a SetRoute, so that every replica applies the new version.
 * The message id is `route/<alias>/<version>`: a retried publish of one version is de-duplicated.
 */
import { updateSubject, type Bus } from '@rest/bus';
import { events } from '@rest/proto';
import type { Route } from '../routing/route.js';
import { wireRoute } from '../rpc/wire.js';

/** Publishes a route version. @throws what `Bus.publishEvent` throws */
export async function announceRoute(bus: Bus, route: Route): Promise<void> {
  const messageId = `route/${route.alias}/${route.version}`;
  await bus.publishEvent(
    updateSubject('routes'),
    events.RouteUpdated,
    { messageId, route: wireRoute(route) },
    { msgId: messageId },
  );
}
