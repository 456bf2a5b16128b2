/**
 * `inspect-reward`'s logic: score items and their probes (./probes.ts) with a {@link RewardScorer} —
 * the server's own scorers, metric or learned, through `prepare().score()` as a Score request would —
 * and summarise, per probe, the mean score, the mean difference from the original and how often the
 * probe beats the original. A probe "outscores" the original when it is better in the scorer's own
 * orientation (higher, or lower for TER). The report fails when any probe does so on average.
 *
 * Items a scorer cannot score (a missing reference, a pair over a learned model's maxLength) are left
 * out: an original that cannot be scored drops the item, a probe that cannot drops the item from that
 * probe's row only; the counts are reported.
 */
import type { RewardScorer, ScoreItem, ScorerInfo } from '../scoring/types.js';
import { applyProbe, PROBES, type Probe } from './probes.js';

/** Items per `score` call: below the server's default queue limit, so a learned model never refuses. */
const CHUNK_ITEMS = 512;

/** One probe's row. */
export interface ProbeRow {
  readonly probe: Probe;
  /** Items scored with this probe (and their original). */
  readonly items: number;
  /** Mean raw score of the probed hypotheses. */
  readonly meanScore: number;
  /** Mean raw score of the same items' originals. */
  readonly meanOriginal: number;
  /** Mean of (probe − original), raw. */
  readonly meanDelta: number;
  /** Fraction of items where the probe is strictly better than the original, in [0, 1]. */
  readonly outscoredFraction: number;
  /** Whether the probe is better than the original on average (in the scorer's orientation). */
  readonly failed: boolean;
}

/** What {@link inspectReward} finds. */
export interface InspectReport {
  readonly scorer: ScorerInfo;
  /** Items whose original was scored. */
  readonly items: number;
  /** Items dropped because their original could not be scored, with the first problem. */
  readonly dropped: number;
  readonly firstProblem: string | undefined;
  /** Mean raw score of the originals. */
  readonly meanOriginal: number;
  readonly rows: readonly ProbeRow[];
  /** Probes that outscore the original on average. */
  readonly failing: readonly Probe[];
}

/** Options of {@link inspectReward}. */
export interface InspectOptions {
  /** Seed of the permutations. @default 1 */
  readonly seed?: number;
  /** Probes to run. @default all of {@link PROBES} */
  readonly probes?: readonly Probe[];
  readonly signal?: AbortSignal;
}

/**
 * Scores `items` and their probes with `scorer`; see the module comment.
 * @throws RangeError when no item can be scored; the scorer's errors (e.g. a full queue)
 */
export async function inspectReward(
  scorer: RewardScorer,
  items: readonly ScoreItem[],
  options: InspectOptions = {},
): Promise<InspectReport> {
  const signal = options.signal ?? new AbortController().signal;
  const seed = options.seed ?? 1;
  const original = await scoreAll(scorer, items, signal);
  const kept = items.flatMap((item, i) => (original.scores[i] === undefined ? [] : [{ item, index: i }]));
  if (kept.length === 0) {
    throw new RangeError(
      `no item could be scored by "${scorer.info.name}"${original.firstProblem === undefined ? '' : `: ${original.firstProblem}`}`,
    );
  }
  const better = (a: number, b: number): boolean => (scorer.info.higherIsBetter ? a > b : a < b);
  const rows: ProbeRow[] = [];
  for (const probe of options.probes ?? PROBES) {
    const probed = kept.map(({ item, index }) => ({
      ...item,
      hypothesis: applyProbe(probe, item, index, seed),
    }));
    const { scores } = await scoreAll(scorer, probed, signal);
    let n = 0;
    let sumProbe = 0;
    let sumOriginal = 0;
    let wins = 0;
    kept.forEach(({ index }, k) => {
      const p = scores[k];
      const o = original.scores[index]!;
      if (p === undefined) return;
      n++;
      sumProbe += p;
      sumOriginal += o;
      if (better(p, o)) wins++;
    });
    const meanScore = n === 0 ? NaN : sumProbe / n;
    const meanOriginal = n === 0 ? NaN : sumOriginal / n;
    rows.push({
      probe,
      items: n,
      meanScore,
      meanOriginal,
      meanDelta: meanScore - meanOriginal,
      outscoredFraction: n === 0 ? NaN : wins / n,
      failed: n > 0 && better(meanScore, meanOriginal),
    });
  }
  const meanOriginal = kept.reduce((sum, { index }) => sum + original.scores[index]!, 0) / kept.length;
  return {
    scorer: scorer.info,
    items: kept.length,
    dropped: items.length - kept.length,
    firstProblem: original.firstProblem,
    meanOriginal,
    rows,
    failing: rows.filter((r) => r.failed).map((r) => r.probe),
  };
}

/** Raw scores by item (undefined where the scorer reports a problem) and the first problem. */
async function scoreAll(
  scorer: RewardScorer,
  items: readonly ScoreItem[],
  signal: AbortSignal,
): Promise<{ scores: (number | undefined)[]; firstProblem: string | undefined }> {
  const scores: (number | undefined)[] = [];
  let firstProblem: string | undefined;
  for (let start = 0; start < items.length; start += CHUNK_ITEMS) {
    const chunk = items.slice(start, start + CHUNK_ITEMS);
    const prepared = scorer.prepare(chunk);
    const bad = new Set<number>();
    for (const p of prepared.problems) {
      bad.add(p.index);
      firstProblem ??= `item ${start + p.index + 1}${p.field === undefined ? '' : ` ${p.field}`}: ${p.problem}`;
    }
    const good = chunk.filter((_, i) => !bad.has(i));
    // `score` may not be called on a preparation with problems: the good items are prepared again.
    const got =
      bad.size === 0
        ? await prepared.score(signal)
        : good.length === 0
          ? []
          : await scorer.prepare(good).score(signal);
    let k = 0;
    chunk.forEach((_, i) => scores.push(bad.has(i) ? undefined : got[k++]));
  }
  return { scores, firstProblem };
}

/**
 * The report as a text table: probe, items, mean score, mean Δ vs original, % of items where the probe
 * outscores the original; then a verdict line.
 */
export function formatInspectTable(report: InspectReport): string {
  const s = report.scorer;
  const header = [
    `reward model "${s.name}" (${s.kind}, ${s.version}; ${s.higherIsBetter ? 'higher' : 'lower'} is better)`,
    `${report.items} items${report.dropped > 0 ? `, ${report.dropped} left out (${report.firstProblem})` : ''}`,
  ];
  const fmt = (v: number, signed = false): string =>
    Number.isNaN(v) ? '–' : `${signed && v > 0 ? '+' : ''}${v.toFixed(2)}`;
  const table: string[][] = [
    ['probe', 'items', 'mean score', 'mean Δ vs original', 'outscores original'],
    ['original', String(report.items), fmt(report.meanOriginal), '', ''],
    ...report.rows.map((r) => [
      r.probe,
      String(r.items),
      fmt(r.meanScore),
      fmt(r.meanDelta, true),
      Number.isNaN(r.outscoredFraction) ? '–' : `${(100 * r.outscoredFraction).toFixed(1)} %`,
    ]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const verdict =
    report.failing.length === 0
      ? 'OK: no probe outscores the original on average'
      : `FAIL: ${report.failing.join(', ')} outscore${report.failing.length === 1 ? 's' : ''} the original on average`;
  return [...header, '', ...lines, '', verdict].join('\n');
}
