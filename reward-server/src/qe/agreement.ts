/** How well a QE model's scores agree with the metric it predicts, over a set of examples. */
import { kendallTauB, pearson } from './correlation.js';
import type { Example } from './examples.js';

/** Agreement of predicted scores with targets (both in the metric's raw units). */
export interface Agreement {
  readonly pairs: number;
  /** NaN when either side is constant or there are fewer than 2 pairs. */
  readonly pearson: number;
  /** Kendall's τ-b; NaN as for `pearson`. */
  readonly kendallTauB: number;
  /** Root mean squared error. */
  readonly rmse: number;
  readonly meanScore: number;
  readonly meanTarget: number;
}

/** Agreement of `scores[i]` with `examples[i].target`. */
export function agreement(
  scores: ArrayLike<number>,
  examples: readonly Pick<Example, 'target'>[],
): Agreement {
  const targets = examples.map((e) => e.target);
  const n = targets.length;
  let squares = 0;
  let sumScore = 0;
  let sumTarget = 0;
  for (let i = 0; i < n; i++) {
    squares += (scores[i]! - targets[i]!) ** 2;
    sumScore += scores[i]!;
    sumTarget += targets[i]!;
  }
  const defined = n >= 2;
  return {
    pairs: n,
    pearson: defined ? pearson(scores, targets) : NaN,
    kendallTauB: defined ? kendallTauB(scores, targets) : NaN,
    rmse: Math.sqrt(squares / Math.max(1, n)),
    meanScore: sumScore / Math.max(1, n),
    meanTarget: sumTarget / Math.max(1, n),
  };
}

/** {@link agreement} per origin (reference, sample, each perturbation), in first-seen order. */
export function agreementByOrigin(
  scores: ArrayLike<number>,
  examples: readonly Pick<Example, 'target' | 'origin'>[],
): Record<string, Agreement> {
  const groups = new Map<string, { scores: number[]; examples: Pick<Example, 'target'>[] }>();
  examples.forEach((e, i) => {
    let g = groups.get(e.origin);
    if (g === undefined) groups.set(e.origin, (g = { scores: [], examples: [] }));
    g.scores.push(scores[i]!);
    g.examples.push(e);
  });
  return Object.fromEntries([...groups].map(([origin, g]) => [origin, agreement(g.scores, g.examples)]));
}
