/**
 * The report's charts as Vega-Lite specs, built from a {@link RunData}: validation reward and
 * reference metrics per step, each Grow's reward histogram with its Improve thresholds, examples kept
 * per Improve step, and training loss per step. Pure: rendering is `render-svg.ts`'s job.
 *
 * Steps sit on a numeric axis (0 = base, then g1/i1, g1/i2, …) labelled with their names, so a Grow
 * boundary can be drawn halfway between the last step of one Grow and the first of the next.
 * Histograms arrive pre-binned (`distribution.ts`), so the spec carries counts, not samples.
 */
import type { TopLevelSpec } from 'vega-lite';
import { histogram, rewardDomain, DEFAULT_BINS } from './distribution.js';
import { compareSteps, parseMetricKey, stepLabel } from './metric-keys.js';
import { scoredRewards, type GrowStep, type RunData } from './run-data.js';

/** One chart of the report. */
export interface ChartSpec {
  /** HTML id of the chart's figure. */
  readonly id: string;
  readonly title: string;
  /** One sentence under the chart. */
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

const WIDTH = 620;
const HEIGHT = 230;
/** Values of an eval point that are not reference metrics. */
const REWARD_KEYS = new Set(['reward_mean', 'reward_std', 'reward_min', 'reward_max', 'num_sources']);
/** Colours of the Improve steps' threshold rules (step 1 first). */
const STEP_COLORS = ['#d62728', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

interface StepPoint {
  readonly grow: number;
  readonly improve: number;
  readonly values: Readonly<Record<string, number>>;
}

/** Validation points (base first), in step order. */
function evalPoints(data: RunData): StepPoint[] {
  const out: StepPoint[] = [];
  for (const m of data.metrics) {
    const key = parseMetricKey(m.key);
    if (key.kind === 'eval') out.push({ grow: key.grow, improve: key.improve, values: m.values });
  }
  return out.sort(compareSteps);
}

/** The x axis of a per-step chart: integer positions labelled with step names. */
function stepAxis(points: readonly StepPoint[]): Record<string, unknown> {
  const labels = JSON.stringify(points.map((p) => stepLabel(p.grow, p.improve)));
  return {
    title: 'step',
    values: points.map((_, i) => i),
    labelExpr: `${labels}[datum.value]`,
    labelAngle: 0,
    grid: false,
  };
}

/** Dashed rules halfway before the first step of each Grow, labelled `Grow g`. */
function growBoundaries(points: readonly StepPoint[]): Record<string, unknown>[] {
  const rows: { x: number; label: string }[] = [];
  points.forEach((p, i) => {
    if (i > 0 && p.grow > 0 && points[i - 1]!.grow !== p.grow)
      rows.push({ x: i - 0.5, label: `Grow ${p.grow}` });
  });
  if (rows.length === 0) return [];
  return [
    {
      data: { values: rows },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#888' },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    },
    {
      data: { values: rows },
      mark: { type: 'text', align: 'left', dx: 3, baseline: 'top', color: '#555', y: 0 },
      encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
    },
  ];
}

/**
 * A chart spec with what every chart shares (titles are the page's headings, not part of the SVG).
 * The one cast of this module: vega-lite's spec types do not follow layers composed from helper
 * functions, and vega-lite checks the spec when it compiles (a test renders every chart).
 */
function spec(body: Record<string, unknown>): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    ...body,
  } as unknown as TopLevelSpec;
}

/** Validation reward (mean, ± std band, min–max whiskers) per step; undefined without eval points. */
export function rewardChart(data: RunData): ChartSpec | undefined {
  const points = evalPoints(data).filter((p) => p.values['reward_mean'] !== undefined);
  if (points.length === 0) return undefined;
  const rows = points.map((p, i) => {
    const mean = p.values['reward_mean']!;
    const std = p.values['reward_std'] ?? 0;
    return {
      x: i,
      step: stepLabel(p.grow, p.improve),
      mean,
      lo: mean - std,
      hi: mean + std,
      min: p.values['reward_min'] ?? mean,
      max: p.values['reward_max'] ?? mean,
    };
  });
  const x = {
    field: 'x',
    type: 'quantitative',
    axis: stepAxis(points),
    scale: { domain: [-0.5, points.length - 0.5] },
  };
  return {
    id: 'chart-valid-reward',
    title: `Validation reward (${data.rewardModel}) per step`,
    caption:
      `Mean ${data.rewardModel} reward of each policy's outputs on the validation split (line), ± one standard ` +
      'deviation (band) and min–max (whiskers); dashed rules mark the start of each Grow step.',
    spec: spec({
      layer: [
        {
          data: { values: rows },
          mark: { type: 'rule', color: '#9ecae1' },
          encoding: { x, y: { field: 'min', type: 'quantitative', title: 'reward' }, y2: { field: 'max' } },
        },
        {
          data: { values: rows },
          mark: { type: 'area', opacity: 0.25, color: '#1f77b4' },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
        {
          data: { values: rows },
          mark: { type: 'line', point: { filled: true, size: 60 }, color: '#1f77b4' },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative', scale: { zero: false } },
            tooltip: [{ field: 'step' }, { field: 'mean', format: '.4f' }],
          },
        },
        ...growBoundaries(points),
      ],
    }),
  };
}

/** Reference metrics (BLEU, chrF, …) per step; undefined when no eval point has one. */
export function metricsChart(data: RunData): ChartSpec | undefined {
  const points = evalPoints(data);
  const rows: { x: number; step: string; metric: string; value: number }[] = [];
  points.forEach((p, i) => {
    for (const [metric, value] of Object.entries(p.values)) {
      if (!REWARD_KEYS.has(metric)) rows.push({ x: i, step: stepLabel(p.grow, p.improve), metric, value });
    }
  });
  if (rows.length === 0) return undefined;
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const x = {
    field: 'x',
    type: 'quantitative',
    axis: stepAxis(points),
    scale: { domain: [-0.5, points.length - 0.5] },
  };
  return {
    id: 'chart-valid-metrics',
    title: `Validation ${metrics.map((m) => m.toUpperCase()).join(', ')} per step`,
    caption:
      'Reference metrics of each policy on the validation split; dashed rules mark the start of each Grow step.',
    spec: spec({
      layer: [
        {
          data: { values: rows },
          mark: { type: 'line', point: { filled: true, size: 60 } },
          encoding: {
            x,
            y: { field: 'value', type: 'quantitative', title: 'score', scale: { zero: false } },
            color: { field: 'metric', type: 'nominal', title: 'metric' },
            tooltip: [{ field: 'step' }, { field: 'metric' }, { field: 'value', format: '.2f' }],
          },
        },
        ...growBoundaries(points),
      ],
    }),
  };
}

/** The rules drawn over a Grow's histogram: τ per Improve step, or the lowest kept reward. */
function thresholdRules(data: RunData, grow: GrowStep): { x: number; label: string; step: string }[] {
  const fixed = (data.spec.schedule?.kind ?? 'fixed') === 'fixed';
  const rules: { x: number; label: string; step: string }[] = [];
  for (const i of grow.improves) {
    const step = `step ${i.improve}`;
    const tau = i.thresholds[0] ?? i.filter?.['threshold'];
    if (fixed && tau !== undefined) {
      rules.push({ x: tau, label: `τ${i.improve} = ${tau.toFixed(3)}`, step });
    } else if (!fixed && i.keptRewards.length > 0) {
      const low = Math.min(...i.keptRewards);
      rules.push({ x: low, label: `i${i.improve}: lowest kept ${low.toFixed(3)}`, step });
    }
  }
  return rules;
}

/** Histogram of a Grow step's sample rewards with its Improve thresholds; undefined without rewards. */
export function growHistogramChart(
  data: RunData,
  grow: GrowStep,
  bins = DEFAULT_BINS,
): ChartSpec | undefined {
  const rewards = scoredRewards(grow);
  if (rewards.length === 0) return undefined;
  const domain = rewardDomain(rewards, data.normalization);
  const rows = histogram(rewards, domain, bins);
  const rules = thresholdRules(data, grow);
  const tallest = Math.max(...rows.map((r) => r.count));
  const steps = grow.improves.map((i) => `step ${i.improve}`);
  const perSource = (data.spec.schedule?.kind ?? 'fixed') !== 'fixed';
  const xDomain = [
    Math.min(domain[0], ...rules.map((r) => r.x)),
    Math.max(domain[1], ...rules.map((r) => r.x)),
  ];
  const color = {
    field: 'step',
    type: 'nominal',
    title: 'Improve step',
    scale: { domain: steps, range: STEP_COLORS.slice(0, Math.max(steps.length, 1)) },
  };
  return {
    id: `chart-grow-${grow.grow}-rewards`,
    title: `Grow ${grow.grow}: ${data.rewardModel} reward of its ${rewards.length} samples`,
    caption:
      `${rewards.length} scored samples of ${grow.sources} sources, ${bins} bins; ` +
      (perSource
        ? 'the schedule is per source, so each rule marks the lowest reward an Improve step kept.'
        : 'the rules are the Improve steps’ thresholds τ.'),
    spec: spec({
      layer: [
        {
          data: { values: rows },
          mark: { type: 'bar', color: '#4c78a8', stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            x: {
              field: 'from',
              type: 'quantitative',
              bin: { binned: true, step: (domain[1] - domain[0]) / bins },
              title: 'reward',
              scale: { domain: xDomain },
            },
            x2: { field: 'to' },
            y: { field: 'count', type: 'quantitative', title: 'samples' },
            tooltip: [{ field: 'from', format: '.3f' }, { field: 'to', format: '.3f' }, { field: 'count' }],
          },
        },
        ...(rules.length === 0
          ? []
          : [
              {
                data: { values: rules },
                mark: { type: 'rule', strokeWidth: 2 },
                encoding: { x: { field: 'x', type: 'quantitative' }, color },
              },
              {
                // Labels stacked down from the tallest bar, one line per rule, on the counts' scale.
                data: { values: rules.map((r, n) => ({ ...r, y: tallest * (1 - 0.09 * n) })) },
                mark: { type: 'text', align: 'left', dx: 3, baseline: 'top', fontSize: 10 },
                encoding: {
                  x: { field: 'x', type: 'quantitative' },
                  y: { field: 'y', type: 'quantitative' },
                  text: { field: 'label' },
                  color,
                },
              },
            ]),
      ],
    }),
  };
}

/** Kept examples per Improve step (bars coloured by Grow); undefined without Improve steps. */
export function keptChart(data: RunData): ChartSpec | undefined {
  const rows = data.grows.flatMap((g) =>
    g.improves.map((i) => ({
      step: stepLabel(i.grow, i.improve),
      grow: `Grow ${i.grow}`,
      kept: i.kept.size > 0 ? i.kept.size : (i.filter?.['num_examples'] ?? 0),
      note: i.filter?.['skipped'] === 1 ? 'skipped' : '',
    })),
  );
  if (rows.length === 0) return undefined;
  const x = {
    field: 'step',
    type: 'ordinal',
    sort: rows.map((r) => r.step),
    title: 'Improve step',
    axis: { labelAngle: 0 },
  };
  return {
    id: 'chart-kept',
    title: 'Samples kept per Improve step',
    caption: 'Training examples that passed each Improve step’s filter (the union of its shards).',
    spec: spec({
      layer: [
        {
          data: { values: rows },
          mark: { type: 'bar' },
          encoding: {
            x,
            y: { field: 'kept', type: 'quantitative', title: 'examples kept' },
            color: { field: 'grow', type: 'nominal', title: 'Grow' },
            tooltip: [{ field: 'step' }, { field: 'kept' }, { field: 'note' }],
          },
        },
        {
          data: { values: rows },
          mark: { type: 'text', baseline: 'bottom', dy: -2 },
          encoding: {
            x,
            y: { field: 'kept', type: 'quantitative' },
            text: { field: 'kept', type: 'quantitative' },
          },
        },
      ],
    }),
  };
}

/** The trainer's final loss per Improve step; undefined when no train point has `loss`. */
export function lossChart(data: RunData): ChartSpec | undefined {
  const rows = data.grows.flatMap((g) =>
    g.improves
      .filter((i) => i.train?.['loss'] !== undefined)
      .map((i) => ({
        step: stepLabel(i.grow, i.improve),
        loss: i.train!['loss']!,
        steps: i.train!['steps'] ?? 0,
      })),
  );
  if (rows.length === 0) return undefined;
  return {
    id: 'chart-train-loss',
    title: 'Training loss per Improve step',
    caption: 'The loss the trainer reported at the end of each Improve step (its `g<g>/i<i>/train` point).',
    spec: spec({
      data: { values: rows },
      mark: { type: 'line', point: { filled: true, size: 60 }, color: '#2ca02c' },
      encoding: {
        x: {
          field: 'step',
          type: 'ordinal',
          sort: rows.map((r) => r.step),
          title: 'Improve step',
          axis: { labelAngle: 0 },
        },
        y: { field: 'loss', type: 'quantitative', scale: { zero: false } },
        tooltip: [{ field: 'step' }, { field: 'loss', format: '.4f' }, { field: 'steps' }],
      },
    }),
  };
}

/** Every chart the run's data supports, in report order. */
export function reportCharts(data: RunData, bins = DEFAULT_BINS): ChartSpec[] {
  const out: (ChartSpec | undefined)[] = [
    rewardChart(data),
    metricsChart(data),
    ...data.grows.map((g) => growHistogramChart(data, g, bins)),
    keptChart(data),
    lossChart(data),
  ];
  return out.filter((c): c is ChartSpec => c !== undefined);
}
