/**
 * Dynamic batching of decoding and scoring over the loaded policies. Every source (or pair) of every
 * request is one item of service-kit's `Batcher`; there is one batcher per (loaded policy, decoding
 * settings), made on first use and dropped when idle, so a batch never mixes policies or settings.
 *
 * - Bounded by sources (`maxBatchSources`) and tokens (`maxBatchTokens`, see `sourceCost`) per batch
 *   and by `maxWaitMs` of waiting; the batcher fills batches round-robin over requests (fair).
 * - One gate bounds the session runs of the whole process (`maxConcurrentBatches`): while a batch
 *   waits for it, new items keep queueing in its batcher, which is where coalescing comes from.
 * - A rejoin window (`rejoinWaitMs`, see lane.ts) keeps callers that resend as soon as they are
 *   answered from splitting into alternating half batches.
 * - Admission: past `maxQueuedSources` sources admitted and not yet answered, a request is refused
 *   whole with RESOURCE_EXHAUSTED.
 * - Cancellation and deadlines: a request's queued items leave at once (the batcher), and items of
 *   a taken batch whose request is gone by the time the gate opens are skipped, not decoded.
 * - A run holds its own lease on the policy, so a caller cancelling mid-run cannot unload the
 *   sessions under it.
 * - Greedy and sampled decoding of a policy with a row-wise decoder (`LoadedPolicy.continuous`,
 *   config `batching.continuous`) goes to its continuous lane instead (continuous-lane.ts): one per
 *   policy, shared by every decoding setting, each step inside the same gate and under a lease.
 */
import { generate, scoreTargets, DecodingError, type Candidate, type DecodingOptions } from '@rest/runtime';
import {
  InvalidArgumentError,
  ResourceExhaustedError,
  UnavailableError,
  type BatchInfo,
  type Logger,
} from '@rest/service-kit';
import type { Config } from '../config.js';
import type { LoadedPolicy } from '../policies/loaded-policy.js';
import type { PolicyLease } from '../policies/model-pool.js';
import { decodingKey, sourceCost, sourceSeed, type ResolvedDecoding } from './decoding.js';
import { Gate } from './gate.js';
import { Lane } from './lane.js';
import { ContinuousLane } from './continuous-lane.js';

/** Teacher-forced log-probs of one target. */
export interface TargetScore {
  /** [T] f64, nats */
  readonly tokenLogprobs: readonly number[];
  readonly sequenceLogprob: number;
}

/**
 * What a batch kind is, for metrics: `continuous` is one decoder step of a continuous lane (its
 * sources are those decoding in that step).
 */
export type BatchKind = 'generate' | 'score' | 'continuous';

/** What the engine needs of a lane. */
interface AnyLane<Item, Result> {
  readonly idle: boolean;
  submit(items: readonly Item[], signal: AbortSignal): Promise<Result[]>;
  close(): Promise<void>;
}

/** Options of {@link DecodeEngine}. */
export interface DecodeEngineOptions {
  readonly batching: Config['batching'];
  readonly maxQueuedSources: number;
  /** A second lease on a policy a request holds (the pool's `retain`). */
  readonly retain: (policy: LoadedPolicy) => PolicyLease | undefined;
  readonly logger: Logger;
  /** Called as each batch starts. @default none */
  readonly onBatch?: (policyId: string, kind: BatchKind, info: BatchInfo) => void;
  /** Called with the wall time of each batch's decoding or scoring (the model's work). @default none */
  readonly onDecoded?: (policyId: string, kind: BatchKind, ms: number) => void;
}

interface GenerateItem {
  /** [S] source token ids, end token included */
  readonly ids: readonly number[];
  readonly seed: number;
  readonly signal: AbortSignal;
}

interface ScoreItem {
  readonly source: readonly number[];
  readonly target: readonly number[];
  readonly signal: AbortSignal;
}

/** Batched decoding and scoring; see the module comment. */
export class DecodeEngine {
  private readonly gate: Gate;
  private readonly lanes = new Map<string, AnyLane<never, unknown>>();
  private admitted = 0;
  private closed = false;

  constructor(private readonly options: DecodeEngineOptions) {
    this.gate = new Gate(options.batching.maxConcurrentBatches);
  }

