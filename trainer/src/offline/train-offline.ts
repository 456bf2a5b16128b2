/**
 * `rest train`: one Improve step without the other services, through the service's executor
 * (`runImprove`). Data come from a shard file (see shard-file.ts) or from a run's shards in MongoDB
 * (leased like the service does, and released afterwards, never completed: an offline run must not
 * take a step away from the run's own trainer). Checkpoints go to `<workDir>/checkpoints`, so rerunning
 * the same command resumes; the bundle goes to `outDir`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadBundle, openStore } from '@rest/store';
import { FailedPreconditionError, InvalidArgumentError } from '@rest/service-kit';
import type { DecodingOptions } from '@rest/runtime';
import { runImprove, type ImproveEvent, type ImproveResult } from '../improve/executor.js';
import { FolderCheckpointStore } from '../improve/checkpoints.js';
import type { ImproveData, RewardFn, ValidItem } from '../improve/data.js';
import {
  IMPROVE_DEFAULTS,
  type ExampleSampling,
  type ImproveOptimizer,
  type ImproveSpec,
} from '../improve/spec.js';
import { isObjectiveName } from '../objectives/registry.js';
import { leaseShards, loadStoreData } from '../jobs/store-data.js';
import type { RewardNormalization } from '../improve/metric-reward.js';
import { readShardFile } from './shard-file.js';

/** Where the step's candidates come from. */
export type OfflineSource =
  | {
      readonly kind: 'file';
      readonly path: string;
      /** Train on reward > threshold. @default all */
      readonly threshold?: number;
      readonly behaviourIsReference?: boolean;
    }
  | {
      readonly kind: 'store';
      readonly mongoUri: string;
      readonly mongoDb: string;
      readonly runId: string;
      readonly grow: number;
      readonly improve: number;
      /** Validation sources from this dataset's split (else `valid` is used). */
      readonly dataset?: string;
      readonly validSplit?: string;
      /** At most this many validation sources of the split (the first by idx). @default all */
      readonly maxValid?: number;
    };

/** Everything `rest train` decides. */
export interface OfflineTrainOptions {
  /** A registry objective name (`bc`, `alol-seq`, `dpo`, …). */
  readonly objective: string;
  readonly hyper?: Readonly<Record<string, unknown>>;
  readonly sampling?: ExampleSampling;
  readonly pairSelection?: 'best-worst' | 'min-gap';
  readonly minRewardGap?: number;
  /** A-LoL's V(x) (see `ObjectiveChoice.valueEstimate`). @default 'monte-carlo' */
  readonly valueEstimate?: 'monte-carlo' | 'head';
  /** Upper bound of the value head. @default 1 */
  readonly valueMax?: number;
  /** The starting policy: a bundle folder, or (store source) a registered policy id. */
  readonly policy: string;
  /** The reference policy π_ref, same forms; default: the starting policy. */
  readonly reference?: string;
  readonly source: OfflineSource;
  /** Validation sources (file source, or a store source without `dataset`). */
  readonly valid: readonly ValidItem[];
  /** The reward of validation outputs (and the store samples' reward field). */
  readonly reward: { readonly model: string; readonly normalization: RewardNormalization };
  readonly rewardFn: RewardFn;
  readonly optimizer?: Partial<ImproveOptimizer>;
  readonly evalDecoding?: DecodingOptions;
  readonly seed?: number;
  readonly workDir: string;
  readonly outDir: string;
  /** onnxruntime intra-op threads (0: its choice). */
  readonly threads?: number;
  readonly progressEverySteps?: number;
}

/** A name for the step's checkpoints and lineage. */
function jobIdOf(o: OfflineTrainOptions): string {
  return o.source.kind === 'file'
    ? `offline-${o.objective}`
    : `offline-${o.source.runId}-g${o.source.grow}-i${o.source.improve}-${o.objective}`;
}

/**
 * Trains one Improve step offline; see the module comment. Throws InvalidArgumentError for bad
 * options or a malformed shard file, FailedPreconditionError when nothing can be trained.
 */
