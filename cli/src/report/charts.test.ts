import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reportCharts } from './charts.js';
import { renderSvg } from './render-svg.js';
import type { RunData } from './run-data.js';
import { readSpec } from './spec-summary.js';

/** A run stopped in its first Improve step: no validation point yet, a per-source schedule. */
function partialRun(): RunData {
  const spec = readSpec({
    dataset: { name: 'd' },
    basePolicyId: 'base',
    reward: { model: 'bleu' },
    growSteps: 1,
    improveSteps: 2,
    thresholdSchedule: { percentile: { percentiles: [50, 80] } },
    samplesPerSource: 2,
    seed: '1',
  });
  const samples = [0.1, 0.4, 0.3, 0.9, 0.5, 0.6].map((reward, n) => ({
    idx: n >> 1,
    k: n & 1,
    reward,
    logProb: -3,
  }));
  const at = new Date(0);
  return {
    run: {
      _id: 'r',
      version: 3,
      spec: {},
      state: 'improving',
      grow: 1,
      improve: 1,
      policyId: null,
      error: null,
      createdAt: at,
      updatedAt: at,
    },
    spec,
    rewardModel: 'bleu',
    normalization: 'clipped01',
    metrics: [],
    policies: [],
    grows: [
      {
        grow: 1,
        samples: [...samples, { idx: 3, k: 0, reward: undefined, logProb: -2 }],
        references: [],
        sources: 4,
        metrics: undefined,
        improves: [
          {
            grow: 1,
            improve: 1,
            shards: 1,
            thresholds: [50],
            kept: new Set(['0/1', '1/1', '2/1']),
            keptReferences: 0,
            keptRewards: [0.4, 0.9, 0.6],
            keptSources: 3,
            filter: { threshold: 50, num_examples: 3, skipped: 0 },
            train: undefined,
            eval: undefined,
          },
        ],
      },
    ],
  };
}

describe('report charts', () => {
  it('reportCharts: a run without validation points gets its histogram and kept bars only; they render', async () => {
    const charts = reportCharts(partialRun());
    assert.deepEqual(
      charts.map((c) => c.id),
      ['chart-grow-1-rewards', 'chart-kept'],
    );
    for (const c of charts) assert.match(await renderSvg(c.spec), /^<svg [^>]*width="\d+" height="\d+"/);
  });

  it('growHistogramChart: a per-source schedule draws the lowest kept reward, not p, as the rule', async () => {
    const [histogram] = reportCharts(partialRun());
    assert.match(histogram!.caption, /^6 scored samples of 4 sources, 20 bins; the schedule is per source/);
    const svg = await renderSvg(histogram!.spec);
    assert.ok(svg.includes('i1: lowest kept 0.400'), 'rule label');
    assert.ok(!svg.includes('τ1'), 'no τ label for a percentile');
  });
});
