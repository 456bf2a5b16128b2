/**
 * What every API of the server shares once its wire format is decoded: admission (concurrent
 * requests), resolution of the policy reference (a policy id, a route alias through A/B assignment,
 * or the default route), a lease on the loaded policy, the policy-dependent checks, batched decoding,
 * detokenisation, per-variant metrics and shadow copies.
 *
 * A shadow copy is started when the served request has finished: it runs the same sources and
 * decoding (same seed) on the shadow policy, under its own deadline, through the same admission and
 * batching (a full queue skips it), and its answer is only measured. It never fails or delays the
 * request it copies.
 */
import type { Candidate } from '@rest/runtime';
import {
  codeName,
  NotFoundError,
  ResourceExhaustedError,
  ServiceError,
  type Logger,
} from '@rest/service-kit';
import type { Config } from '../config.js';
import type { DecodeEngine, TargetScore } from '../decoding/decode-engine.js';
import type { DecodingRequest } from '../decoding/decoding.js';
import type { ModelPool, PolicyLease } from '../policies/model-pool.js';
import type { PolicyCatalog } from '../policies/policy-catalog.js';
import type { PolicyApi, PolicyMetrics, ServedLabels } from '../policy-metrics.js';
import type { RouteTable } from '../routing/route.js';
import { resolveTarget, type PolicyTarget, type Resolution, type ServedBy } from './resolve.js';
import {
  prepareSources,
  preparePairs,
  type PairInput,
  type PairPaths,
  type SourcePaths,
  type TokenLimits,
} from './prepare.js';

/** A generated candidate with its text. */
export interface GeneratedCandidate extends Candidate {
  readonly text: string;
}

/** What every request carries besides its payload. */
export interface RequestBase {
  readonly target: PolicyTarget;
  /** '' for none. */
  readonly requestKey: string;
  readonly api: PolicyApi;
  readonly signal: AbortSignal;
}

/** A generation request, text-level checks done. */
export interface GenerateInput extends RequestBase {
  readonly sources: readonly string[];
  readonly decoding: DecodingRequest;
  readonly paths: SourcePaths;
}

/** A generation answer. */
export interface GenerateOutput {
  readonly servedBy: ServedBy;
  /** The sampler seed used; 0n for greedy and beam. */
  readonly seed: bigint;
  /** Per source, its candidates. */
  readonly results: GeneratedCandidate[][];
}

/** One chunk of a streamed generation. */
export interface StreamChunk {
  readonly servedBy: ServedBy;
  readonly seed: bigint;
  /** The sources finished in this chunk, with their request indices. */
  readonly results: readonly { readonly index: number; readonly candidates: GeneratedCandidate[] }[];
}

/** A scoring request. */
export interface ScoreInput extends RequestBase {
  readonly pairs: readonly PairInput[];
  readonly paths: PairPaths;
}

/** One scored pair. */
export interface PairScore extends TargetScore {
  /** [T] the target ids that were scored */
  readonly tokenIds: readonly number[];
}

/** Options of {@link PolicyServing}. */
export interface PolicyServingOptions {
  readonly catalog: PolicyCatalog;
  readonly pool: ModelPool;
  readonly engine: DecodeEngine;
  readonly routes: RouteTable;
  readonly metrics: PolicyMetrics;
  readonly config: Pick<Config, 'limits' | 'decoding' | 'routing' | 'batching'>;
  readonly logger: Logger;
}

/** The serving core; see the module comment. */
export class PolicyServing {
  private active = 0;
  private readonly shadows = new Set<Promise<void>>();
  private readonly limits: TokenLimits;
  private readonly logger: Logger;

  constructor(private readonly options: PolicyServingOptions) {
    const { limits, decoding, batching } = options.config;
    this.limits = {
      maxSourceTokens: limits.maxSourceTokens,
      maxTargetTokens: limits.maxTargetTokens,
      maxBatchTokens: batching.maxBatchTokens,
      defaultMaxNewTokens: decoding.defaultMaxNewTokens,
    };
    this.logger = options.logger.child({ component: 'serving' });
  }

  /** Requests being handled now. */
  get activeRequests(): number {
    return this.active;
  }

