import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@rest/service-kit';
import { monteCarloBaseline, monteCarloValues } from './mc-baseline.js';

const examples = [
  { sourceId: 'a', reward: 0.2, sampled: true },
  { sourceId: 'b', reward: 0.9, sampled: true },
  { sourceId: 'a', reward: 0.6, sampled: true },
  { sourceId: 'a', reward: 1.0, sampled: false }, // the human reference: valued, not averaged in
  { sourceId: 'a', reward: 0.7, sampled: true },
];

test('monteCarloValues: mean reward of the sampled examples of each source', () => {
  const v = monteCarloValues(examples);
  assert.equal(v.size, 2);
  assert.ok(Math.abs(v.get('a')! - 0.5) < 1e-15);
  assert.equal(v.get('b'), 0.9);
});

test('monteCarloBaseline: each example gets its source value, references included', () => {
  const got = Array.from(monteCarloBaseline(examples));
  const want = [0.5, 0.9, 0.5, 0.5, 0.5];
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-15, `example ${i}: ${g}`));
});

test('monteCarloBaseline: a source without samples and a non-finite reward are named', () => {
  assert.throws(
    () => monteCarloBaseline([{ sourceId: 'c', reward: 0.3, sampled: false }]),
    (e: unknown) => e instanceof InvalidArgumentError && e.message.startsWith('examples[0].sourceId:'),
  );
  assert.throws(
    () => monteCarloValues([...examples, { sourceId: 'b', reward: Number.NaN, sampled: true }]),
    (e: unknown) => e instanceof InvalidArgumentError && e.message.startsWith('examples[5].reward:'),
  );
});
