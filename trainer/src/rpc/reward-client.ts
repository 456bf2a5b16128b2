/**
 * Rewards of validation outputs: metric rewards are computed in-process; any other reward model is
 * scored by the RewardService at `reward.address`, in chunks, each call with a deadline and retried on
 * UNAVAILABLE (Score is idempotent).
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { reward } from '@rest/proto';
import { FailedPreconditionError, withRetry } from '@rest/service-kit';
import type { RewardFn, RewardItem } from '../improve/data.js';
import { isMetricReward, metricReward, type RewardNormalization } from '../improve/metric-reward.js';

/** How to reach the RewardService. */
export interface RewardClientOptions {
  /** host:port; '' when none is configured. */
  readonly address: string;
  readonly timeoutMs: number;
  readonly maxItemsPerCall: number;
}

const NORMALIZATIONS: Readonly<Record<RewardNormalization, reward.Normalization>> = {
  raw: reward.Normalization.NORMALIZATION_RAW,
  clipped01: reward.Normalization.NORMALIZATION_CLIPPED_01,
  zscore: reward.Normalization.NORMALIZATION_ZSCORE,
};

/** Resolves a run's reward spec to a scoring function; call `close` at shutdown. */
export function rewardResolver(o: RewardClientOptions): {
  resolve(spec: { readonly model: string; readonly normalization: RewardNormalization }): RewardFn;
  close(): void;
} {
  let client: reward.RewardServiceClient | undefined;
  const score = (request: reward.ScoreRequest): Promise<reward.ScoreResponse> =>
    new Promise((resolve, reject) => {
      client ??= new reward.RewardServiceClient(o.address, credentials.createInsecure());
      client.score(
        request,
        new Metadata(),
        { deadline: new Date(Date.now() + o.timeoutMs) },
        (err: ServiceError | null, res) => (err === null ? resolve(res) : reject(err)),
      );
    });
  return {
    resolve(spec) {
      if (isMetricReward(spec.model)) return metricReward(spec.model, spec.normalization);
      if (o.address === '')
        return () =>
          Promise.reject(
            new FailedPreconditionError(
              `reward ${spec.model} is not a metric (bleu, chrf, chrf++, ter) and reward.address is not configured`,
            ),
          );
      return async (items: readonly RewardItem[]) => {
        const out: number[] = [];
        for (let i = 0; i < items.length; i += o.maxItemsPerCall) {
          const chunk = items.slice(i, i + o.maxItemsPerCall);
          const res = await withRetry(
            () =>
              score({
                model: spec.model,
                normalization: NORMALIZATIONS[spec.normalization],
                items: chunk.map((it) => ({
                  source: it.source,
                  hypothesis: it.hypothesis,
                  reference: it.reference ?? '',
                })),
              }),
            { idempotent: true },
          );
          out.push(...res.scores);
        }
        return out;
      };
    },
    close() {
      client?.close();
    },
  };
}
