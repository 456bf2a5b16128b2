/**
 * One source of a Grow step with its candidates' texts: what the report's examples and the
 * inspector's sample browser print. Candidates come best reward first (unscored last, then by k);
 * each carries the Improve steps whose shards kept it.
 */
import { SPLITS, type Split, type Store } from '@rest/store';
import { REFERENCE_POLICY_ID, exampleKey, type GrowStep, type RunData } from './run-data.js';

/** One candidate translation of a source. */
export interface CandidateView {
  readonly k: number;
  readonly text: string;
  /** Undefined when not scored. */
  readonly reward: number | undefined;
  /** Behaviour log-prob in nats. */
  readonly logProb: number;
  /** The Improve steps (1-based) whose filtered set kept it. */
  readonly keptIn: readonly number[];
}

/** A source of a Grow step and its candidates. */
export interface SourceView {
  readonly grow: number;
  readonly idx: number;
  readonly source: string;
  /** The human reference: the stored k = N sample when the run kept references, else the dataset's. */
  readonly reference:
    | {
        readonly text: string;
        readonly from: 'samples' | 'dataset';
        /** Its reward and kept steps, when it was a Grow candidate. */
        readonly reward: number | undefined;
        readonly keptIn: readonly number[];
      }
    | undefined;
  /** Policy samples, best reward first. */
  readonly candidates: readonly CandidateView[];
}

/** Orders candidates: highest reward first, unscored last, ties by k. */
export function byReward(a: CandidateView, b: CandidateView): number {
  const ra = a.reward ?? Number.NEGATIVE_INFINITY;
  const rb = b.reward ?? Number.NEGATIVE_INFINITY;
  return rb - ra || a.k - b.k;
}

function keptIn(grow: GrowStep, idx: number, k: number): number[] {
  const key = exampleKey(idx, k);
  return grow.improves.filter((i) => i.kept.has(key)).map((i) => i.improve);
}

async function datasetReference(store: Store, data: RunData, idx: number): Promise<string | undefined> {
  const ds = data.spec.dataset;
  if (ds === undefined || !(SPLITS as readonly string[]).includes(ds.trainSplit)) return undefined;
  const [doc] = await store.datasets.list(ds.name, ds.trainSplit as Split, {
    fromIdx: idx,
    toIdx: idx + 1,
    limit: 1,
  });
  return doc?.reference ?? undefined;
}

/**
 * Reads source `idx` of Grow step `grow` with its candidates.
 * @returns undefined when the Grow step has no samples of that source.
 */
export async function loadSourceView(
  store: Store,
  data: RunData,
  grow: number,
  idx: number,
): Promise<SourceView | undefined> {
  const step = data.grows.find((g) => g.grow === grow);
  if (step === undefined) return undefined;
  const docs = await store.samples.find(data.run._id, grow, { idx });
  if (docs.length === 0) return undefined;
  const candidates: CandidateView[] = [];
  let reference: SourceView['reference'];
  for (const d of docs) {
    const reward = d.rewards[data.rewardModel];
    if (d.policyId === REFERENCE_POLICY_ID) {
      reference = { text: d.text, from: 'samples', reward, keptIn: keptIn(step, idx, d.k) };
    } else {
      candidates.push({
        k: d.k,
        text: d.text,
        reward,
        logProb: d.behaviourLogProb,
        keptIn: keptIn(step, idx, d.k),
      });
    }
  }
  if (reference === undefined) {
    const text = await datasetReference(store, data, idx);
    if (text !== undefined) reference = { text, from: 'dataset', reward: undefined, keptIn: [] };
  }
  return { grow, idx, source: docs[0]!.source, reference, candidates: candidates.sort(byReward) };
}

/**
 * The source indexes of a Grow step in browsing order: by index, or by mean candidate reward
 * (highest first, unscored sources last).
 */
export function sourceOrder(grow: GrowStep, sort: 'idx' | 'reward'): number[] {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const s of grow.samples) {
    const acc = sums.get(s.idx) ?? { sum: 0, n: 0 };
    if (s.reward !== undefined) {
      acc.sum += s.reward;
      acc.n += 1;
    }
    sums.set(s.idx, acc);
  }
  const ids = [...sums.keys()].sort((a, b) => a - b);
  if (sort === 'idx') return ids;
  const mean = (i: number): number => {
    const acc = sums.get(i)!;
    return acc.n === 0 ? Number.NEGATIVE_INFINITY : acc.sum / acc.n;
  };
  return ids.sort((a, b) => mean(b) - mean(a) || a - b);
}

/** Sources of a Grow step with the widest reward range among their candidates (ties: lower idx). */
export function widestSources(grow: GrowStep, count: number): number[] {
  const range = new Map<number, { lo: number; hi: number }>();
  for (const s of grow.samples) {
    if (s.reward === undefined) continue;
    const r = range.get(s.idx) ?? { lo: s.reward, hi: s.reward };
    range.set(s.idx, { lo: Math.min(r.lo, s.reward), hi: Math.max(r.hi, s.reward) });
  }
  return [...range.entries()]
    .sort(([ia, a], [ib, b]) => b.hi - b.lo - (a.hi - a.lo) || ia - ib)
    .slice(0, count)
    .map(([idx]) => idx);
}
