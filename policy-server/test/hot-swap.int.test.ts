/* eslint-disable @typescript-eslint/unbound-method -- client methods go to call()/ok(), which invoke them on their client */
/**
 * A policy hot-swap under continuous load, with zero failed requests. A memory budget that holds
 * one policy forces every switch to unload the previous policy, which may only happen once its
 * in-flight requests are done. Under 6 loops of back-to-back Translate calls on one route, plus a
 * GenerateStream that is in flight across every switch:
 *
 *   v1 alpha → v2 beta (SetRoute here) → v3 gamma (a policy published during the load, routed by
 *   another replica: MongoDB + notice) → v4 alpha again.
 *
 * Every request succeeds, each loop sees route versions only go forward, every version serves,
 * the stream (paused by its client, so the server holds it half-decoded) keeps its alpha sessions
 * while beta and gamma serve (out of the LRU: a new alpha is loaded for v4) and finishes on the
 * policy it started with, and once idle only the last policy stays loaded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { updateSubject } from '@rest/bus';
import { common, events, policy } from '@rest/proto';
import { onnxBytes } from '../src/index.js';
import {
  call,
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

const LOOPS = 6;
/** Enough output (4 samples each) that the server blocks on flow control while the client pauses. */
const STREAM_SOURCES = 400;
const SOURCES = multi30k('test.de', 40);
const GREEDY: common.DecodingParams = {
  strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: undefined,
  maxNewTokens: 4,
  numBeams: 0,
  lengthPenalty: undefined,
  numReturnSequences: 0,
};

interface Served {
  readonly code: grpc.status;
  readonly details: string;
  readonly policyId: string;
  readonly version: number;
}

