/**
 * `rest report`'s work: read a run, render its charts and example sources, and write one
 * self-contained HTML file. Commander wiring lives in `commands/report.ts`.
 */
import { writeFile } from 'node:fs/promises';
import type { Store } from '@rest/store';
import { reportCharts } from './charts.js';
import { DEFAULT_BINS } from './distribution.js';
import { reportHtml, type RenderedChart } from './html.js';
import { renderSvg } from './render-svg.js';
import { loadRunData } from './run-data.js';
import { loadSourceView, widestSources, type SourceView } from './source-view.js';

/** Options of {@link writeReport}. */
export interface ReportOptions {
  readonly runId: string;
  /** Output file. */
  readonly outPath: string;
  /** Show this reward instead of the run's reward model. */
  readonly rewardModel?: string;
  /** Example sources per Grow step. @default 3 */
  readonly examples?: number;
  /** Histogram bins. @default 20 */
  readonly bins?: number;
  /** Clock of the "generated at" line. @default new Date() */
  readonly now?: Date;
}

/** What was written. */
export interface ReportResult {
  readonly outPath: string;
  readonly bytes: number;
  /** The charts' figure ids, in page order. */
  readonly charts: readonly string[];
  readonly examples: number;
}

/**
 * Builds the report of a run and writes it to `options.outPath`.
 * @throws Error when the run does not exist or a chart cannot be rendered.
 */
export async function writeReport(store: Store, options: ReportOptions): Promise<ReportResult> {
  const data = await loadRunData(store, options.runId, {
    ...(options.rewardModel === undefined ? {} : { rewardModel: options.rewardModel }),
  });
  const rendered: RenderedChart[] = [];
  for (const chart of reportCharts(data, options.bins ?? DEFAULT_BINS)) {
    rendered.push({
      id: chart.id,
      title: chart.title,
      caption: chart.caption,
      svg: await renderSvg(chart.spec),
    });
  }
  const examples: SourceView[] = [];
  for (const grow of data.grows) {
    for (const idx of widestSources(grow, options.examples ?? 3)) {
      const view = await loadSourceView(store, data, grow.grow, idx);
      if (view !== undefined) examples.push(view);
    }
  }
  const html = reportHtml(data, rendered, examples, options.now ?? new Date());
  await writeFile(options.outPath, html, 'utf8');
  return {
    outPath: options.outPath,
    bytes: Buffer.byteLength(html),
    charts: rendered.map((c) => c.id),
    examples: examples.length,
  };
}
