import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPreferencePairs, type PairCandidate } from './pairs.js';

function c(key: string, text: string, reward: number, isReference = false): PairCandidate {
  return { key, text, reward, isReference };
}

test('buildPreferencePairs: best-worst collapses duplicate texts and breaks ties by key', () => {
  const pairs = buildPreferencePairs([
    { sourceId: 's1', candidates: [c('b', 'x', 0.9), c('a', 'x', 0.9), c('d', 'z', 0.4), c('c', 'y', 0.4)] },
  ]);
  assert.deepEqual(pairs, [{ sourceId: 's1', chosenKey: 'a', rejectedKey: 'd', rewardGap: 0.5 }]);
});

test('buildPreferencePairs: a source whose candidates all tie or share one text makes no pair', () => {
  const pairs = buildPreferencePairs([
    { sourceId: 'tie', candidates: [c('a', 'x', 0.5), c('b', 'y', 0.5)] },
    { sourceId: 'same', candidates: [c('a', 'x', 0.5), c('b', 'x', 0.5)] },
    { sourceId: 'one', candidates: [c('a', 'x', 0.5)] },
    { sourceId: 'none', candidates: [] },
  ]);
  assert.deepEqual(pairs, []);
});

test('buildPreferencePairs: min-gap keeps gaps >= delta, drops ties, and tolerates rounding', () => {
  const pairs = buildPreferencePairs(
    [
      {
        sourceId: 's',
        candidates: [c('k1', 'a', 0.3), c('k2', 'b', 0.2), c('k3', 'c', 0.25), c('k4', 'd', 0.2)],
      },
    ],
    { selection: 'min-gap', minRewardGap: 0.1 },
  );
  // 0.3 - 0.2 = 0.09999999999999998 counts as 0.1; 0.05 gaps and the k2/k4 tie make no pair
  assert.deepEqual(
    pairs.map((p) => [p.chosenKey, p.rejectedKey]),
    [
      ['k1', 'k2'],
      ['k1', 'k4'],
    ],
  );
});

test('buildPreferencePairs: a reference is y_w only when its reward is higher', () => {
  const candidates = [c('ref', 'human', 0.5, true), c('hi', 'good', 0.7), c('lo', 'bad', 0.3)];
  assert.deepEqual(
    buildPreferencePairs([{ sourceId: 's', candidates }], { selection: 'min-gap' }).map((p) => [
      p.chosenKey,
      p.rejectedKey,
    ]),
    [
      ['hi', 'ref'],
      ['hi', 'lo'],
      ['ref', 'lo'],
    ],
  );
  assert.deepEqual(
    buildPreferencePairs([{ sourceId: 's', candidates }]).map((p) => [p.chosenKey, p.rejectedKey]),
    [['hi', 'lo']],
  );
});

test('buildPreferencePairs: a sample equal to the reference text collapses into the reference', () => {
  const pairs = buildPreferencePairs([
    { sourceId: 's', candidates: [c('s1', 'same', 0.8), c('ref', 'same', 0.8, true), c('s2', 'other', 0.1)] },
  ]);
  assert.deepEqual(
    pairs.map((p) => p.chosenKey),
    ['ref'],
  );
});

test('buildPreferencePairs: output order does not depend on input order', () => {
  const a = { sourceId: 'a', candidates: [c('a1', 'x', 0.1), c('a2', 'y', 0.9)] };
  const b = { sourceId: 'b', candidates: [c('b2', 'y', 0.2), c('b1', 'x', 0.8)] };
  const forward = buildPreferencePairs([a, b]);
  assert.deepEqual(buildPreferencePairs([b, a]), forward);
  assert.deepEqual(
    forward.map((p) => p.sourceId),
    ['a', 'b'],
  );
});

test('buildPreferencePairs: throws RangeError for a non-positive delta', () => {
  assert.throws(() => buildPreferencePairs([], { selection: 'min-gap', minRewardGap: 0 }), RangeError);
});