describe('policy hot-swap under load (integration)', () => {
  let world: World;
  let h: Harness;
  let gammaDir: string;

  before(async () => {
    world = await startWorld();
    const alphaDir = await buildPolicy(world.root, 'alpha', { seed: 1 });
    await registerPolicy(world, 'alpha', alphaDir);
    await registerPolicy(world, 'beta', await buildPolicy(world.root, 'beta', { seed: 2 }));
    gammaDir = await buildPolicy(world.root, 'gamma', { seed: 3 });
    // A policy with its cached and row-wise decoders (continuous batching, on below) and half of another.
    const oneAndAHalf = Math.round((await onnxBytes(alphaDir, 2)) * 1.5);
    h = await startHarness(world, {
      POLICY_POLICIES__MEMORY_BUDGET_BYTES: `${oneAndAHalf}B`,
      POLICY_ROUTING__REFRESH_INTERVAL_MS: '10m',
      POLICY_BATCHING__MAX_WAIT_MS: '2ms',
      // The swap under load runs through the continuous lane (greedy and sampled requests).
      POLICY_BATCHING__CONTINUOUS: 'true',
    });
    await ok(h.policies, h.policies.setRoute, {
      alias: 'live',
      variants: [{ name: 'main', policyId: 'alpha', weight: 1 }],
      shadow: undefined,
      expectedVersion: 0,
    });
  });

  after(async () => {
    await h?.close();
    await world?.stop();
  });

  it('switches alpha → beta → gamma → alpha with zero failed requests', async () => {
    const served: Served[][] = Array.from({ length: LOOPS }, () => []);
    let running = true;
    const loops = served.map(async (log, i) => {
      for (let n = 0; running; n++) {
        const { error, value } = await call(h.policies, h.policies.translate, {
          policy: { ref: { $case: 'route', route: 'live' } },
          sources: [SOURCES[(i * 7 + n) % SOURCES.length]!],
          requestKey: `loop-${i}-${n}`,
          decoding: GREEDY,
        });
        log.push({
          code: error?.code ?? grpc.status.OK,
          details: error?.details ?? '',
          policyId: value?.servedBy?.policyId ?? '',
          version: value?.servedBy?.routeVersion ?? 0,
        });
      }
    });
    const all = (): Served[] => served.flat();
    const seen = (version: number): boolean => all().some((s) => s.version === version);

    // A stream in flight across every switch: the client stops reading after its first chunk (so
    // the server blocks on flow control with most of it undecoded) and resumes after the last one.
    const chunks: policy.GenerateStreamResponse[] = [];
    let streamEndedMs = 0;
    let resume = (): void => {};
    const stream = new Promise<grpc.ServiceError | null>((resolve) => {
      const s = h.policies.generateStream({
        policy: { ref: { $case: 'route', route: 'live' } },
        sources: Array.from({ length: STREAM_SOURCES }, (_, i) => SOURCES[i % SOURCES.length]!),
        decoding: {
          ...GREEDY,
          strategy: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE,
          numReturnSequences: 16,
          maxNewTokens: 11,
        },
        requestKey: 'stream',
        sourcesPerResponse: 10,
      });
      resume = () => s.resume();
      s.on('data', (chunk: policy.GenerateStreamResponse) => {
        if (chunks.push(chunk) === 1) s.pause();
      });
      s.on('error', (error: grpc.ServiceError) => resolve(error));
      s.on('end', () => {
        streamEndedMs = Date.now();
        resolve(null);
      });
    });
    let v4Ms = Infinity;
    try {
      await waitUntil(() => chunks.length > 0, 'the first stream chunk');

      await waitUntil(() => all().length >= 30, 'load on v1');
      await ok(h.policies, h.policies.setRoute, {
        alias: 'live',
        variants: [{ name: 'main', policyId: 'beta', weight: 1 }],
        shadow: undefined,
        expectedVersion: 1,
      });
      await waitUntil(() => seen(2), 'v2 (beta) serving');

      // Another replica publishes gamma and routes to it: this one learns both from NATS.
      await registerPolicy(world, 'gamma', gammaDir);
      const v3 = await world.store.routes.set('live', [{ name: 'main', policyId: 'gamma', weight: 1 }], 2);
      const notice: events.RouteUpdated = {
        messageId: `route/live/${v3.version}`,
        route: {
          alias: 'live',
          variants: [{ name: 'main', policyId: 'gamma', weight: 1 }],
          shadow: undefined,
          version: v3.version,
          updatedAt: v3.updatedAt,
        },
      };
      await world.bus.publishEvent(updateSubject('routes'), events.RouteUpdated, notice, {
        msgId: notice.messageId,
      });
      await waitUntil(() => seen(3), 'v3 (gamma) serving');
      // Out of the LRU (only gamma fits the budget), alpha keeps its sessions for the stream.
      assert.deepEqual(h.server.pool.loadedIds, ['gamma']);
      assert.deepEqual([...h.server.pool.liveIds].sort(), ['alpha', 'gamma']);
      assert.equal(streamEndedMs, 0);

      await ok(h.policies, h.policies.setRoute, {
        alias: 'live',
        variants: [{ name: 'main', policyId: 'alpha', weight: 1 }],
        shadow: undefined,
        expectedVersion: 3,
      });
      v4Ms = Date.now();
      await waitUntil(() => all().filter((s) => s.version === 4).length >= 30, 'load on v4 (alpha again)');
    } finally {
      // Also on failure: nothing may run on after the test.
      running = false;
      resume();
      await Promise.all(loops);
    }
    const streamError = await stream;

    const failures = all().filter((s) => s.code !== grpc.status.OK);
    assert.deepEqual(failures, [], `${failures.length} of ${all().length} requests failed`);
    for (const [i, log] of served.entries()) {
      for (let k = 1; k < log.length; k++) {
        assert.ok(
          log[k]!.version >= log[k - 1]!.version,
          `loop ${i}: version ${log[k]!.version} after ${log[k - 1]!.version}`,
        );
      }
    }
    const byVersion = new Map<number, Set<string>>();
    for (const s of all()) byVersion.set(s.version, (byVersion.get(s.version) ?? new Set()).add(s.policyId));
    assert.deepEqual(
      [...byVersion.entries()].sort((a, b) => a[0] - b[0]).map(([v, ids]) => [v, [...ids]]),
      [
        [1, ['alpha']],
        [2, ['beta']],
        [3, ['gamma']],
        [4, ['alpha']],
      ],
    );

    assert.equal(streamError, null, `stream: ${streamError?.details}`);
    assert.equal(chunks.flatMap((c) => c.results).length, STREAM_SOURCES);
    assert.ok(streamEndedMs > v4Ms, 'the stream was still in flight at the last switch');
    assert.deepEqual(
      [...new Set(chunks.map((c) => `${c.servedBy?.policyId}@${c.servedBy?.routeVersion}`))],
      ['alpha@1'],
    );

    await waitUntil(() => h.server.pool.loadedIds.join() === 'alpha', 'only alpha loaded');
    const text = await scrape(h.server);
    assert.equal(metricValue(text, 'policy_errors_total', { route: 'live' }), 0);
    assert.equal(metricValue(text, 'policy_requests_total', { route: 'live', code: 'OK' }), all().length + 1);
  });
});