  /** Sources admitted and not yet answered, over all requests. */
  get queuedSources(): number {
    return this.admitted;
  }

  /** Most tokens one batch holds: a source whose cost exceeds it cannot be decoded. */
  get maxBatchTokens(): number {
    return this.options.batching.maxBatchTokens;
  }

  /**
   * Decodes `sources` (token ids) with `policy`; per source its candidates. `firstIndex` is the
   * index of `sources[0]` in its request (sampling seeds derive from request indices).
   * @throws ResourceExhaustedError when the queue cannot take the sources
   * @throws the signal's reason when it fires first
   * @throws InvalidArgumentError when a source's cost exceeds a batch (check `sourceCost` first)
   */
  async generate(
    policy: LoadedPolicy,
    sources: readonly (readonly number[])[],
    decoding: ResolvedDecoding,
    signal: AbortSignal,
    firstIndex = 0,
  ): Promise<Candidate[][]> {
    if (policy.continuous !== undefined && decoding.strategy !== 'beam') {
      const key = `${policy.instance}|continuous`;
      const lane = this.laneFor(key, () => this.continuousLane(policy, policy.continuous!));
      const options = decodingOptions(decoding);
      const items = sources.map((ids) => ({
        ids,
        options,
        cost: sourceCost(decoding, ids.length),
        seed: 0,
      }));
      if (decoding.strategy === 'sample')
        items.forEach((item, i) => (item.seed = sourceSeed(decoding.seed, firstIndex + i)));
      return this.submit(key, lane, items, signal);
    }
    const key = `${policy.instance}|generate|${decodingKey(decoding)}`;
    const lane = this.laneFor(key, () => this.generateLane(policy, decoding));
    const items = sources.map((ids, i) => ({
      ids,
      seed: decoding.strategy === 'sample' ? sourceSeed(decoding.seed, firstIndex + i) : 0,
      signal,
    }));
    return this.submit(key, lane, items, signal);
  }

  /**
   * Teacher-forced scoring of (source, target) token-id pairs with `policy`.
   * @throws as {@link generate}
   */
  async score(
    policy: LoadedPolicy,
    pairs: readonly { readonly source: readonly number[]; readonly target: readonly number[] }[],
    signal: AbortSignal,
  ): Promise<TargetScore[]> {
    const key = `${policy.instance}|score`;
    const lane = this.laneFor(key, () => this.scoreLane(policy));
    return this.submit(
      key,
      lane,
      pairs.map((p) => ({ ...p, signal })),
      signal,
    );
  }

  /** Refuses new work and resolves once every queued and running batch has finished. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.lanes.values()].map((lane) => lane.close()));
    this.lanes.clear();
  }

  private laneFor<L extends AnyLane<never, unknown>>(key: string, make: () => L): L {
    if (this.closed) throw new UnavailableError('the server is shutting down; retry on another replica');
    let lane = this.lanes.get(key) as L | undefined;
    if (lane === undefined) {
      lane = make();
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private async submit<Item, Result>(
    key: string,
    lane: AnyLane<Item, Result>,
    items: readonly Item[],
    signal: AbortSignal,
  ): Promise<Result[]> {
    const limit = this.options.maxQueuedSources;
    if (this.admitted + items.length > limit) {
      throw new ResourceExhaustedError(
        items.length > limit
          ? `${items.length} sources are more than this server queues (${limit}); send fewer at a time`
          : `queue full (${this.admitted} of ${limit} sources waiting); retry later or on another replica`,
      );
    }
    this.admitted += items.length;
    try {
      return await lane.submit(items, signal);
    } finally {
      this.admitted -= items.length;
      // After the lane's own bookkeeping of the finished batch (it runs after our results).
      setImmediate(() => {
        if (lane.idle && this.lanes.get(key) === lane) {
          this.lanes.delete(key);
          void lane.close();
        }
      });
    }
  }

  private batcherOptions(policy: LoadedPolicy, kind: BatchKind) {
    const { batching, onBatch } = this.options;
    return {
      maxBatchItems: batching.maxBatchSources,
      maxBatchCost: batching.maxBatchTokens,
      maxWaitMs: batching.maxWaitMs,
      maxQueuedItems: this.options.maxQueuedSources,
      onBatch: onBatch === undefined ? undefined : (info: BatchInfo) => onBatch(policy.id, kind, info),
    };
  }

  /** Runs `body` inside the gate with a lease of its own, unless every item's request is gone. */
  private async guarded<Item extends { signal: AbortSignal }, Result>(
    policy: LoadedPolicy,
    kind: BatchKind,
    items: readonly Item[],
    empty: () => Result,
    body: (live: readonly number[]) => Promise<Map<number, Result>>,
  ): Promise<Result[]> {
    const leave = await this.gate.enter();
    try {
      const live = items.flatMap((item, i) => (item.signal.aborted ? [] : [i]));
      const out = items.map(empty);
      if (live.length === 0) return out;
      const lease = this.options.retain(policy);
      if (lease === undefined) throw new UnavailableError(`policy ${policy.id} was unloaded; retry`);
      const startedMs = performance.now();
      try {
        for (const [i, result] of await body(live)) out[i] = result;
        this.options.onDecoded?.(policy.id, kind, performance.now() - startedMs);
      } catch (error) {
        if (error instanceof DecodingError)
          throw new InvalidArgumentError(`decoding: ${error.message}`, { cause: error });
        throw error;
      } finally {
        lease.release();
      }
      return out;
    } finally {
      leave();
    }
  }

