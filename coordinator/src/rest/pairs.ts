/**
 * DPO preference pairs (y_w, y_l) from a source's scored Grow samples (docs/ALGORITHMS.md §3.6):
 * per source either the (highest-R, lowest-R) pair or every pair whose reward gap is ≥ δ.
 *
 * - Identical texts are one candidate: a source's duplicates are collapsed first (the copy with
 *   the higher R survives, then a reference, then the smaller key), so y_w == y_l never happens.
 * - Ties (equal R) never make a pair.
 * - A human reference is ranked by its R like any sample: it is y_w only when its R is higher
 *   than the other candidate's (it is not preferred just for being human), y_l when lower.
 * - Order is deterministic: sources by id (code-unit order), then pairs by the rank of y_w and then
 *   of y_l, where rank sorts by R descending, then key ascending. Input order does not matter.
 */

/** A scored candidate of one source. */
export interface PairCandidate {
  /** Unique key of the sample in the store. */
  readonly key: string;
  /** The candidate translation; equal texts are the same candidate. */
  readonly text: string;
  /** R(x, y) on the run's reward scale. */
  readonly reward: number;
  /** True for the human reference y*. */
  readonly isReference: boolean;
}

/** A source and its scored candidates. */
export interface PairSource {
  readonly sourceId: string;
  readonly candidates: readonly PairCandidate[];
}

/** One DPO training pair. */
export interface PreferencePair {
  readonly sourceId: string;
  /** Key of y_w. */
  readonly chosenKey: string;
  /** Key of y_l. */
  readonly rejectedKey: string;
  /** R(y_w) − R(y_l), > 0. */
  readonly rewardGap: number;
}

/** How pairs are chosen (DpoSpec.pairSelection and minRewardGap). */
export interface PairOptions {
  /** @default 'best-worst' */
  readonly selection?: 'best-worst' | 'min-gap';
  /** δ of `min-gap`, > 0, on the run's reward scale. @default 0.1 */
  readonly minRewardGap?: number;
}

/** Default δ of `min-gap` pairs (ALGORITHMS.md §3.6). */
export const DEFAULT_MIN_REWARD_GAP = 0.1;

// Reward gaps are differences of doubles: 0.3 − 0.2 is 0.09999999999999998, which must still
// count as a gap of 0.1.
const GAP_SLACK = 1e-12;

/**
 * Builds DPO pairs; see the module comment for the rules.
 * @throws RangeError when `minRewardGap` is not > 0 or a reward is not finite
 */
export function buildPreferencePairs(
  sources: readonly PairSource[],
  options: PairOptions = {},
): PreferencePair[] {
  const selection = options.selection ?? 'best-worst';
  const minGap = options.minRewardGap ?? DEFAULT_MIN_REWARD_GAP;
  if (!(minGap > 0) || !Number.isFinite(minGap))
    throw new RangeError(`minRewardGap must be > 0 (got ${minGap})`);

  const ordered = [...sources].sort((a, b) => compareStrings(a.sourceId, b.sourceId));
  const pairs: PreferencePair[] = [];
  for (const source of ordered) {
    const ranked = rank(dedupe(source.candidates));
    if (selection === 'best-worst') {
      const best = ranked[0];
      const worst = ranked[ranked.length - 1];
      if (best !== undefined && worst !== undefined && best.reward > worst.reward) {
        pairs.push(pair(source.sourceId, best, worst));
      }
      continue;
    }
    for (let w = 0; w < ranked.length; w++) {
      const winner = ranked[w] as PairCandidate;
      for (let l = w + 1; l < ranked.length; l++) {
        const loser = ranked[l] as PairCandidate;
        const gap = winner.reward - loser.reward;
        if (gap > 0 && gap >= minGap - GAP_SLACK) pairs.push(pair(source.sourceId, winner, loser));
      }
    }
  }
  return pairs;
}

function pair(sourceId: string, winner: PairCandidate, loser: PairCandidate): PreferencePair {
  return { sourceId, chosenKey: winner.key, rejectedKey: loser.key, rewardGap: winner.reward - loser.reward };
}

/** One candidate per distinct text: higher R, then the reference, then the smaller key. */
function dedupe(candidates: readonly PairCandidate[]): PairCandidate[] {
  const byText = new Map<string, PairCandidate>();
  for (const c of candidates) {
    if (!Number.isFinite(c.reward))
      throw new RangeError(`reward of sample ${c.key} is not finite (${c.reward})`);
    const kept = byText.get(c.text);
    if (kept === undefined || better(c, kept)) byText.set(c.text, c);
  }
  return [...byText.values()];
}

function better(a: PairCandidate, b: PairCandidate): boolean {
  if (a.reward !== b.reward) return a.reward > b.reward;
  if (a.isReference !== b.isReference) return a.isReference;
  return compareStrings(a.key, b.key) < 0;
}

/** R descending, then key ascending. */
function rank(candidates: PairCandidate[]): PairCandidate[] {
  return candidates.sort((a, b) => b.reward - a.reward || compareStrings(a.key, b.key));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
