/**
 * Everything `rest report` and `rest inspect` show about a run, read from MongoDB in a few queries:
 * the run, its metrics points, one compact record per sample (reward and log-prob, never the text or
 * token ids, so a run of a million samples still fits), every shard (the kept examples of each
 * Improve step) and the run's policies. Texts are read per source on demand (`source-view.ts`).
 *
 * Samples and shards are read from their collections with projections rather than through
 * SampleRepo/ShardRepo, whose reads return whole documents one scope at a time. Nothing here writes.
 */
import {
  COLLECTIONS,
  openStore,
  type MetricsDoc,
  type PolicyDoc,
  type RunDoc,
  type SampleDoc,
  type ShardDoc,
  type Store,
} from '@rest/store';
import { compareSteps, parseMetricKey } from './metric-keys.js';
import { readSpec, type SpecFacts } from './spec-summary.js';

/** The policy id that marks a stored human reference (sample k = N). */
export const REFERENCE_POLICY_ID = 'reference';

/** One sample, without its text. */
export interface SampleStat {
  readonly idx: number;
  readonly k: number;
  /** Reward under the chosen reward model; undefined when not scored (yet). */
  readonly reward: number | undefined;
  /** Behaviour log-prob in nats. */
  readonly logProb: number;
}

/** One Improve step of a Grow step. */
export interface ImproveStep {
  readonly grow: number;
  readonly improve: number;
  /** Number of shards written for the step. */
  readonly shards: number;
  /** The distinct thresholds its shards recorded. */
  readonly thresholds: readonly number[];
  /** `<idx>/<k>` of every kept example (the union of its shards). */
  readonly kept: ReadonlySet<string>;
  /** Of the kept examples, how many are stored references. */
  readonly keptReferences: number;
  /** The kept examples' rewards as the shards recorded them. */
  readonly keptRewards: readonly number[];
  /** Sources with at least one kept example. */
  readonly keptSources: number;
  /** The `g<g>/i<i>/filter`, `/train` and `/eval` points' values, when recorded. */
  readonly filter: Readonly<Record<string, number>> | undefined;
  readonly train: Readonly<Record<string, number>> | undefined;
  readonly eval: Readonly<Record<string, number>> | undefined;
}

/** One Grow step: its samples and its Improve steps. */
export interface GrowStep {
  readonly grow: number;
  /** Policy samples (k < N), ordered by (idx, k). */
  readonly samples: readonly SampleStat[];
  /** Stored human references (policyId `reference`), ordered by idx. */
  readonly references: readonly SampleStat[];
  /** Distinct source indexes among the samples. */
  readonly sources: number;
  /** The `g<g>/grow` point's values, when recorded. */
  readonly metrics: Readonly<Record<string, number>> | undefined;
  readonly improves: readonly ImproveStep[];
}

/** A run as the report and the inspector see it. */
export interface RunData {
  readonly run: RunDoc;
  readonly spec: SpecFacts;
  /** The reward whose values are shown (flag, else the spec's model, else the shards'). */
  readonly rewardModel: string;
  /** The reward scale (`clipped01`, `raw`, `zscore`), when the spec tells. */
  readonly normalization: string | undefined;
  /** Every metrics point, ordered by time then key. */
  readonly metrics: readonly MetricsDoc[];
  readonly grows: readonly GrowStep[];
  readonly policies: readonly PolicyDoc[];
}

/** Options of {@link loadRunData}. */
export interface LoadRunOptions {
  /** Show this reward (a key of the samples' `rewards`) instead of the run's reward model. */
  readonly rewardModel?: string;
}

/** Connection flags shared by the commands that read runs. */
export interface MongoFlags {
  readonly mongoUri?: string;
  /** @default 'rest' */
  readonly mongoDb: string;
}

/**
 * Opens the store named by `--mongo-uri`, else by MONGODB_URI.
 * @throws Error saying how to name one when neither is set; UnavailableError when it does not answer.
 */
export async function openRunStore(flags: MongoFlags): Promise<Store> {
  const uri = flags.mongoUri ?? process.env['MONGODB_URI'];
  if (uri === undefined || uri === '') {
    throw new Error(
      'no MongoDB to read the run from: pass --mongo-uri mongodb://HOST:PORT/ or set MONGODB_URI ' +
        '(`rest infra up` prints the URI of the local server)',
    );
  }
  return openStore({ uri, dbName: flags.mongoDb, ensureIndexes: false, connectTimeoutMs: 5000 });
}

/** Key of a sample within a Grow step, as used in {@link ImproveStep.kept}. */
export function exampleKey(idx: number, k: number): string {
  return `${idx}/${k}`;
}

type SampleRow = Pick<SampleDoc, 'grow' | 'idx' | 'k' | 'rewards' | 'behaviourLogProb' | 'policyId'>;
type ShardRow = Pick<ShardDoc, 'grow' | 'improve' | 'n' | 'examples' | 'threshold' | 'rewardModel'>;

function chooseRewardModel(
  flag: string | undefined,
  spec: SpecFacts,
  shards: readonly ShardRow[],
  samples: readonly SampleRow[],
): string {
  if (flag !== undefined) return flag;
  if (spec.rewardModel !== undefined) return spec.rewardModel;
  const fromShard = shards[0]?.rewardModel;
  if (fromShard !== undefined) return fromShard;
  for (const s of samples) {
    const first = Object.keys(s.rewards)[0];
    if (first !== undefined) return first;
  }
  return '';
}

