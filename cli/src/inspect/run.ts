/**
 * `rest inspect`'s work: read a run, print the reward summary, then the sample browser (selected
 * sources, or the interactive browser in a terminal), or all of it as one JSON document.
 */
import type { Store } from '@rest/store';
import { loadRunData, openRunStore, type MongoFlags, type RunData } from '../report/run-data.js';
import { loadSourceView, sourceOrder, type SourceView } from '../report/source-view.js';
import { browse, type BrowseStop } from './browse.js';
import { formatSource, formatSummary } from './format.js';
import { summarizeRun } from './summary.js';

/** Orders of the browsed sources. */
export const SOURCE_ORDERS = ['idx', 'reward'] as const;

/** The flags of `rest inspect`, as commander hands them over. */
export interface InspectFlags extends MongoFlags {
  reward?: string;
  grow?: number;
  source?: number;
  limit: number;
  sort: string;
  bins: number;
  json: boolean;
  interactive: boolean;
}

async function sourceViews(store: Store, data: RunData, stops: readonly BrowseStop[]): Promise<SourceView[]> {
  const out: SourceView[] = [];
  for (const s of stops) {
    const view = await loadSourceView(store, data, s.grow, s.idx);
    if (view !== undefined) out.push(view);
  }
  return out;
}

/**
 * Runs `rest inspect` and prints to stdout.
 * @throws Error for a bad flag, an unknown run, a Grow step or source without samples.
 */
export async function runInspect(runId: string, f: InspectFlags): Promise<void> {
  if (!(SOURCE_ORDERS as readonly string[]).includes(f.sort))
    throw new Error(`--sort: must be idx or reward (got ${f.sort})`);
  const sort = f.sort as (typeof SOURCE_ORDERS)[number];
  const store = await openRunStore(f);
  try {
    const data = await loadRunData(store, runId, f.reward === undefined ? {} : { rewardModel: f.reward });
    const grows = data.grows.filter((g) => f.grow === undefined || g.grow === f.grow);
    if (f.grow !== undefined && grows.length === 0) {
      throw new Error(
        `--grow ${f.grow}: run ${runId} has no Grow step ${f.grow} ` +
          `(steps with data: ${data.grows.map((g) => g.grow).join(', ') || 'none'})`,
      );
    }
    const summary = summarizeRun(data, f.bins, f.grow);
    const stepsOf = (grow: number): number[] =>
      data.grows.find((g) => g.grow === grow)?.improves.map((i) => i.improve) ?? [];
    const order = sort === 'idx' ? 'index' : 'mean reward';
    let views: SourceView[];
    if (f.source !== undefined) {
      const idx = f.source;
      views = await sourceViews(
        store,
        data,
        grows.map((g) => ({ grow: g.grow, idx })),
      );
      if (views.length === 0) {
        const where = f.grow === undefined ? 'any Grow step' : `Grow ${f.grow}`;
        throw new Error(`--source ${idx}: no samples of that source in ${where} of run ${runId}`);
      }
    } else {
      const stops = grows.flatMap((g) => sourceOrder(g, sort).map((idx) => ({ grow: g.grow, idx })));
      if (!f.json && f.interactive && process.stdout.isTTY && process.stdin.isTTY) {
        console.log(formatSummary(summary));
        console.log(`\nsample browser: ${stops.length} sources, ordered by ${order}`);
        await browse(store, data, stops);
        return;
      }
      views = await sourceViews(
        store,
        data,
        grows.flatMap((g) =>
          sourceOrder(g, sort)
            .slice(0, f.limit)
            .map((idx) => ({ grow: g.grow, idx })),
        ),
      );
    }
    if (f.json) {
      console.log(JSON.stringify({ ...summary, sources: views }, null, 2));
      return;
    }
    console.log(formatSummary(summary));
    console.log(
      f.source === undefined
        ? `\nsample browser: the first ${f.limit} sources of each Grow step by ${order} ` +
            '(--source <idx> shows one; in a terminal, n/p browse them all)'
        : `\nsource #${f.source}`,
    );
    for (const v of views) console.log(`\n${formatSource(v, stepsOf(v.grow))}`);
  } finally {
    await store.close();
  }
}
