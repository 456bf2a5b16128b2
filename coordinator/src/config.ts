/**
 * @rest/coordinator's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `COORD_<KEY>`, nested keys joined by `__` (`COORD_GRPC__PORT`); a file can be
 * named by `COORD_CONFIG_FILE` or `--config`. Issue 8 adds the service's own keys.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineConfig, duration, grpcServerConfigShape, infraConfigShape } from '@rest/service-kit';

/**
 * A gRPC target `host:port` (a name, IPv4 or bracketed IPv6 address, and a port), optionally as
 * `dns:///host:port`, the form whose every resolved address the clients balance over.
 */
const address = (defaultValue: string) =>
  z
    .string()
    .regex(
      /^(dns:\/\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
      'must be host:port or dns:///host:port',
    )
    .default(defaultValue);

/** The schema and loader of @rest/coordinator's config. */
export const CONFIG = defineConfig({
  prefix: 'COORD',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50054, metricsPort: 9467 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
    role: z
      .enum(['coordinator', 'grow-worker', 'all'])
      .default('coordinator')
      .describe(
        'what this process runs: the coordinator, the Grow and evaluation workers (grow-worker), or both (all)',
      ),
    policyServer: address('127.0.0.1:50051').describe(
      'PolicyService address (host:port, or dns:///host:port to balance over every replica a headless service resolves to) the workers call Generate and ScoreSequences on',
    ),
    rewardServer: address('127.0.0.1:50052').describe(
      'RewardService address (host:port or dns:///host:port) the workers score samples and evaluation outputs with',
    ),
    workers: z
      .object({
        concurrency: z
          .number()
          .int()
          .min(1)
          .max(64)
          .default(2)
          .describe('Grow shards (rest.work.grow messages) handled at once by this process'),
        evalConcurrency: z
          .number()
          .int()
          .min(1)
          .max(16)
          .default(1)
          .describe('evaluations (rest.work.eval messages) handled at once by this process'),
        generateBatchSources: z
          .number()
          .int()
          .min(1)
          .max(256)
          .default(16)
          .describe(
            'sources per Generate call; keep sources × N under the policy server’s limits.maxCandidates',
          ),
        scoreBatch: z
          .number()
          .int()
          .min(1)
          .max(4096)
          .default(256)
          .describe('items per RewardService Score call; keep it under the reward server’s limits.maxItems'),
        ackWaitMs: duration('60s').describe(
          'how long a work message may go without an ack or a working() heartbeat before redelivery (heartbeats run every third of it)',
        ),
        maxDeliver: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe('deliveries of a work message (crashes included) before it is dead-lettered'),
        rpcTimeoutMs: duration('2m').describe('deadline of one Generate, ScoreSequences or Score call'),
        stopTimeoutMs: duration('20s').describe(
          'on shutdown, how long in-flight messages get to reach a safe point before they are left to redelivery',
        ),
      })
      .describe('Grow and evaluation workers'),
    engine: z
      .object({
        leaseTtlMs: duration('15s').describe(
          'leader lease of the run engine: one coordinator leads, a standby takes over within this time after the leader dies (renewed every third of it)',
        ),
        tickMs: duration('1s').describe(
          'period of the sweep that advances every active run from what MongoDB holds (events also wake runs at once)',
        ),
      })
      .describe('the run engine (role coordinator or all)'),
  }),
});

/** @rest/coordinator's resolved, deep-frozen config. */
export type Config = ReturnType<typeof CONFIG.load>;

const ROLE_FLAG = /^--role(?:=(.*))?$/;

/**
 * Loads the config from the process's environment and arguments. Besides `--config <path>`, the
 * arguments may hold `--role <role>` (the container's way to run the same image as a grow worker); it
 * wins over `COORD_ROLE` and is validated like it.
 * @throws ConfigError listing every problem
 */
export function loadConfig(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Config {
  const rest: string[] = [];
  let role: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const m = ROLE_FLAG.exec(argv[i] ?? '');
    if (m === null) rest.push(argv[i] ?? '');
    else role = m[1] ?? argv[++i] ?? '';
  }
  return CONFIG.load({ env: role === undefined ? env : { ...env, COORD_ROLE: role }, argv: rest, readFile });
}
