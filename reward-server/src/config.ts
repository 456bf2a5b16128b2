/**
 * @rest/reward-server's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `REWARD_<KEY>`, nested keys joined by `__` (`REWARD_GRPC__PORT`,
 * `REWARD_MODELS__DIRS='["/models/qe"]'`); a file can be named by `REWARD_CONFIG_FILE` or `--config`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  defineConfig,
  duration,
  grpcServerConfigShape,
  infraConfigShape,
  type ConfigInputs,
} from '@rest/service-kit';

/** The schema and loader of @rest/reward-server's config. */
export const CONFIG = defineConfig({
  prefix: 'REWARD',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50052, metricsPort: 9465 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
    models: z
      .object({
        dirs: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'folders of learned reward models, each holding a reward.json manifest (env: a JSON array)',
          ),
        root: z
          .string()
          .default('')
          .describe(
            'a folder whose subfolders holding a reward.json are each loaded as a model; "" for none',
          ),
      })
      .describe('learned reward models'),
    referenceMetrics: z
      .object({
        calibrationFile: z
          .string()
          .default('')
          .describe(
            'TSV of source, hypothesis, reference lines the metrics’ ZSCORE mean/std are computed from at start-up; "" keeps the built-in placeholders (mean 50, std 25)',
          ),
      })
      .describe('reference metrics (bleu, chrf, chrf++, ter)'),
    limits: z
      .object({
        maxItems: z
          .number()
          .int()
          .min(1)
          .default(1024)
          .describe('most items in one Score or ModelInfer request (RESOURCE_EXHAUSTED past it)'),
        maxTextChars: z
          .number()
          .int()
          .min(1)
          .default(2000)
          .describe(
            'longest source, hypothesis or reference, in UTF-16 code units (INVALID_ARGUMENT past it)',
          ),
      })
      .describe('request limits'),
    batching: z
      .object({
        maxBatchItems: z
          .number()
          .int()
          .min(1)
          .default(32)
          .describe('most items in one learned-model session run'),
        maxBatchTokens: z
          .number()
          .int()
          .min(1)
          .default(8192)
          .describe('most summed pair tokens in one session run; must be at least each model’s maxLength'),
        maxWaitMs: duration('5ms').describe('longest an item waits for others to share its batch'),
        maxQueuedItems: z
          .number()
          .int()
          .min(1)
          .default(4096)
          .describe('most items queued per learned model; more is answered RESOURCE_EXHAUSTED'),
      })
      .describe('dynamic batching of learned models'),
    runtime: z
      .object({
        executionProvider: z
          .enum(['cpu', 'cuda'])
          .default('cpu')
          .describe('onnxruntime execution provider for learned models'),
        intraOpThreads: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('threads inside one ONNX op; 0 lets onnxruntime choose'),
      })
      .describe('ONNX runtime'),
  }),
});

/** @rest/reward-server's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;

/**
 * Loads the config from the process (env, `--config <path>` in argv, files read as UTF-8) or from
 * the given inputs (tests).
 * @throws ConfigError listing every problem
 */
export function loadConfig(
  inputs: ConfigInputs = {
    env: process.env,
    argv: process.argv.slice(2),
    readFile: (path) => readFileSync(path, 'utf8'),
  },
): Config {
  return CONFIG.load(inputs);
}