  /**
   * Generates candidates for every source.
   * @throws ResourceExhaustedError (too many requests, queue full), NotFoundError (policy or
   *   route), FailedPreconditionError (policy cannot load), InvalidArgumentError (tokenised length,
   *   decoding that does not fit the policy), and the call's cancellation or deadline error
   */
  async generate(input: GenerateInput): Promise<GenerateOutput> {
    const leave = this.admit();
    try {
      const resolution = this.resolve(input);
      const output = await this.observed(resolution.servedBy, 'serve', input.api, input.signal, async () => {
        const lease = await this.lease(resolution.servedBy.policyId);
        try {
          const { ids, decoding } = prepareSources(
            lease.policy,
            input.sources,
            input.decoding,
            this.limits,
            input.paths,
          );
          const candidates = await this.options.engine.generate(lease.policy, ids, decoding, input.signal);
          const results = candidates.map((cs) => cs.map((c) => withText(lease, c)));
          return {
            value: { servedBy: resolution.servedBy, seed: decoding.seed, results },
            tokens: tokenCount(results),
          };
        } finally {
          lease.release();
        }
      });
      if (resolution.mirrorTo !== undefined) {
        this.mirror(resolution, input, {
          ...input.decoding,
          seed: output.seed === 0n ? undefined : output.seed,
        });
      }
      return output;
    } finally {
      leave();
    }
  }

  /**
   * Generates candidates chunk by chunk, `chunkSize` sources per chunk, in completion order. One
   * policy (one lease) serves the whole stream.
   * @throws as {@link generate}, before the first chunk or between chunks
   */
  async *stream(input: GenerateInput, chunkSize: number): AsyncGenerator<StreamChunk> {
    const leave = this.admit();
    try {
      const resolution = this.resolve(input);
      const { servedBy } = resolution;
      const labels = this.labels(servedBy, 'serve');
      const startedMs = performance.now();
      let code = 'OK';
      let tokens = 0;
      const lease = await this.lease(servedBy.policyId).catch((error: unknown) => {
        this.record(labels, input.api, error, input.signal, startedMs, 0);
        throw error;
      });
      try {
        const { ids, decoding } = prepareSources(
          lease.policy,
          input.sources,
          input.decoding,
          this.limits,
          input.paths,
        );
        type Settled =
          { k: number; ok: true; value: Candidate[][] } | { k: number; ok: false; error: unknown };
        const chunks = Math.ceil(ids.length / chunkSize);
        // Enough chunks in flight to fill about two batches, few enough that one stream cannot take the queue.
        const window = Math.max(1, Math.ceil((2 * this.options.config.batching.maxBatchSources) / chunkSize));
        const inflight = new Map<number, Promise<Settled>>();
        let next = 0;
        while (next < chunks || inflight.size > 0) {
          while (inflight.size < window && next < chunks) {
            const k = next++;
            const from = k * chunkSize;
            const settled = this.options.engine
              .generate(lease.policy, ids.slice(from, from + chunkSize), decoding, input.signal, from)
              .then(
                (value): Settled => ({ k, ok: true, value }),
                (error: unknown): Settled => ({ k, ok: false, error }),
              );
            inflight.set(k, settled);
          }
          const done = await Promise.race(inflight.values());
          inflight.delete(done.k);
          if (!done.ok) throw done.error;
          const results = done.value.map((cs, j) => ({
            index: done.k * chunkSize + j,
            candidates: cs.map((c) => withText(lease, c)),
          }));
          for (const r of results) tokens += tokenCount([r.candidates]);
          yield { servedBy, seed: decoding.seed, results };
        }
      } catch (error) {
        code = this.codeOf(error, input.signal);
        throw error;
      } finally {
        lease.release();
        this.options.metrics.observeRequest(
          labels,
          input.api,
          code,
          performance.now() - startedMs,
          code === 'OK' ? tokens : 0,
        );
      }
    } finally {
      leave();
    }
  }

  /**
   * Teacher-forced log-probs of (source, target) pairs.
   * @throws as {@link generate}
   */
  async score(input: ScoreInput): Promise<{ servedBy: ServedBy; scores: PairScore[] }> {
    const leave = this.admit();
    try {
      const resolution = this.resolve(input);
      return await this.observed(resolution.servedBy, 'serve', input.api, input.signal, async () => {
        const lease = await this.lease(resolution.servedBy.policyId);
        try {
          const pairs = preparePairs(lease.policy, input.pairs, this.limits, input.paths);
          const scores = await this.options.engine.score(lease.policy, pairs, input.signal);
          return {
            value: {
              servedBy: resolution.servedBy,
              scores: scores.map((s, i) => ({ ...s, tokenIds: pairs[i]!.target })),
            },
            tokens: 0,
          };
        } finally {
          lease.release();
        }
      });
    } finally {
      leave();
    }
  }

