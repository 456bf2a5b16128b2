/**
 * @rest/policy-server's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `POLICY_<KEY>`, nested keys joined by `__` (`POLICY_GRPC__PORT`); a file can be
 * named by `POLICY_CONFIG_FILE` or `--config`. Issue 5 adds the service's own keys.
 */
import { z } from 'zod';
import { defineConfig, grpcServerConfigShape, infraConfigShape } from '@rest/service-kit';

/** The schema and loader of @rest/policy-server's config. */
export const CONFIG = defineConfig({
  prefix: 'POLICY',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50051, metricsPort: 9464 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
  }),
});

/** @rest/policy-server's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;
