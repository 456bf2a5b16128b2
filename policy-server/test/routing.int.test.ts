/* eslint-disable @typescript-eslint/unbound-method -- client methods go to call()/ok(), which invoke them on their client */
/**
 * A/B routing end to end on a real server: sticky assignment (one key, 1,000 calls, one variant),
 * a 90/10 route whose served variant equals `assign` for each of 1,000 keys (the 10,000-key share
 * is checked on `assign` itself in src/routing/assignment.test.ts) and lands within ±3%, the
 * default route, shadow copies measured under role="shadow", and hot reload: a route written by
 * another replica (MongoDB + `rest.routes.updated`) and one written with no notice at all (picked up
 * by the periodic re-read), and a policy published after start that is configured to preload.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { updateSubject } from '@rest/bus';
import { common, events, policy } from '@rest/proto';
import { assign, type Route } from '../src/index.js';
import {
  metricValue,
  ok,
  registerPolicy,
  scrape,
  startHarness,
  startWorld,
  waitUntil,
  type Harness,
  type World,
} from './harness.js';
import { buildPolicy, multi30k } from './tiny-policy.js';

const { DecodingStrategy } = common;
/** The cheapest decoding: routing is what these tests look at. */
const CHEAP: common.DecodingParams = {
  strategy: DecodingStrategy.DECODING_STRATEGY_GREEDY,
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: undefined,
  maxNewTokens: 1,
  numBeams: 0,
  lengthPenalty: undefined,
  numReturnSequences: 0,
};
const SOURCE = multi30k('test.de', 1)[0]!;

function viaRoute(route: string, requestKey: string): policy.TranslateRequest {
  return { policy: { ref: { $case: 'route', route } }, sources: [SOURCE], requestKey, decoding: CHEAP };
}

/** Runs `count` calls, `width` at a time. */
async function inWaves<T>(count: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let from = 0; from < count; from += width) {
    out.push(
      ...(await Promise.all(Array.from({ length: Math.min(width, count - from) }, (_, k) => one(from + k)))),
    );
  }
  return out;
}

