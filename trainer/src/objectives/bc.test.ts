import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@rest/service-kit';
import { parseObjectiveHyper } from './registry.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  t64,
  weightedNllGradient,
} from './test-support.js';

// B = 2 examples, T = 3 positions; the second example has 2 real tokens.
const lp = t64([2, 3], [-0.5, -1.25, -2, -0.25, -0.75, -9]);
const mean = t64([2, 3], [-3, -3.5, -4, -2.5, -3.25, -7]);
const mask = maskOf([3, 2], 3);

test('bc: value is the mean over examples of the summed (label-smoothed) token NLL', async () => {
  const plain = await runObjective('bc', { labelSmoothing: 0 }, { token_logp: lp, mask });
  // (0.5 + 1.25 + 2) and (0.25 + 0.75): the padded −9 is masked out.
  assert.equal(plain.loss, (3.75 + 1) / 2);
  assert.equal(plain.metrics.nll, (3.75 + 1) / 2);
  const smoothed = await runObjective('bc', {}, { token_logp: lp, mask, mean_logp: mean });
  const e = 0.1; // the default
  const want = ((1 - e) * 3.75 + e * (3 + 3.5 + 4) + ((1 - e) * 1 + e * (2.5 + 3.25))) / 2;
  assertClose('loss', [smoothed.loss], [want]);
});

test('bc: gradient equals the weighted-NLL gradient with weights (1 − ε)·m/B and ε·m/B', async () => {
  const e = 0.2;
  const run = await runObjective('bc', { labelSmoothing: e }, { token_logp: lp, mask, mean_logp: mean }, [
    'token_logp',
    'mean_logp',
  ]);
  const m = Array.from(mask.data);
  assertClose(
    'd token_logp',
    run.grads.token_logp!,
    await weightedNllGradient(
      lp,
      m.map((v) => ((1 - e) * v) / 2),
    ),
  );
  assertClose(
    'd mean_logp',
    run.grads.mean_logp!,
    await weightedNllGradient(
      mean,
      m.map((v) => (e * v) / 2),
    ),
  );
});

test('bc gradient: finite differences', async () => {
  await finiteDifferenceCheck('bc', { labelSmoothing: 0.1 }, { token_logp: lp, mask, mean_logp: mean }, [
    'token_logp',
    'mean_logp',
  ]);
});

test('parseObjectiveHyper: bc defaults, and a bad or unknown field is named', () => {
  assert.deepEqual(parseObjectiveHyper('bc'), { labelSmoothing: 0.1 });
  assert.throws(
    () => parseObjectiveHyper('bc', { labelSmoothing: 1 }),
    (e: unknown) => e instanceof InvalidArgumentError && /^bc\.labelSmoothing: /.test(e.message),
  );
  assert.throws(
    () => parseObjectiveHyper('bc', { labelSmoothin: 0.1 }),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === 'bc.labelSmoothin: unknown field',
  );
});
