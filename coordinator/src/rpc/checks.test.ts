import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violations } from '@rest/service-kit';
import { interval, orDefault, positive, strictlyIncreasing, wireEnum } from './checks.js';

function lines(v: Violations): string[] {
  return v.violations.map((x) => `${x.field}: ${x.problem}`);
}

test('interval: honours open and closed ends and rejects NaN', () => {
  const v = new Violations();
  interval(v, 'a', 0, 0, 1, '[]');
  interval(v, 'b', 1, 0, 1, '(]');
  interval(v, 'c', 0, 0, 1, '(]');
  interval(v, 'd', 1, 0, 1, '[)');
  interval(v, 'e', Number.NaN, 0, 1, '[]');
  assert.deepEqual(lines(v), [
    'c: must be in (0, 1] (got 0)',
    'd: must be in [0, 1) (got 1)',
    'e: must be in [0, 1] (got NaN)',
  ]);
});

test('orDefault: reads 0 as the default and checks anything else', () => {
  const v = new Violations();
  assert.equal(
    orDefault(0, 0.8, (x) => positive(v, 't', x)),
    0.8,
  );
  assert.equal(
    orDefault(-1, 0.8, (x) => positive(v, 't', x)),
    -1,
  );
  assert.deepEqual(lines(v), ['t: must be > 0 (got -1)']);
});

test('wireEnum: maps known values, including one mapped to undefined, and rejects others', () => {
  const v = new Violations();
  const table = new Map<number, string | undefined>([
    [0, undefined],
    [1, 'one'],
  ]);
  const name = (x: number): string => (x === 0 ? 'UNSPECIFIED' : x === 1 ? 'ONE' : 'UNRECOGNIZED');
  assert.equal(wireEnum(v, 'e', 0, table, name), undefined);
  assert.equal(wireEnum(v, 'e', 1, table, name), 'one');
  wireEnum(v, 'e', 5, table, name);
  assert.deepEqual(lines(v), ['e: must be one of UNSPECIFIED, ONE (got 5)']);
});

test('strictlyIncreasing: names each entry that does not rise', () => {
  const v = new Violations();
  strictlyIncreasing(v, 'Spec.fixed.thresholds', [0.5, 0.5, 0.7, 0.6]);
  assert.deepEqual(lines(v), [
    'Spec.fixed.thresholds[1]: must be greater than thresholds[0] (0.5 <= 0.5)',
    'Spec.fixed.thresholds[3]: must be greater than thresholds[2] (0.6 <= 0.7)',
  ]);
});
