import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '@rest/runtime';
import { kendallTauB, pearson } from './correlation.js';

const TOLERANCE = 1e-12;

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${what}: ${actual}, expected ${expected}`);
}

/** τ-b by its definition, one pair at a time: the O(n²) reference. */
function naiveTauB(x: readonly number[], y: readonly number[]): number {
  let concordant = 0;
  let discordant = 0;
  let xTies = 0;
  let yTies = 0;
  let n0 = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      n0++;
      const s = Math.sign(x[i]! - x[j]!) * Math.sign(y[i]! - y[j]!);
      if (x[i] === x[j]) xTies++;
      if (y[i] === y[j]) yTies++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt((n0 - xTies) * (n0 - yTies));
}

describe('correlation', () => {
  it('pearson: hand-computed values', () => {
    // dx = [-2,-1,0,1,2], dy = [-1,-2,1,0,2]: Σdxdy = 8, Σdx² = Σdy² = 10.
    close(pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8, 'r');
    // Σdxdy = 2, Σdx² = 2.75, Σdy² = 2.
    close(pearson([1, 1, 2, 3], [1, 2, 2, 3]), 2 / Math.sqrt(5.5), 'r with ties');
    close(pearson([1, 2, 3], [30, 20, 10]), -1, 'perfectly anti-correlated');
    // A large offset does not cancel the signal.
    close(pearson([1e9 + 1, 1e9 + 2, 1e9 + 3], [1, 2, 3]), 1, 'offset');
  });

  it('kendallTauB: hand-computed values, with ties in x, in y and in both', () => {
    // 10 pairs: discordant (1,2)·(2,1) and (3,4)·(4,3), 8 concordant.
    close(kendallTauB([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.6, 'no ties');
    // C = 4, D = 0, one pair tied in x, one in y: 4 / √(5 · 5).
    close(kendallTauB([1, 1, 2, 3], [1, 2, 2, 3]), 0.8, 'ties');
    // C = 2, D = 0, n1 = 2, n2 = 3, one pair tied in both: 2 / √(4 · 3).
    close(kendallTauB([1, 1, 2, 2], [1, 1, 2, 1]), 2 / Math.sqrt(12), 'joint ties');
    close(kendallTauB([3, 2, 1], [1, 2, 3]), -1, 'reversed');
  });

  it('kendallTauB: equals the O(n²) definition on random data with many ties', () => {
    const random = rng(11);
    for (const n of [2, 3, 17, 200, 1001]) {
      const x = Array.from({ length: n }, () => Math.floor(random() * 7));
      const y = x.map((v) => (random() < 0.3 ? Math.floor(random() * 5) : v + Math.floor(random() * 3)));
      if (new Set(x).size < 2 || new Set(y).size < 2) continue;
      close(kendallTauB(x, y), naiveTauB(x, y), `n = ${n}`);
    }
  });

  it('pearson, kendallTauB: NaN when one side is constant; RangeError for bad input', () => {
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
    assert.ok(Number.isNaN(kendallTauB([1, 2, 3], [5, 5, 5])));
    assert.throws(() => pearson([1, 2], [1]), RangeError);
    assert.throws(() => kendallTauB([1], [1]), RangeError);
    assert.throws(() => pearson([1, NaN], [1, 2]), /pair 1 is not finite/);
  });
});
