/**
 * The report page: one self-contained HTML document (inline CSS and SVG, no script, no external
 * resource — even the favicon is an empty data URI, so a browser makes no request at all). Every
 * stored string is escaped. Layout only; the numbers come from {@link RunData} and the charts arrive
 * rendered.
 */
import { parseMetricKey, stepLabel } from './metric-keys.js';
import { summarize } from './distribution.js';
import { scoredRewards, type RunData } from './run-data.js';
import type { SourceView } from './source-view.js';

/** A chart ready for the page. */
export interface RenderedChart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A number for a table: integers as they are, others to 4 significant digits. */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '–';
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? n.toExponential(3) : String(Number(n.toPrecision(4)));
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

const CSS = `
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
.state { display: inline-block; padding: 2px 8px; border-radius: 4px; color: white; font-size: 0.8em; }
.state.completed { background: #2ca02c; } .state.failed, .state.cancelled { background: #d62728; }
.state.pending, .state.growing, .state.improving, .state.evaluating { background: #1f77b4; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 200px; }
figure.chart { margin: 16px 0; } figure.chart figcaption { font-size: 0.85em; color: #555; }
.kept { color: #2ca02c; font-weight: bold; } .dropped { color: #bbb; }
.source { margin: 16px 0 4px; } .muted { color: #777; } .nowrap { white-space: nowrap; }
`;

