import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MetricsDoc } from '@rest/store';
import { validationTable } from './demo.js';

const at = new Date(0);
const point = (key: string, grow: number, improve: number, values: Record<string, number>): MetricsDoc => ({
  _id: `r/${key}`,
  run: 'r',
  key,
  grow,
  improve,
  values,
  at,
});

test('validationTable: base then each Improve step, changes against the base and the step before', () => {
  const { lines, rose } = validationTable([
    point('g0/i0/eval', 0, 0, { reward_mean: 0.3, bleu: 9, chrf: 28 }),
    point('g1/i1/filter', 1, 1, { threshold: 0.4, num_examples: 1500 }),
    point('g1/i1/eval', 1, 1, { reward_mean: 0.32, bleu: 10, chrf: 29 }),
    point('g1/i2/eval', 1, 2, { reward_mean: 0.33, bleu: 10.5, chrf: 29.5 }),
  ]);
  assert.equal(rose, true);
  assert.match(lines[0]!, /^policy +τ +kept +valid reward +Δ base +Δ prev +BLEU +chrF$/);
  assert.match(lines[2]!, /^base +0\.3000 +9\.00 +28\.00$/);
  assert.match(lines[3]!, /^g1\/i1 +0\.400 +1500 +0\.3200 +\+0\.0200 +\+0\.0200 +10\.00 +29\.00$/);
  assert.match(lines[4]!, /^g1\/i2 +— +— +0\.3300 +\+0\.0300 +\+0\.0100 +10\.50 +29\.50$/);
});

test('validationTable: a step that does not rise over the one before fails the verdict', () => {
  const { rose } = validationTable([
    point('g0/i0/eval', 0, 0, { reward_mean: 0.3 }),
    point('g1/i1/eval', 1, 1, { reward_mean: 0.35 }),
    point('g1/i2/eval', 1, 2, { reward_mean: 0.35 }),
  ]);
  assert.equal(rose, false);
  assert.equal(validationTable([point('g0/i0/eval', 0, 0, { reward_mean: 0.3 })]).rose, false);
  assert.equal(validationTable([]).rose, false);
});

test('validationTable: a step that stopped the Improve loop is listed against its parent and marked', () => {
  const { lines, rose, stopped } = validationTable([
    point('g0/i0/eval', 0, 0, { reward_mean: 0.3 }),
    point('g1/i1/train', 1, 1, { valid_reward_mean: 0.35, valid_reward_initial: 0.3 }),
    point('g1/i1/eval', 1, 1, { reward_mean: 0.35 }),
    point('g1/i2/filter', 1, 2, { threshold: 0.6, num_examples: 900 }),
    point('g1/i2/train', 1, 2, { valid_reward_mean: 0.34, valid_reward_initial: 0.35, valid_bleu: 11 }),
  ]);
  assert.deepEqual(stopped, ['g1/i2']);
  assert.equal(rose, true, 'every evaluated step rose');
  assert.match(lines[4]!, /^g1\/i2 stop +0\.600 +900 +0\.3400 +\+0\.0400 +-0\.0100 +11\.00 +—$/);
  // Evaluated anyway (continue_without_gain): an ordinary row, and the verdict fails.
  const kept = validationTable([
    point('g0/i0/eval', 0, 0, { reward_mean: 0.3 }),
    point('g1/i1/train', 1, 1, { valid_reward_mean: 0.29, valid_reward_initial: 0.3 }),
    point('g1/i1/eval', 1, 1, { reward_mean: 0.29 }),
  ]);
  assert.deepEqual([kept.stopped, kept.rose], [[], false]);
});