describe('A/B routing (integration)', () => {
  let world: World;
  let h: Harness;

  before(async () => {
    world = await startWorld();
    await registerPolicy(world, 'alpha', await buildPolicy(world.root, 'alpha', { seed: 1 }));
    await registerPolicy(world, 'beta', await buildPolicy(world.root, 'beta', { seed: 2 }));
    await registerPolicy(world, 'gamma', await buildPolicy(world.root, 'gamma', { seed: 3 }));
    h = await startHarness(world, {
      POLICY_POLICIES__PRELOAD: JSON.stringify(['delta']),
      // Long: the notice path is what the hot-reload test below exercises on this server.
      POLICY_ROUTING__REFRESH_INTERVAL_MS: '10m',
      POLICY_BATCHING__MAX_WAIT_MS: '1ms',
    });
    await ok(h.policies, h.policies.setRoute, {
      alias: 'ab',
      variants: [
        { name: 'control', policyId: 'alpha', weight: 90 },
        { name: 'candidate', policyId: 'beta', weight: 10 },
      ],
      shadow: undefined,
      expectedVersion: 0,
    });
  });

  after(async () => {
    await h?.close();
    await world?.stop();
  });

  it('sticky: one request key gets the same variant on 1,000 calls', async () => {
    const answers = await inWaves(1000, 50, () =>
      ok(h.policies, h.policies.translate, viaRoute('ab', 'user-7')),
    );
    const variants = new Set(answers.map((a) => `${a.servedBy?.variant}/${a.servedBy?.policyId}`));
    assert.equal(variants.size, 1, `variants ${[...variants].join(', ')}`);
  });

  it('90/10: each of 1,000 keys is served by the variant `assign` picks, and the share is 90% ± 3%', async () => {
    const route = (await ok(h.policies, h.policies.getRoute, { alias: 'ab' })).route!;
    const domain: Route = {
      alias: route.alias,
      version: route.version,
      variants: route.variants.map((v) => ({ name: v.name, policyId: v.policyId, weight: v.weight })),
      shadow: null,
      updatedAt: new Date(0),
    };
    const answers = await inWaves(1000, 50, (i) =>
      ok(h.policies, h.policies.translate, viaRoute('ab', `key-${i}`)),
    );
    let control = 0;
    answers.forEach((a, i) => {
      const expected = domain.variants[assign(domain, `key-${i}`).variant]!.name;
      assert.equal(a.servedBy?.variant, expected, `key-${i}`);
      assert.equal(a.servedBy?.routeVersion, route.version);
      if (expected === 'control') control++;
    });
    assert.ok(Math.abs(control / 1000 - 0.9) <= 0.03, `control share ${control / 1000}`);
    // Without a key the draw is random per request, and both variants show up.
    const keyless = await inWaves(200, 50, () => ok(h.policies, h.policies.translate, viaRoute('ab', '')));
    assert.equal(new Set(keyless.map((a) => a.servedBy?.variant)).size, 2);
  });

  it('default route: a request naming no policy is served by the route named by routing.defaultRoute', async () => {
    await ok(h.policies, h.policies.setRoute, {
      alias: 'default',
      variants: [{ name: 'only', policyId: 'gamma', weight: 1 }],
      shadow: undefined,
      expectedVersion: 0,
    });
    const out = await ok(h.policies, h.policies.translate, {
      policy: undefined,
      sources: [SOURCE],
      requestKey: '',
      decoding: CHEAP,
    });
    assert.deepEqual(out.servedBy, { policyId: 'gamma', route: 'default', variant: 'only', routeVersion: 1 });
  });

  it('shadow: mirrored copies run on the shadow policy and are measured under role="shadow" only', async () => {
    await ok(h.policies, h.policies.setRoute, {
      alias: 'mirrored',
      variants: [{ name: 'control', policyId: 'alpha', weight: 1 }],
      shadow: { policyId: 'beta', sampleRate: 1 },
      expectedVersion: 0,
    });
    const answers = await inWaves(10, 5, (i) =>
      ok(h.policies, h.policies.translate, viaRoute('mirrored', `k${i}`)),
    );
    for (const a of answers) assert.equal(a.servedBy?.policyId, 'alpha');
    const shadow = { route: 'mirrored', variant: 'shadow', policy: 'beta', role: 'shadow', api: 'translate' };
    await waitUntil(
      async () =>
        metricValue(await scrape(h.server), 'policy_requests_total', { ...shadow, code: 'OK' }) === 10,
      'ten shadow copies',
    );
    const text = await scrape(h.server);
    assert.ok(metricValue(text, 'policy_generated_tokens_total', shadow) >= 10);
    assert.equal(
      metricValue(text, 'policy_requests_total', {
        route: 'mirrored',
        role: 'serve',
        policy: 'alpha',
        code: 'OK',
      }),
      10,
    );
    assert.equal(
      metricValue(text, 'policy_requests_total', { route: 'mirrored', role: 'serve', policy: 'beta' }),
      0,
    );
  });

  it('hot reload: a route version written by another replica (MongoDB + notice) is applied without a restart', async () => {
    const current = (await ok(h.policies, h.policies.getRoute, { alias: 'ab' })).route!;
    const doc = await world.store.routes.set(
      'ab',
      [{ name: 'all-gamma', policyId: 'gamma', weight: 1 }],
      current.version,
    );
    const notice: events.RouteUpdated = {
      messageId: `route/ab/${doc.version}`,
      route: {
        alias: 'ab',
        variants: [{ name: 'all-gamma', policyId: 'gamma', weight: 1 }],
        shadow: undefined,
        version: doc.version,
        updatedAt: doc.updatedAt,
      },
    };
    await world.bus.publishEvent(updateSubject('routes'), events.RouteUpdated, notice, {
      msgId: notice.messageId,
    });
    await waitUntil(
      async () =>
        (await ok(h.policies, h.policies.translate, viaRoute('ab', 'user-7'))).servedBy?.policyId === 'gamma',
      'the notified route version',
    );
  });

  it('hot reload: a policy published after start that is configured to preload gets loaded', async () => {
    const listed = async (): Promise<policy.PolicyInfo | undefined> =>
      (
        await ok(h.policies, h.policies.listPolicies, { runId: '', pageSize: 0, pageToken: '' })
      ).policies.find((p) => p.policyId === 'delta');
    assert.equal(await listed(), undefined);
    await registerPolicy(world, 'delta', await buildPolicy(world.root, 'delta', { seed: 4 }));
    await waitUntil(async () => (await listed())?.loaded === true, 'delta loaded');
  });

  it('hot reload: a route written with no notice at all is picked up by the periodic re-read', async () => {
    const quick = await startHarness(world, { POLICY_ROUTING__REFRESH_INTERVAL_MS: '200ms' });
    try {
      const doc = await world.store.routes.set('silent', [{ name: 'x', policyId: 'alpha', weight: 1 }], 0);
      assert.equal(doc.version, 1);
      await waitUntil(() => quick.server.routes.table.get('silent')?.version === 1, 'the re-read');
      const out = await ok(quick.policies, quick.policies.translate, viaRoute('silent', ''));
      assert.equal(out.servedBy?.variant, 'x');
    } finally {
      await quick.close();
    }
  });
});