function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly number[] = [],
): string {
  const cell = (c: string, i: number): string =>
    numeric.includes(i) ? `<td class="num">${c}</td>` : `<td>${c}</td>`;
  return (
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

function summarySection(data: RunData, now: Date): string {
  const r = data.run;
  const terminal = r.state === 'completed' || r.state === 'failed' || r.state === 'cancelled';
  const elapsed = (terminal ? r.updatedAt.getTime() : now.getTime()) - r.createdAt.getTime();
  const test = data.metrics.find((m) => parseMetricKey(m.key).kind === 'test');
  const base = data.metrics.find((m) => m.key === 'g0/i0/eval');
  const rows: [string, string][] = [
    ['state', `<span class="state ${escapeHtml(r.state)}">${escapeHtml(r.state)}</span>`],
    ...(r.error === null ? [] : [['error', escapeHtml(r.error)] as [string, string]]),
    ['final policy', escapeHtml(r.policyId ?? '–')],
    ['progress', `Grow ${r.grow}, Improve ${r.improve}`],
    ['created', escapeHtml(r.createdAt.toISOString())],
    [terminal ? 'finished' : 'last update', escapeHtml(r.updatedAt.toISOString())],
    [terminal ? 'wall time' : 'running for', duration(elapsed)],
    ...data.grows.map((g): [string, string] => [
      `Grow ${g.grow}`,
      `${g.samples.length} samples of ${g.sources} sources` +
        (g.references.length > 0 ? ` + ${g.references.length} references` : '') +
        (g.metrics?.['seconds'] === undefined ? '' : `, ${duration(g.metrics['seconds'] * 1000)}`),
    ]),
    ['shown reward', escapeHtml(data.rewardModel === '' ? '–' : data.rewardModel)],
    ...data.spec.rows.map(([k, v]): [string, string] => [escapeHtml(k), escapeHtml(v)]),
  ];
  const evals = (label: string, values: Readonly<Record<string, number>> | undefined): [string, string][] =>
    values === undefined
      ? []
      : [
          [
            label,
            escapeHtml(
              Object.entries(values)
                .map(([k, v]) => `${k} ${formatNumber(v)}`)
                .join(', '),
            ),
          ],
        ];
  rows.push(...evals('base policy (valid)', base?.values), ...evals('final policy (test)', test?.values));
  return (
    '<h2 id="summary">Run summary</h2><table class="kv"><tbody>' +
    rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('') +
    '</tbody></table>'
  );
}

function stepsSection(data: RunData): string {
  const rows = data.grows.flatMap((g) => {
    const all = summarize(scoredRewards(g));
    return g.improves.map((i) => [
      escapeHtml(stepLabel(i.grow, i.improve)),
      formatNumber(i.thresholds[0] ?? i.filter?.['threshold']),
      formatNumber(i.kept.size),
      `${formatNumber(i.keptSources)} / ${g.sources}`,
      formatNumber(i.shards),
      formatNumber(summarize(i.keptRewards).mean),
      formatNumber(all.mean),
      formatNumber(i.filter?.['learning_rate']),
      i.filter?.['skipped'] === 1 ? 'yes' : 'no',
      formatNumber(i.train?.['steps']),
      formatNumber(i.train?.['loss']),
      formatNumber(i.eval?.['reward_mean']),
      formatNumber(i.eval?.['bleu']),
    ]);
  });
  if (rows.length === 0)
    return '<h2 id="steps">Improve steps</h2><p class="muted">No Improve step recorded yet.</p>';
  return (
    '<h2 id="steps">Improve steps</h2>' +
    table(
      [
        'step',
        'threshold',
        'kept',
        'sources kept',
        'shards',
        'kept mean reward',
        'Grow mean reward',
        'learning rate',
        'skipped',
        'train steps',
        'loss',
        'valid reward',
        'valid BLEU',
      ],
      rows,
      [1, 2, 4, 5, 6, 7, 9, 10, 11, 12],
    )
  );
}

function examplesSection(data: RunData, examples: readonly SourceView[]): string {
  if (examples.length === 0) return '';
  const parts = examples.map((ex) => {
    const steps = data.grows.find((g) => g.grow === ex.grow)?.improves.map((i) => i.improve) ?? [];
    const marks = (kept: readonly number[]): string[] =>
      steps.map((s) =>
        kept.includes(s) ? '<span class="kept">✓ kept</span>' : '<span class="dropped">· dropped</span>',
      );
    const rows = ex.candidates.map((c, rank) => [
      String(rank + 1),
      String(c.k),
      formatNumber(c.reward),
      formatNumber(c.logProb),
      escapeHtml(c.text),
      ...marks(c.keptIn),
    ]);
    if (ex.reference?.from === 'samples') {
      rows.push([
        'ref',
        '–',
        formatNumber(ex.reference.reward),
        '–',
        escapeHtml(ex.reference.text),
        ...marks(ex.reference.keptIn),
      ]);
    }
    return (
      `<p class="source"><b>Grow ${ex.grow}, source #${ex.idx}:</b> ${escapeHtml(ex.source)}` +
      (ex.reference === undefined
        ? ''
        : `<br><span class="muted">reference: ${escapeHtml(ex.reference.text)}</span>`) +
      '</p>' +
      table(
        ['rank', 'k', 'reward', 'log-prob', 'candidate', ...steps.map((s) => `step ${s}`)],
        rows,
        [0, 1, 2, 3],
      )
    );
  });
  return (
    '<h2 id="examples">Example sources</h2><p class="muted">Sources with the widest reward spread among their ' +
    'candidates; candidates best first, with what each Improve step kept.</p>' +
    parts.join('')
  );
}

/** Metrics tables, one per kind of point, with a column per value name. */
const METRIC_GROUPS: readonly { readonly title: string; readonly kinds: readonly string[] }[] = [
  { title: 'Evaluations (`g<g>/i<i>/eval`, `test/eval`)', kinds: ['eval', 'test'] },
  { title: 'Grow steps (`g<g>/grow`)', kinds: ['grow'] },
  { title: 'Grow shards (`g<g>/grow/shard/<n>`)', kinds: ['grow-shard'] },
  { title: 'Improve filters (`g<g>/i<i>/filter`)', kinds: ['filter'] },
  { title: 'Training (`g<g>/i<i>/train`)', kinds: ['train'] },
  { title: 'Other points', kinds: ['other'] },
];

function metricsSection(data: RunData): string {
  const tables = METRIC_GROUPS.map((group) => {
    const points = data.metrics.filter((m) => group.kinds.includes(parseMetricKey(m.key).kind));
    if (points.length === 0) return '';
    const names = [...new Set(points.flatMap((m) => Object.keys(m.values)))];
    const rows = points.map((m) => [
      escapeHtml(m.key),
      `<span class="nowrap">${escapeHtml(m.at.toISOString().replace('T', ' ').replace('.000Z', 'Z'))}</span>`,
      ...names.map((n) => formatNumber(m.values[n])),
    ]);
    const numeric = names.map((_, i) => i + 2);
    return `<h3>${escapeHtml(group.title)}</h3>` + table(['key', 'at', ...names], rows, numeric);
  });
  return (
    `<h2 id="metrics">Metrics points (${data.metrics.length})</h2>` +
    (data.metrics.length === 0 ? '<p class="muted">None recorded.</p>' : tables.join(''))
  );
}

function policiesSection(data: RunData): string {
  if (data.policies.length === 0) return '';
  const rows = data.policies.map((p) => [
    escapeHtml(p._id),
    escapeHtml(p.parentId ?? '–'),
    escapeHtml(stepLabel(p.grow, p.improve)),
    escapeHtml(p.createdAt.toISOString()),
    escapeHtml(
      Object.entries(p.metrics)
        .map(([k, v]) => `${k} ${formatNumber(v)}`)
        .join(', '),
    ),
  ]);
  return (
    '<h2 id="policies">Policies</h2>' + table(['policy', 'parent', 'step', 'registered', 'metrics'], rows)
  );
}

/** The whole report page. */
export function reportHtml(
  data: RunData,
  charts: readonly RenderedChart[],
  examples: readonly SourceView[],
  now: Date,
): string {
  const title = `ReST run ${data.run._id}`;
  const figures = charts
    .map(
      (c) =>
        `<figure class="chart" id="${escapeHtml(c.id)}"><h3>${escapeHtml(c.title)}</h3>${c.svg}` +
        `<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Generated ${escapeHtml(now.toISOString())} by <code>rest report</code>.</p>
${summarySection(data, now)}
<h2 id="charts">Charts</h2>
${figures.length === 0 ? '<p class="muted">Nothing to chart yet.</p>' : figures}
${stepsSection(data)}
${examplesSection(data, examples)}
${metricsSection(data)}
${policiesSection(data)}
</body></html>
`;
}
