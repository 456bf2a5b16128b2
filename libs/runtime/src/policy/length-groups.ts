/**
 * Splits a batch of sources into encoder runs of similar lengths. The encoder's cost grows with
 * rows × padded length, so one run over sources of 5 and 40 tokens spends most of its time on padding;
 * every extra run costs a fixed overhead instead (onnxruntime's per-node dispatch, measured at about
 * as much as {@link RUN_OVERHEAD_TOKENS} tokens of compute for the d = 256 policy on CPU). Padding
 * never changes a real position's output (padded keys are masked), so the split is invisible to
 * decoding up to float rounding — the same kind of difference any other batch composition gives.
 */

/** A run's fixed cost, in padded tokens. */
export const RUN_OVERHEAD_TOKENS = 16;

/** Longest run considered (bounds the search to O(rows · MAX_GROUP_ROWS)). */
const MAX_GROUP_ROWS = 256;

/**
 * Groups row indices `0 .. lengths.length − 1` into runs minimising `Σ (overhead + rows · maxLength)`
 * over contiguous runs of the rows sorted by length. Returns the runs, each ascending by length.
 */
export function lengthGroups(lengths: readonly number[], overhead = RUN_OVERHEAD_TOKENS): number[][] {
  const n = lengths.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  // best[j]: cheapest cost of the first j sorted rows; cut[j]: where its last run starts.
  const best = new Float64Array(n + 1);
  const cut = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    const len = lengths[order[j - 1]!]!; // the longest of any run ending at j
    best[j] = Infinity;
    for (let i = Math.max(0, j - MAX_GROUP_ROWS); i < j; i++) {
      const cost = best[i]! + overhead + (j - i) * len;
      if (cost < best[j]!) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0;) {
    const i = cut[j]!;
    groups.unshift(order.slice(i, j));
    j = i;
  }
  return groups;
}
