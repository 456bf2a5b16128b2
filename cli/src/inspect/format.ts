/**
 * `rest inspect`'s terminal text: unicode histogram bars (eighth blocks, so a bar's length is exact
 * to 1/8 of a cell), the per-Grow and per-Improve summaries, and one source with its candidates.
 * Pure string building; printing is the command's job.
 */
import type { HistogramBin, Summary } from '../report/distribution.js';
import type { SourceView } from '../report/source-view.js';
import type { GrowSummary, ImproveSummary, InspectSummary } from './summary.js';

/** Cells of the longest bar. @default 40 */
export const BAR_WIDTH = 40;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `value / max` of `width` cells; any nonzero value shows at least one eighth. */
export function bar(value: number, max: number, width: number = BAR_WIDTH): string {
  if (value <= 0 || max <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]!;
}

const num = (n: number | undefined, digits = 3): string =>
  n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);

/**
 * Histogram lines, `[from, to)  bar  count`, for the bins from the first to the last nonempty one
 * (a [0, 1] reward scale leaves most bins of a narrow distribution empty); a line says what was left out.
 */
export function formatHistogram(bins: readonly HistogramBin[], indent = '    ', width = BAR_WIDTH): string[] {
  const first = bins.findIndex((b) => b.count > 0);
  if (first < 0) return [`${indent}(no values)`];
  const last = bins.length - 1 - [...bins].reverse().findIndex((b) => b.count > 0);
  const max = Math.max(...bins.map((b) => b.count));
  const countWidth = String(max).length;
  const lines = bins.slice(first, last + 1).map((b, j) => {
    const close = first + j === bins.length - 1 ? ']' : ')';
    const range = `[${num(b.from)}, ${num(b.to)}${close}`;
    return `${indent}${range}  ${bar(b.count, max, width).padEnd(width)}  ${String(b.count).padStart(countWidth)}`;
  });
  const hidden: string[] = [];
  if (first > 0) hidden.push(`${first} below ${num(bins[first]!.from)}`);
  if (last < bins.length - 1) hidden.push(`${bins.length - 1 - last} above ${num(bins[last]!.to)}`);
  if (hidden.length > 0) lines.push(`${indent}(empty bins not shown: ${hidden.join(', ')})`);
  return lines;
}

function stats(s: Summary): string {
  return `mean ${num(s.mean)} ± ${num(s.std)}, min ${num(s.min)}, max ${num(s.max)}`;
}

function improveLines(i: ImproveSummary, g: GrowSummary, schedule: string | undefined): string[] {
  const what = schedule === 'percentile' ? 'p' : schedule === 'interpolation' ? 'γ' : 'τ';
  const head =
    `  Improve step ${i.improve}: ${what} = ${num(i.threshold)} · kept ${i.kept} examples` +
    (i.keptReferences > 0 ? ` (${i.keptReferences} of them references)` : '') +
    ' from ' +
    `${i.keptSources} of ${g.sources} sources in ${i.shards} shard${i.shards === 1 ? '' : 's'}` +
    (i.skipped ? ' · SKIPPED (too few examples)' : '');
  if (i.kept === 0) return [head];
  return [head, `    kept rewards: ${stats(i.keptReward)}`, ...formatHistogram(i.histogram, '      ')];
}

/** The per-Grow and per-Improve part of the report. */
export function formatSummary(s: InspectSummary): string {
  const r = s.run;
  const lines = [
    `run ${r.id} · ${r.state}${r.error === null ? '' : ` (${r.error})`} · at Grow ${r.grow}, Improve ${r.improve}` +
      ` · policy ${r.policyId ?? '–'}`,
    `reward ${s.rewardModel === '' ? '–' : s.rewardModel}${s.normalization === undefined ? '' : ` (${s.normalization})`}` +
      ` · G = ${s.growSteps ?? '?'} · I = ${s.improveSteps ?? '?'} · N = ${s.samplesPerSource ?? '?'}` +
      (s.schedule === undefined ? '' : ` · ${s.schedule} thresholds`),
  ];
  if (s.grows.length === 0) lines.push('', 'no Grow step has samples yet');
  for (const g of s.grows) {
    lines.push(
      '',
      `Grow ${g.grow}: ${g.samples} samples of ${g.sources} sources` +
        (g.references > 0 ? ` (+ ${g.references} references, not counted below)` : '') +
        (g.scored < g.samples ? ` · ${g.samples - g.scored} not scored yet` : ''),
      `  rewards of ${g.scored} samples: ${stats(g.reward)}`,
      ...formatHistogram(g.histogram),
    );
    for (const i of g.improves) lines.push(...improveLines(i, g, s.schedule));
  }
  return lines.join('\n');
}

/** One source: its text, reference, and every candidate best first with kept marks per Improve step. */
export function formatSource(view: SourceView, steps: readonly number[]): string {
  const marks = (kept: readonly number[]): string =>
    steps.map((s) => (kept.includes(s) ? '✓' : '·')).join(' ');
  const keptHead = steps.length === 0 ? '' : `kept ${steps.join(' ')}`;
  const lines = [`Grow ${view.grow} · source #${view.idx}: ${view.source}`];
  if (view.reference !== undefined) {
    const ref = view.reference;
    lines.push(
      `  reference: ${ref.text}` +
        (ref.from === 'samples' ? `  (reward ${num(ref.reward)}, kept ${marks(ref.keptIn) || '–'})` : ''),
    );
  }
  const kWidth = Math.max(1, ...view.candidates.map((c) => String(c.k).length));
  const markWidth = Math.max(keptHead.length, steps.length * 2 - 1);
  lines.push(
    `  ${'rank'.padStart(4)}  ${'k'.padStart(kWidth)}  ${'reward'.padStart(6)}  ${'log-prob'.padStart(8)}  ` +
      `${keptHead.padEnd(markWidth)}  candidate`,
  );
  view.candidates.forEach((c, rank) => {
    lines.push(
      `  ${String(rank + 1).padStart(4)}  ${String(c.k).padStart(kWidth)}  ${num(c.reward).padStart(6)}  ` +
        `${num(c.logProb, 2).padStart(8)}  ${marks(c.keptIn).padEnd(markWidth)}  ${c.text}`,
    );
  });
  return lines.join('\n');
}