/**
 * Reads a run.
 * @throws Error naming the run (and a few that exist) when there is no such run.
 */
export async function loadRunData(
  store: Store,
  runId: string,
  options: LoadRunOptions = {},
): Promise<RunData> {
  const run = await store.runs.get(runId);
  if (run === null) {
    const known = (await store.runs.list({ limit: 5 })).map((r) => r._id);
    throw new Error(
      `run "${runId}" not found in database "${store.db.databaseName}"` +
        (known.length === 0 ? ' (it holds no runs)' : ` (runs there include: ${known.join(', ')})`),
    );
  }
  const [metrics, sampleRows, shardRows, policies] = await Promise.all([
    store.runs.metrics(runId),
    store.db
      .collection<SampleDoc>(COLLECTIONS.samples)
      .find({ run: runId })
      .project<SampleRow>({ _id: 0, grow: 1, idx: 1, k: 1, rewards: 1, behaviourLogProb: 1, policyId: 1 })
      .toArray(),
    store.db
      .collection<ShardDoc>(COLLECTIONS.shards)
      .find({ run: runId })
      .project<ShardRow>({ _id: 0, grow: 1, improve: 1, n: 1, examples: 1, threshold: 1, rewardModel: 1 })
      .toArray(),
    store.policies.list({ run: runId, limit: 500 }),
  ]);
  const spec = readSpec(run.spec);
  const rewardModel = chooseRewardModel(options.rewardModel, spec, shardRows, sampleRows);
  const keyed = metrics.map((m) => ({ doc: m, key: parseMetricKey(m.key) }));
  const valuesOf = (kind: string, grow: number, improve = 0): Record<string, number> | undefined =>
    keyed.find(
      ({ key }) =>
        key.kind === kind &&
        'grow' in key &&
        key.grow === grow &&
        (!('improve' in key) || key.improve === improve),
    )?.doc.values;

  const growIds = new Set<number>();
  const improveIds = new Map<number, Set<number>>();
  const noteImprove = (g: number, i: number): void => {
    growIds.add(g);
    if (!improveIds.has(g)) improveIds.set(g, new Set());
    improveIds.get(g)!.add(i);
  };
  for (const s of sampleRows) growIds.add(s.grow);
  for (const s of shardRows) noteImprove(s.grow, s.improve);
  for (const { key } of keyed) {
    if ((key.kind === 'grow' || key.kind === 'grow-shard') && key.grow > 0) growIds.add(key.grow);
    if (
      (key.kind === 'filter' || key.kind === 'train' || key.kind === 'eval') &&
      key.grow > 0 &&
      key.improve > 0
    )
      noteImprove(key.grow, key.improve);
  }

  const grows = [...growIds]
    .sort((a, b) => a - b)
    .map((g): GrowStep => {
      const rows = sampleRows
        .filter((s) => s.grow === g)
        .sort((a, b) => a.idx - b.idx || a.k - b.k)
        .map((s) => ({
          stat: { idx: s.idx, k: s.k, reward: s.rewards[rewardModel], logProb: s.behaviourLogProb },
          reference: s.policyId === REFERENCE_POLICY_ID,
        }));
      const referenceKeys = new Set(
        rows.filter((r) => r.reference).map((r) => exampleKey(r.stat.idx, r.stat.k)),
      );
      const improves = [...(improveIds.get(g) ?? [])]
        .sort((a, b) => a - b)
        .map((i): ImproveStep => {
          const shards = shardRows.filter((s) => s.grow === g && s.improve === i);
          const kept = new Set<string>();
          const keptRewards: number[] = [];
          const keptSources = new Set<number>();
          for (const shard of shards) {
            for (const e of shard.examples) {
              const key = exampleKey(e.idx, e.k);
              if (kept.has(key)) continue;
              kept.add(key);
              keptRewards.push(e.reward);
              keptSources.add(e.idx);
            }
          }
          return {
            grow: g,
            improve: i,
            shards: shards.length,
            thresholds: [...new Set(shards.map((s) => s.threshold))].sort((a, b) => a - b),
            kept,
            keptReferences: [...kept].filter((key) => referenceKeys.has(key)).length,
            keptRewards,
            keptSources: keptSources.size,
            filter: valuesOf('filter', g, i),
            train: valuesOf('train', g, i),
            eval: valuesOf('eval', g, i),
          };
        })
        .sort(compareSteps);
      const samples = rows.filter((r) => !r.reference).map((r) => r.stat);
      return {
        grow: g,
        samples,
        references: rows.filter((r) => r.reference).map((r) => r.stat),
        sources: new Set(samples.map((s) => s.idx)).size,
        metrics: valuesOf('grow', g),
        improves,
      };
    });
  return { run, spec, rewardModel, normalization: spec.normalization, metrics, grows, policies };
}

/** The rewards of a Grow step's scored policy samples. */
export function scoredRewards(grow: GrowStep): number[] {
  const out: number[] = [];
  for (const s of grow.samples) if (s.reward !== undefined) out.push(s.reward);
  return out;
}
