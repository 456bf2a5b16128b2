import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@rest/service-kit';
import { checkImproveSpec, IMPROVE_DEFAULTS, learningRateAtStep, type ImproveSpec } from './spec.js';

const SPEC: ImproveSpec = {
  jobId: 'j',
  runId: 'r',
  grow: 1,
  improve: 1,
  objective: { name: 'bc', hyper: {}, sampling: 'uniform', pairSelection: 'best-worst', minRewardGap: 0.1 },
  optimizer: { ...IMPROVE_DEFAULTS, maxGradNorm: 1 },
  eval: { decoding: { strategy: 'greedy' }, maxSources: undefined },
  seed: 1,
};

test('checkImproveSpec: reports every problem with its field path', () => {
  checkImproveSpec(SPEC);
  const bad: ImproveSpec = {
    ...SPEC,
    objective: { ...SPEC.objective, name: 'alol', hyper: { clipEpsilon: 2, nope: 1 } },
    optimizer: { ...SPEC.optimizer, learningRate: 0, maxSteps: 0, dropout: 1 },
  };
  const err = (() => {
    try {
      checkImproveSpec(bad, 'w');
    } catch (e) {
      return e as InvalidArgumentError;
    }
    throw new Error('no error');
  })();
  assert.ok(err instanceof InvalidArgumentError);
  const fields = err.violations.map((v) => v.field).sort();
  assert.deepEqual(fields, [
    'w.objective.hyper.alol.clipEpsilon',
    'w.objective.hyper.alol.nope',
    'w.optimizer.dropout',
    'w.optimizer.learningRate',
    'w.optimizer.maxSteps',
  ]);
});

test('checkImproveSpec: bvmpo is supported, an unknown name is refused as unknown', () => {
  checkImproveSpec({ ...SPEC, objective: { ...SPEC.objective, name: 'bvmpo' } });
  assert.throws(
    () => checkImproveSpec({ ...SPEC, objective: { ...SPEC.objective, name: 'ppo' as never } }),
    /unknown objective "ppo"/,
  );
});

test('checkImproveSpec: a value head only for the A-LoL family, with a positive bound', () => {
  checkImproveSpec({
    ...SPEC,
    objective: { ...SPEC.objective, name: 'alol-seq', valueEstimate: 'head', valueMax: 2 },
  });
  assert.throws(
    () => checkImproveSpec({ ...SPEC, objective: { ...SPEC.objective, valueEstimate: 'head' } }),
    /spec\.objective\.valueEstimate: head: only the A-LoL family reads a value estimate, not bc/,
  );
  assert.throws(
    () => checkImproveSpec({ ...SPEC, objective: { ...SPEC.objective, valueEstimate: 'learned' as never } }),
    /spec\.objective\.valueEstimate: must be monte-carlo or head/,
  );
  assert.throws(
    () => checkImproveSpec({ ...SPEC, objective: { ...SPEC.objective, name: 'alol', valueMax: 0 } }),
    /spec\.objective\.valueMax: must be a finite number > 0/,
  );
});

test('learningRateAtStep: linear warm-up, then constant, inverse-sqrt or linear decay to 0 at the budget', () => {
  const o = { ...SPEC.optimizer, learningRate: 1, warmupSteps: 4, maxSteps: 12 };
  assert.deepEqual(
    [1, 2, 4].map((s) => learningRateAtStep(o, s)),
    [0.25, 0.5, 1],
  );
  assert.equal(learningRateAtStep({ ...o, schedule: 'constant' }, 9), 1);
  assert.equal(learningRateAtStep({ ...o, schedule: 'inverse-sqrt' }, 16), 0.5);
  assert.equal(learningRateAtStep({ ...o, schedule: 'linear' }, 5), 1);
  assert.equal(learningRateAtStep({ ...o, schedule: 'linear' }, 12), 1 / 8);
  assert.equal(learningRateAtStep({ ...o, schedule: 'constant', warmupSteps: 0 }, 1), 1);
});
