import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterImproveStep, percentile, TAU_EPSILON, type SourceSamples } from './thresholds.js';
import type { ImproveStopRule, ThresholdSchedule } from '../run/spec.js';

const NO_STOP: ImproveStopRule = { minExamples: 1, minSourceCoverage: 0 };

function groups(spec: Record<string, number[]>): SourceSamples[] {
  return Object.entries(spec).map(([sourceId, rewards]) => ({
    sourceId,
    samples: rewards.map((reward, i) => ({ key: `${sourceId}${i}`, reward })),
  }));
}

const fixed = (thresholds: number[], meanGuard = true): ThresholdSchedule => ({
  kind: 'fixed',
  thresholds,
  meanGuard,
});

test('filterImproveStep: the mean guard raises tau_1 above the mean reward', () => {
  // mean R = (0.2 + 0.6 + 0.9 + 0.5 + 0.8) / 5 = 0.6 > tau_1 = 0.5
  const out = filterImproveStep(groups({ a: [0.2, 0.6, 0.9], b: [0.5, 0.8] }), {
    schedule: fixed([0.5, 0.85]),
    stop: NO_STOP,
    step: 1,
  });
  assert.equal(out.kind, 'kept');
  assert.deepEqual(out.keys, ['a2', 'b1']);
  assert.ok(Math.abs(out.stats.meanReward - 0.6) < 1e-12);
  assert.equal(out.stats.tau?.scheduled, 0.5);
  assert.equal(out.stats.tau?.raisedBy, 'mean-guard');
  assert.ok(Math.abs((out.stats.tau?.used ?? 0) - (0.6 + TAU_EPSILON)) < 1e-12);
  assert.equal(out.stats.sourcesCovered, 2);
  assert.equal(out.stats.keptFraction, 2 / 5);
});

test('filterImproveStep: a disabled guard keeps tau_1 and the filter stays strict', () => {
  const out = filterImproveStep(groups({ a: [0.2, 0.6, 0.9], b: [0.5, 0.8] }), {
    schedule: fixed([0.5, 0.85], false),
    stop: NO_STOP,
    step: 1,
  });
  assert.equal(out.stats.tau?.used, 0.5);
  assert.equal(out.stats.tau?.raisedBy, undefined);
  // b0 has R = 0.5 exactly: not kept (R > tau, ALGORITHMS.md §2.1)
  assert.deepEqual(out.keys, ['a1', 'a2', 'b1']);
});

test('filterImproveStep: a reward exactly at tau_i is dropped at a later step', () => {
  const out = filterImproveStep(groups({ a: [0.7, 0.7000001, 0.95] }), {
    schedule: fixed([0.5, 0.7]),
    stop: NO_STOP,
    step: 2,
    previousTau: 0.5,
  });
  assert.equal(out.stats.tau?.used, 0.7);
  assert.deepEqual(out.keys, ['a1', 'a2']);
});

test('filterImproveStep: a tau that does not rise over the previous step is raised', () => {
  const out = filterImproveStep(groups({ a: [0.6, 0.65, 0.66] }), {
    schedule: fixed([0.5, 0.6]),
    stop: NO_STOP,
    step: 2,
    previousTau: 0.65,
  });
  assert.equal(out.stats.tau?.raisedBy, 'monotone');
  assert.equal(out.stats.tau?.used, 0.65 + TAU_EPSILON);
  assert.deepEqual(out.keys, ['a2']);
});

test('filterImproveStep: percentile keeps ties at the cut and skips single-candidate sources', () => {
  // a: p50 of [0.2, 0.5, 0.5, 0.9] = 0.5 -> three kept; b: one candidate, skipped;
  // c: p50 of [0.1, 0.3] = 0.2 -> 0.3 kept
  const out = filterImproveStep(groups({ a: [0.5, 0.2, 0.9, 0.5], b: [0.4], c: [0.1, 0.3] }), {
    schedule: { kind: 'percentile', percentiles: [50, 90] },
    stop: NO_STOP,
    step: 1,
  });
  assert.deepEqual(out.keys, ['a0', 'a2', 'a3', 'c1']);
  assert.equal(out.stats.tau, undefined);
  const summary = out.stats.perSourceTau;
  assert.ok(summary !== undefined);
  assert.equal(summary.sourcesSkipped, 1);
  assert.ok(Math.abs(summary.min - 0.2) < 1e-12);
  assert.equal(summary.max, 0.5);
  assert.ok(Math.abs(summary.mean - 0.35) < 1e-12);
  assert.equal(out.stats.sourcesCovered, 2);
  assert.equal(out.stats.sourcesTotal, 3);
});

test('filterImproveStep: interpolation with gamma 0.5 cuts halfway between mean and max', () => {
  // a: mean 0.5, max 0.9 -> tau 0.7; b: mean 0.7, max 0.8 -> tau 0.75
  const out = filterImproveStep(groups({ a: [0.2, 0.4, 0.9], b: [0.6, 0.8] }), {
    schedule: { kind: 'interpolation', gammas: [0.5] },
    stop: NO_STOP,
    step: 1,
  });
  assert.deepEqual(out.keys, ['a2', 'b1']);
  assert.ok(Math.abs((out.stats.perSourceTau?.max ?? 0) - 0.75) < 1e-12);
});

test('filterImproveStep: too few examples ends the Improve loop with the default rule', () => {
  const out = filterImproveStep(groups({ a: [0.2, 0.9], b: [0.1, 0.95] }), {
    schedule: fixed([0.5]),
    stop: { minExamples: 1000, minSourceCoverage: 0.01 },
    step: 1,
  });
  assert.equal(out.kind, 'too-few');
  assert.deepEqual(out.kind === 'too-few' ? out.reasons : [], ['min-examples']);
  assert.deepEqual(out.keys, ['a1', 'b1']);
});

test('filterImproveStep: too little source coverage ends the Improve loop', () => {
  const out = filterImproveStep(groups({ a: [0.2, 0.9], b: [0.1, 0.3] }), {
    schedule: fixed([0.5], false),
    stop: { minExamples: 1, minSourceCoverage: 0.6 },
    step: 1,
  });
  assert.equal(out.kind, 'too-few');
  assert.deepEqual(out.kind === 'too-few' ? out.reasons : [], ['min-source-coverage']);
  assert.equal(out.stats.sourceCoverage, 0.5);
});

test('filterImproveStep: an empty D_g is too few on both counts', () => {
  const out = filterImproveStep([], { schedule: fixed([0.5]), stop: NO_STOP, step: 1 });
  assert.equal(out.kind, 'too-few');
  assert.deepEqual(out.kind === 'too-few' ? out.reasons : [], ['min-examples', 'min-source-coverage']);
  assert.equal(out.stats.keptFraction, 0);
});

test('filterImproveStep: throws RangeError for a step past the schedule', () => {
  assert.throws(
    () => filterImproveStep(groups({ a: [0.1] }), { schedule: fixed([0.5]), stop: NO_STOP, step: 2 }),
    RangeError,
  );
});

test('filterImproveStep: throws RangeError for a non-finite reward', () => {
  assert.throws(
    () =>
      filterImproveStep(groups({ a: [Number.NaN, 0.1] }), { schedule: fixed([0.5]), stop: NO_STOP, step: 1 }),
    RangeError,
  );
});

test('percentile: interpolates linearly between order statistics', () => {
  assert.equal(percentile([4, 1, 3, 2], 25), 1.75);
  assert.equal(percentile([4, 1, 3, 2], 100), 4);
  assert.equal(percentile([7], 90), 7);
});
