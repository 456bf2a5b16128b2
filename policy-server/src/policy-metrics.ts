/**
 * The policy server's own Prometheus instruments, on the registry of the kit's `createServerMetrics`
 * (beside `grpc_server_*`). Request series are labelled by who served: `route` and `variant` (empty
 * for requests naming a policy id), `policy`, and `role` (`serve`, or `shadow` for mirrored copies
 * whose answers are discarded), plus the `api`. Only routes, variants and policies that exist become
 * label values (requests are counted after they resolve), so random names from clients cannot grow
 * the series without bound.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchInfo } from '@rest/service-kit';
import type { BatchKind } from './decoding/decode-engine.js';

/** Which API a request came through. */
export type PolicyApi = 'generate' | 'generate_stream' | 'translate' | 'score' | 'oip';

/** Who served a request. */
export interface ServedLabels {
  /** '' when the request named a policy id. */
  readonly route: string;
  /** '' when no route was involved. */
  readonly variant: string;
  readonly policy: string;
  readonly role: 'serve' | 'shadow';
}

/** Bucket bounds of the latency histograms, in seconds: 5 ms … 60 s. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Bucket bounds of the batch-size histogram, in sources. */
const BATCH_SOURCES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** The instruments; see the module comment. */
export interface PolicyMetrics {
  /** Records one finished request: status name, duration, and generated tokens (0 when it failed). */
  observeRequest(
    labels: ServedLabels,
    api: PolicyApi,
    code: string,
    durationMs: number,
    generatedTokens: number,
  ): void;
  /** Records one batch as it starts. */
  observeBatch(policy: string, kind: BatchKind, info: BatchInfo): void;
  /** Records the wall time of one batch's decoding or scoring. */
  observeDecode(policy: string, kind: BatchKind, ms: number): void;
  /** Sets the loaded policies (after each load and unload). */
  setLoaded(loaded: readonly { readonly id: string; readonly bytes: number }[]): void;
}

/** Registers the instruments; `queued()` is read at each scrape. */
export function createPolicyMetrics(registry: Registry, queued: () => number): PolicyMetrics {
  const registers = [registry];
  const served = ['route', 'variant', 'policy', 'role', 'api'] as const;
  const requests = new Counter({
    name: 'policy_requests_total',
    help: 'requests finished, by route, variant, policy, role (serve | shadow), API and status code',
    labelNames: [...served, 'code'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'policy_errors_total',
    help: 'requests that failed, by route, variant, policy, role, API and status code',
    labelNames: [...served, 'code'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'policy_request_seconds',
    help: 'request latency from routing to answer, by route, variant, policy, role and API',
    labelNames: served,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const tokens = new Counter({
    name: 'policy_generated_tokens_total',
    help: 'target tokens generated (end tokens included), by route, variant, policy, role and API',
    labelNames: served,
    registers,
  });
  const batchSources = new Histogram({
    name: 'policy_batch_sources',
    help: 'sources (or pairs) per batch, by policy and kind (generate | score)',
    labelNames: ['policy', 'kind'] as const,
    buckets: BATCH_SOURCES_BUCKETS,
    registers,
  });
  const batchWait = new Histogram({
    name: 'policy_batch_wait_seconds',
    help: 'queue wait of the oldest source of each batch, by policy and kind',
    labelNames: ['policy', 'kind'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'policy_batch_seconds',
    help: 'wall time of each batch’s decoding or scoring (the model’s work), by policy and kind',
    labelNames: ['policy', 'kind'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'policy_queued_sources',
    help: 'sources admitted and not yet answered',
    registers,
    collect() {
      this.set(queued());
    },
  });
  const loadedBytes = new Gauge({
    name: 'policy_loaded_bytes',
    help: 'summed ONNX file sizes of the loaded policies (the memory budget counts these)',
    registers,
  });
  const loaded = new Gauge({
    name: 'policy_loaded',
    help: '1 for each policy loaded now',
    labelNames: ['policy'] as const,
    registers,
  });
  return {
    observeRequest(labels, api, code, durationMs, generatedTokens) {
      const l = { ...labels, api };
      requests.inc({ ...l, code });
      seconds.observe(l, durationMs / 1000);
      if (code === 'OK') tokens.inc(l, generatedTokens);
      else errors.inc({ ...l, code });
    },
    observeBatch(policy, kind, info) {
      batchSources.observe({ policy, kind }, info.items);
      batchWait.observe({ policy, kind }, info.waitMs / 1000);
    },
    observeDecode(policy, kind, ms) {
      batchSeconds.observe({ policy, kind }, ms / 1000);
    },
    setLoaded(list) {
      loaded.reset();
      let bytes = 0;
      for (const { id, bytes: b } of list) {
        loaded.set({ policy: id }, 1);
        bytes += b;
      }
      loadedBytes.set(bytes);
    },
  };
}