  /**
   * Whether `name` (a route alias or a policy id) can serve now, and which policies it serves.
   * Undefined when it names neither.
   */
  async describe(name: string): Promise<{ kind: 'route' | 'policy'; policyIds: string[] } | undefined> {
    const route = this.options.routes.get(name);
    if (route !== undefined) {
      return {
        kind: 'route',
        policyIds: [...new Set(route.variants.filter((v) => v.weight > 0).map((v) => v.policyId))],
      };
    }
    if (this.options.pool.isLoaded(name)) return { kind: 'policy', policyIds: [name] };
    return (await this.options.catalog.find(name)) === undefined
      ? undefined
      : { kind: 'policy', policyIds: [name] };
  }

  /** Waits for shadow copies in flight (shutdown). */
  async drainShadows(): Promise<void> {
    while (this.shadows.size > 0) await Promise.allSettled([...this.shadows]);
  }

  private admit(): () => void {
    const limit = this.options.config.limits.maxConcurrentRequests;
    if (this.active >= limit) {
      throw new ResourceExhaustedError(
        `${this.active} requests in progress, the most this server handles at once (${limit}); retry later or on another replica`,
      );
    }
    this.active++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.active--;
    };
  }

  /** @throws NotFoundError naming the request's policy field for an unknown route */
  private resolve(input: RequestBase & { readonly paths: { readonly policy: string } }): Resolution {
    const { routes, config } = this.options;
    return resolveTarget(
      routes,
      config.routing.defaultRoute,
      input.target,
      input.requestKey,
      input.paths.policy,
    );
  }

  /** A lease on `policyId`, loading it when needed (NOT_FOUND / FAILED_PRECONDITION from the loader). */
  private lease(policyId: string): Promise<PolicyLease> {
    return this.options.pool.acquire(policyId);
  }

  private labels(servedBy: ServedBy, role: ServedLabels['role']): ServedLabels {
    return { route: servedBy.route, variant: servedBy.variant, policy: servedBy.policyId, role };
  }

  private codeOf(error: unknown, signal: AbortSignal): string {
    const reason: unknown = signal.aborted ? signal.reason : error;
    return reason instanceof ServiceError ? codeName(reason.code) : 'INTERNAL';
  }

  private record(
    labels: ServedLabels,
    api: PolicyApi,
    error: unknown,
    signal: AbortSignal,
    startedMs: number,
    tokens: number,
  ): void {
    const code = error === undefined ? 'OK' : this.codeOf(error, signal);
    // An unknown policy id is the client's typo, not a series: only existing policies get labels.
    if (error instanceof NotFoundError && labels.route === '') return;
    this.options.metrics.observeRequest(labels, api, code, performance.now() - startedMs, tokens);
  }

  /** Runs `body`, recording its outcome under the served labels. */
  private async observed<T>(
    servedBy: ServedBy,
    role: ServedLabels['role'],
    api: PolicyApi,
    signal: AbortSignal,
    body: () => Promise<{ value: T; tokens: number }>,
  ): Promise<T> {
    const labels = this.labels(servedBy, role);
    const startedMs = performance.now();
    try {
      const { value, tokens } = await body();
      this.record(labels, api, undefined, signal, startedMs, tokens);
      return value;
    } catch (error) {
      this.record(labels, api, error, signal, startedMs, 0);
      throw error;
    }
  }

  private mirror(resolution: Resolution, input: GenerateInput, decoding: DecodingRequest): void {
    const policyId = resolution.mirrorTo!;
    const servedBy: ServedBy = { ...resolution.servedBy, policyId, variant: 'shadow' };
    const signal = AbortSignal.timeout(this.options.config.routing.shadowTimeoutMs);
    const copy = (async () => {
      let leave: (() => void) | undefined;
      try {
        leave = this.admit();
        await this.observed(servedBy, 'shadow', input.api, signal, async () => {
          const lease = await this.lease(policyId);
          try {
            const prepared = prepareSources(lease.policy, input.sources, decoding, this.limits, input.paths);
            const candidates = await this.options.engine.generate(
              lease.policy,
              prepared.ids,
              prepared.decoding,
              signal,
            );
            return {
              value: undefined,
              tokens: tokenCount(candidates.map((cs) => cs.map((c) => withText(lease, c)))),
            };
          } finally {
            lease.release();
          }
        });
      } catch (error) {
        this.logger.debug('shadow copy failed', { policyId, err: error });
      } finally {
        leave?.();
      }
    })();
    const tracked = copy.finally(() => this.shadows.delete(tracked));
    this.shadows.add(tracked);
  }
}

function withText(lease: PolicyLease, c: Candidate): GeneratedCandidate {
  return { ...c, text: lease.policy.tokenizer.decode(c.tokenIds) };
}

function tokenCount(results: readonly (readonly GeneratedCandidate[])[]): number {
  let n = 0;
  for (const cs of results) for (const c of cs) n += c.tokenIds.length;
  return n;
}