export async function trainOffline(
  o: OfflineTrainOptions,
  onEvent: (e: ImproveEvent) => void | Promise<void>,
): Promise<ImproveResult> {
  if (!isObjectiveName(o.objective))
    throw InvalidArgumentError.fromViolations([
      { field: 'objective', problem: `unknown objective ${o.objective}` },
    ]);
  await mkdir(o.workDir, { recursive: true });
  const spec: ImproveSpec = {
    jobId: jobIdOf(o),
    runId: o.source.kind === 'store' ? o.source.runId : '',
    grow: o.source.kind === 'store' ? o.source.grow : 0,
    improve: o.source.kind === 'store' ? o.source.improve : 0,
    objective: {
      name: o.objective,
      hyper: o.hyper ?? {},
      sampling: o.sampling ?? 'uniform',
      pairSelection: o.pairSelection ?? 'best-worst',
      minRewardGap: o.minRewardGap ?? IMPROVE_DEFAULTS.minRewardGap,
      ...(o.valueEstimate === undefined ? {} : { valueEstimate: o.valueEstimate }),
      ...(o.valueMax === undefined ? {} : { valueMax: o.valueMax }),
    },
    optimizer: { ...IMPROVE_DEFAULTS, maxGradNorm: 1, ...o.optimizer },
    eval: { decoding: o.evalDecoding ?? { strategy: 'greedy' }, maxSources: undefined },
    seed: o.seed ?? 1,
  };
  const run = (policyDir: string, referenceDir: string, data: ImproveData): Promise<ImproveResult> =>
    runImprove(
      spec,
      { policyDir, referenceDir, data, reward: o.rewardFn },
      {
        checkpoints: new FolderCheckpointStore(join(o.workDir, 'checkpoints')),
        outDir: o.outDir,
        session: { intraOpThreads: o.threads ?? 0 },
        progressEverySteps: o.progressEverySteps ?? 20,
        lineage: { producer: 'rest train' },
        onEvent,
      },
    );

  if (o.source.kind === 'file') {
    const { train, all } = await readShardFile(o.source.path, {
      ...(o.source.threshold === undefined ? {} : { threshold: o.source.threshold }),
      behaviourIsReference: o.source.behaviourIsReference ?? false,
    });
    return run(o.policy, o.reference ?? o.policy, { train, all, valid: o.valid });
  }

  const s = o.source;
  const store = await openStore({ uri: s.mongoUri, dbName: s.mongoDb });
  try {
    const scope = { run: s.runId, grow: s.grow, improve: s.improve };
    const numShards = await store.shards.count(scope);
    if (numShards === 0)
      throw new FailedPreconditionError(
        `run ${s.runId} has no shards for Grow ${s.grow}, Improve ${s.improve}`,
      );
    const policyDir = async (ref: string): Promise<string> => {
      const policy = await store.policies.get(ref);
      if (policy === null) return ref; // a folder
      return downloadBundle(store.bundles, policy.bundleId, join(o.workDir, 'policies', policy.bundleId));
    };
    const policy = await policyDir(o.policy);
    const reference = o.reference === undefined ? policy : await policyDir(o.reference);
    const owner = `rest-train-${process.pid}-${Date.now()}`;
    const { leases, completed } = await leaseShards(store, scope, numShards, owner, 600_000, 5_000, () =>
      Promise.resolve(),
    );
    try {
      const data = await loadStoreData(store, scope, [...leases.shards, ...completed], {
        rewardModel: o.reward.model,
        referencePolicyId: o.reference ?? o.policy,
        dataset: s.dataset ?? '',
        validSplit: s.validSplit ?? 'valid',
        maxValid: s.maxValid,
      });
      return await run(policy, reference, s.dataset === undefined ? { ...data, valid: o.valid } : data);
    } finally {
      await leases.release();
    }
  } finally {
    await store.close();
  }
}
