import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSpec } from '@rest/proto';
import { unreadKeys } from './run.js';

const parse = (value: unknown): unknown => runSpec.RunSpec.fromJSON(value);

describe('unreadKeys', () => {
  it('accepts both spellings, maps and oneof members', () => {
    const doc = {
      grow_steps: 1,
      improveSteps: 2,
      dataset: { name: 'd', max_train_sources: 5 },
      threshold_schedule: { fixed: { thresholds: [0.5, 0.6] }, minExamples: 3 },
      labels: { anything: 'goes', 'more keys': 'too' },
      objective: { dpo: { beta: 0.1 } },
      eval: { metrics: ['bleu'], decoding: { strategy: 'DECODING_STRATEGY_BEAM' } },
    };
    assert.deepEqual(unreadKeys(doc, parse), []);
  });

  it('names typos with their paths, second oneof members and doubled spellings', () => {
    const doc = {
      grow_step: 1,
      dataset: { name: 'd', trian_split: 'x' },
      threshold_schedule: { fixed: { thresholds: [0.5], tau: 1 }, percentile: { percentiles: [50] } },
      samples_per_source: 2,
      samplesPerSource: 3,
      eval: { decoding: { temprature: 0.8 } },
    };
    assert.deepEqual(unreadKeys(doc, parse).sort(), [
      'dataset.trian_split',
      'eval.decoding.temprature',
      'grow_step',
      'samples_per_source',
      'threshold_schedule.fixed.tau',
      'threshold_schedule.percentile',
    ]);
  });
});
