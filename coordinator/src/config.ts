/**
 * @rest/coordinator's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `COORD_<KEY>`, nested keys joined by `__` (`COORD_GRPC__PORT`); a file can be
 * named by `COORD_CONFIG_FILE` or `--config`. Issue 8 adds the service's own keys.
 */
import { z } from 'zod';
import { defineConfig, grpcServerConfigShape, infraConfigShape } from '@rest/service-kit';

/** The schema and loader of @rest/coordinator's config. */
export const CONFIG = defineConfig({
  prefix: 'COORD',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50054, metricsPort: 9467 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
  }),
});

/** @rest/coordinator's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;
