/**
 * The reward server's own Prometheus instruments, per model, on the registry of the kit's
 * `createServerMetrics` (beside `grpc_server_*`). `api` is `score` (RewardService.Score) or `oip`
 * (GRPCInferenceService.ModelInfer). Only names of loaded scorers become label values, so a client
 * sending random model names cannot grow the series without bound.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchInfo } from '@rest/service-kit';

/** Which API a scoring request came through. */
export type ScoringApi = 'score' | 'oip';

/** Bucket bounds of the batch-size histogram, in items. */
const BATCH_ITEMS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** Bucket bounds of the latency histograms, in seconds: 1 ms … 30 s. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The per-model instruments. */
export interface RewardMetrics {
  /** Records one finished scoring request: its status name (`OK`, `INVALID_ARGUMENT`, …), duration and items. */
  observeRequest(model: string, api: ScoringApi, code: string, durationMs: number, items: number): void;
  /** Records one learned-model batch as it starts. */
  observeBatch(model: string, info: BatchInfo): void;
}

/**
 * Registers the instruments on `registry`. `queued()` is read at each scrape for the
 * `reward_queued_items{model}` gauge.
 */
export function createRewardMetrics(
  registry: Registry,
  queued: () => readonly { readonly model: string; readonly items: number }[],
): RewardMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'reward_requests_total',
    help: 'scoring requests finished, by model, API and status code',
    labelNames: ['model', 'api', 'code'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'reward_errors_total',
    help: 'scoring requests that failed, by model, API and status code',
    labelNames: ['model', 'api', 'code'] as const,
    registers,
  });
  const items = new Counter({
    name: 'reward_items_total',
    help: 'items scored successfully, by model and API',
    labelNames: ['model', 'api'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'reward_request_seconds',
    help: 'scoring request latency from validation to scores, by model and API',
    labelNames: ['model', 'api'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const batchItems = new Histogram({
    name: 'reward_batch_items',
    help: 'items per learned-model session run (dynamic batching), by model',
    labelNames: ['model'] as const,
    buckets: BATCH_ITEMS_BUCKETS,
    registers,
  });
  const batchWait = new Histogram({
    name: 'reward_batch_wait_seconds',
    help: 'queue wait of the oldest item of each learned-model batch, by model',
    labelNames: ['model'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'reward_queued_items',
    help: 'items queued for a learned model and not yet started, by model',
    labelNames: ['model'] as const,
    registers,
    collect() {
      for (const { model, items: n } of queued()) this.set({ model }, n);
    },
  });
  return {
    observeRequest(model, api, code, durationMs, n) {
      requests.inc({ model, api, code });
      seconds.observe({ model, api }, durationMs / 1000);
      if (code === 'OK') items.inc({ model, api }, n);
      else errors.inc({ model, api, code });
    },
    observeBatch(model, info) {
      batchItems.observe({ model }, info.items);
      batchWait.observe({ model }, info.waitMs / 1000);
    },
  };
}
