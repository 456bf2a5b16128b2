/**
 * @rest/trainer's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `TRAINER_<KEY>`, nested keys joined by `__` (`TRAINER_GRPC__PORT`); a file can be
 * named by `TRAINER_CONFIG_FILE` or `--config`. Issue 7 adds the service's own keys.
 */
import { z } from 'zod';
import { defineConfig, grpcServerConfigShape, infraConfigShape } from '@rest/service-kit';

/** The schema and loader of @rest/trainer's config. */
export const CONFIG = defineConfig({
  prefix: 'TRAINER',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50053, metricsPort: 9466 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
  }),
});

/** @rest/trainer's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;
