/**
 * @rest/reward-server's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `REWARD_<KEY>`, nested keys joined by `__` (`REWARD_GRPC__PORT`); a file can be
 * named by `REWARD_CONFIG_FILE` or `--config`. Issue 6 adds the service's own keys.
 */
import { z } from 'zod';
import { defineConfig, grpcServerConfigShape, infraConfigShape } from '@rest/service-kit';

/** The schema and loader of @rest/reward-server's config. */
export const CONFIG = defineConfig({
  prefix: 'REWARD',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50052, metricsPort: 9465 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
  }),
});

/** @rest/reward-server's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;
