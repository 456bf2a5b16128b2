/**
 * @rest/trainer's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `TRAINER_<KEY>`, nested keys joined by `__` (`TRAINER_GRPC__PORT`); a file can be
 * named by `TRAINER_CONFIG_FILE` or `--config`.
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

/** The schema and loader of @rest/trainer's config. */
export const CONFIG = defineConfig({
  prefix: 'TRAINER',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50053, metricsPort: 9466 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
    jobs: z
      .object({
        workDir: z
          .string()
          .min(1)
          .default('/tmp/rest-trainer')
          .describe(
            'scratch folder for downloaded policies and the bundle being written (checkpoints live in MongoDB GridFS)',
          ),
        concurrency: z
          .number()
          .int()
          .min(1)
          .max(8)
          .default(1)
          .describe('Improve jobs trained at once by this replica'),
        ackWaitMs: duration('60s').describe(
          'how long an Improve message may go without a heartbeat before NATS redelivers it',
        ),
        maxDeliver: z
          .number()
          .int()
          .min(1)
          .default(5)
          .describe('deliveries of an Improve message (restarts included) before it is dead-lettered'),
        heartbeatMs: duration('10s').describe(
          'interval of working() heartbeats and lease renewals; keep it well below ackWaitMs and leaseTtlMs',
        ),
        leaseTtlMs: duration('60s').describe(
          'lifetime of the job and shard leases; after a crash another replica resumes once they expire',
        ),
        progressEverySteps: z
          .number()
          .int()
          .min(1)
          .default(20)
          .describe('optimizer steps between improve.progress events (and job progress updates)'),
        checkpointEverySteps: z
          .number()
          .int()
          .min(0)
          .default(100)
          .describe(
            'optimizer steps between checkpoints, besides the one at every validation; 0: only at validations',
          ),
        watchPollMs: duration('500ms').describe('how often WatchJob reads the job back from MongoDB'),
        evalBatchSize: z.number().int().min(1).default(64).describe('validation sources decoded per batch'),
      })
      .describe('Improve jobs'),
    reward: z
      .object({
        address: z
          .string()
          .default('')
          .describe(
            'RewardService address (host:port) for learned rewards; "" computes only the metric rewards (bleu, chrf, chrf++, ter) locally',
          ),
        timeoutMs: duration('60s').describe('deadline of one RewardService Score call'),
        maxItemsPerCall: z
          .number()
          .int()
          .min(1)
          .default(256)
          .describe('validation outputs scored per RewardService call'),
      })
      .describe('rewards of validation outputs'),
    runtime: z
      .object({
        executionProvider: z
          .enum(['cpu', 'cuda'])
          .default('cpu')
          .describe('onnxruntime execution provider of training and decoding'),
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

/** @rest/trainer's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;

/**
 * Loads the config from the process (env, `--config <path>` in argv, files read as UTF-8) or from the
 * given inputs (tests).
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
