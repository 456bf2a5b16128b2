/**
 * @rest/policy-server's configuration: the one schema, validated once at start-up (STYLE.md §6).
 * Env vars are `POLICY_<KEY>`, nested keys joined by `__` (`POLICY_GRPC__PORT`,
 * `POLICY_POLICIES__DIRS='["/models/opus-mt-de-en"]'`); a file can be named by `POLICY_CONFIG_FILE`
 * or `--config`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  byteSize,
  defineConfig,
  duration,
  grpcServerConfigShape,
  infraConfigShape,
  type ConfigInputs,
} from '@rest/service-kit';

const int = (min: number, fallback: number) => z.number().int().min(min).default(fallback);

/** The schema and loader of @rest/policy-server's config. */
export const CONFIG = defineConfig({
  prefix: 'POLICY',
  schema: z.object({
    grpc: z
      .object(grpcServerConfigShape({ port: 50051, metricsPort: 9464 }))

      .describe('gRPC server'),
    ...infraConfigShape(),
    policies: z
      .object({
        dirs: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'local policy bundle folders (ours or optimum Marian exports), served beside the registry; id = rest.json policyId, else the folder name (env: a JSON array)',
          ),
        cacheDir: z
          .string()
          .default('')
          .describe(
            'where registry bundles are downloaded before loading; "" = rest-policy-cache under the OS temp folder',
          ),
        memoryBudgetBytes: byteSize('2GiB').describe(
          'loaded policies are kept in an LRU whose summed ONNX file sizes stay under this; idle ones are unloaded first',
        ),
        preload: z
          .array(z.string().min(1))
          .default([])
          .describe('policy ids loaded and warmed up before the server reports SERVING (env: a JSON array)'),
      })
      .describe('where policies come from and how many stay loaded'),
    routing: z
      .object({
        defaultRoute: z
          .string()
          .min(1)
          .default('default')
          .describe('route alias that serves requests naming no policy or route'),
        refreshIntervalMs: duration('30s').describe(
          'routes are re-read from MongoDB this often, in case a rest.routes.updated notice was missed',
        ),
        shadowTimeoutMs: duration('30s').describe('deadline of the mirrored copy a shadow variant gets'),
      })
      .describe('A/B routes'),
    limits: z
      .object({
        maxSources: int(1, 256).describe(
          'most sources (or pairs) in one unary request; RESOURCE_EXHAUSTED past it',
        ),
        maxCandidates: int(1, 4096).describe(
          'most candidates (sources × num_return_sequences) in one unary Generate answer; GenerateStream has no such bound',
        ),
        maxStreamSources: int(1, 10_000).describe('most sources in one GenerateStream request'),
        maxSourceChars: int(1, 2000).describe(
          'longest source or target text, in UTF-16 code units (INVALID_ARGUMENT past it)',
        ),
        maxSourceTokens: int(1, 256).describe(
          'longest tokenised source, end token included (INVALID_ARGUMENT past it)',
        ),
        maxTargetTokens: int(1, 512).describe('longest target that ScoreSequences scores, in tokens'),
        maxNewTokens: int(1, 512).describe('largest decoding.max_new_tokens accepted'),
        maxReturnSequences: int(1, 64).describe('largest decoding.num_return_sequences accepted'),
        maxBeams: int(1, 16).describe('largest decoding.num_beams accepted'),
        maxConcurrentRequests: int(1, 256).describe(
          'requests (streams included) handled at once; more are answered RESOURCE_EXHAUSTED',
        ),
        maxQueuedSources: int(1, 4096).describe(
          'sources admitted and not yet decoded, over all requests; more are answered RESOURCE_EXHAUSTED',
        ),
      })
      .describe('request limits'),
    decoding: z
      .object({
        defaultMaxNewTokens: int(1, 128).describe(
          'max_new_tokens when a request leaves it 0 (capped by the policy’s max_length − 1)',
        ),
      })
      .describe('decoding defaults'),
    batching: z
      .object({
        maxBatchSources: int(1, 32).describe('most sources decoded in one batch'),
        maxBatchTokens: int(1, 32_768).describe(
          'most tokens one batch may hold: per source, rows × (source tokens + max_new_tokens), rows = N or beams',
        ),
        maxWaitMs: duration('5ms').describe('longest a source waits for others to share its batch'),
        rejoinWaitMs: duration('20ms').describe(
          'while a batch of a policy and decoding runs, new sources for it wait until it ends and its callers are back (at most this long after, extended by a quarter of it past each caller that comes back, up to three times it in all), so that they share one batch, which then starts without maxWaitMs; 0 turns it off',
        ),
        maxConcurrentBatches: int(1, 1).describe(
          'batches decoding at once over all policies (each uses intraOpThreads)',
        ),
        continuous: z
          .boolean()
          .default(false)
          .describe(
            'continuous batching of greedy and sampled decoding for our own bundles: sources join a running decode between two steps and leave it as soon as they end, instead of waiting for a batch (maxBatchSources and maxBatchTokens bound what runs at once, maxWaitMs how long a newcomer waits for company); beam search, scoring and foreign bundles keep the batcher. Off by default: on 2 CPU cores it matches the batcher at concurrency 8 and trails it at 64 (bench/policy-server)',
          ),
      })
      .describe('dynamic batching'),
    runtime: z
      .object({
        executionProvider: z.enum(['cpu', 'cuda']).default('cpu').describe('onnxruntime execution provider'),
        intraOpThreads: int(0, 0).describe('threads inside one ONNX op; 0 lets onnxruntime choose'),
        allowSpinning: z
          .boolean()
          .default(false)
          .describe(
            'let idle intra-op threads spin between parallel sections (onnxruntime’s default); off suits shared CPUs and CPU-limited pods, where spinning takes time from the thread doing the work',
          ),
        heapGrowingPercent: int(0, 100).describe(
          'how far V8 lets this process’s heap grow past what a full collection leaves, in percent (V8’s --heap-growing-percent, set at start for the whole process); 0 keeps V8’s own choice. onnxruntime-node returns every output of every decoder step in a new ArrayBuffer, and V8, which sees the main thread waiting inside onnxruntime as busy JavaScript, keeps the heap tight: under load it collects fully every few hundred milliseconds, and its concurrent marking takes cores from the decoder. 100 (a doubling) removes most of those collections: at concurrency 8 the serving layer’s loss against in-process batches fell from 7% to about 0 (bench/policy-server, “Full collections”)',
        ),
      })
      .describe('ONNX runtime'),
  }),
});

/** @rest/policy-server's resolved, deep-frozen config. */
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
