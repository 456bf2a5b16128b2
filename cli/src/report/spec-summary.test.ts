import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readSpec } from './spec-summary.js';

const STORED = {
  displayName: 'demo',
  dataset: { name: 'multi30k' },
  basePolicyId: 'base',
  reward: { model: 'chrf', normalization: 'NORMALIZATION_CLIPPED_01' },
  growSteps: 2,
  improveSteps: 3,
  thresholdSchedule: { percentile: { percentiles: [50, 70, 90] } },
  samplesPerSource: 8,
  seed: '42',
};

describe('readSpec', () => {
  it('readSpec: resolves a stored spec with the coordinator defaults', () => {
    const facts = readSpec(STORED);
    assert.equal(facts.problem, undefined);
    assert.equal(facts.rewardModel, 'chrf');
    assert.equal(facts.normalization, 'clipped01');
    assert.deepEqual(facts.schedule, { kind: 'percentile', values: [50, 70, 90] });
    assert.deepEqual(facts.dataset, { name: 'multi30k', trainSplit: 'train' });
    const rows = new Map(facts.rows);
    assert.equal(rows.get('grow decoding'), 'sample, temperature 0.8, ≤ 128 tokens, 8 per source');
    assert.equal(rows.get('seed'), '42');
  });

  it('readSpec: a spec the parser rejects still yields what it holds, and the complaint', () => {
    const facts = readSpec({ ...STORED, growSteps: 0 });
    assert.equal(facts.resolved, undefined);
    assert.match(facts.problem ?? '', /run\.spec\.grow_steps/);
    assert.equal(facts.growSteps, undefined);
    assert.equal(facts.improveSteps, 3);
    assert.equal(facts.rewardModel, 'chrf');
    assert.deepEqual(facts.schedule, { kind: 'percentile', values: [50, 70, 90] });
    assert.equal(new Map(facts.rows).get('spec problem'), facts.problem);
  });
});