  private continuousLane(
    policy: LoadedPolicy,
    batch: NonNullable<LoadedPolicy['continuous']>,
  ): ContinuousLane {
    const { batching, onBatch, onDecoded } = this.options;
    return new ContinuousLane(batch, {
      maxSources: batching.maxBatchSources,
      maxCost: batching.maxBatchTokens,
      around: async (work) => {
        const leave = await this.gate.enter();
        try {
          const lease = this.options.retain(policy);
          if (lease === undefined) throw new UnavailableError(`policy ${policy.id} was unloaded; retry`);
          try {
            await work();
          } finally {
            lease.release();
          }
        } finally {
          leave();
        }
      },
      onStep: (info, ms) => {
        onBatch?.(policy.id, 'continuous', info);
        onDecoded?.(policy.id, 'continuous', ms);
      },
    });
  }

  private generateLane(policy: LoadedPolicy, d: ResolvedDecoding): Lane<GenerateItem, Candidate[]> {
    const options = decodingOptions(d);
    return new Lane<GenerateItem, Candidate[]>(
      {
        ...this.batcherOptions(policy, 'generate'),
        cost: (item) => sourceCost(d, item.ids.length),
        run: (items) =>
          this.guarded(
            policy,
            'generate',
            items,
            () => [],
            async (live) => {
              const out = new Map<number, Candidate[]>();
              // Sampling: every source draws from its own seed (see decoding.ts), so one call gives
              // each what a call of its own would.
              const results = await generate(
                policy.model,
                live.map((i) => items[i]!.ids),
                d.strategy === 'sample'
                  ? { ...options, sourceSeeds: live.map((i) => items[i]!.seed) }
                  : options,
              );
              live.forEach((i, k) => out.set(i, results[k] ?? []));
              return out;
            },
          ),
      },
      this.options.batching.rejoinWaitMs,
    );
  }

  private scoreLane(policy: LoadedPolicy): Lane<ScoreItem, TargetScore> {
    return new Lane<ScoreItem, TargetScore>(
      {
        ...this.batcherOptions(policy, 'score'),
        cost: (item) => item.source.length + item.target.length,
        run: (items) =>
          this.guarded(
            policy,
            'score',
            items,
            () => ({ tokenLogprobs: [], sequenceLogprob: 0 }),
            async (live) => {
              const scores = await scoreTargets(
                policy.model,
                live.map((i) => items[i]!.source),
                live.map((i) => items[i]!.target),
              );
              return new Map(live.map((i, k) => [i, scores[k]!]));
            },
          ),
      },
      this.options.batching.rejoinWaitMs,
    );
  }
}

/** The runtime's decoding options of a resolved decoding (the seed is per source). */
function decodingOptions(d: ResolvedDecoding): DecodingOptions {
  return {
    strategy: d.strategy,
    numReturn: d.numReturn,
    maxNewTokens: d.maxNewTokens,
    temperature: d.temperature,
    topK: d.topK,
    topP: d.topP,
    beamSize: d.beamSize,
    lengthPenalty: d.lengthPenalty,
  };
}
