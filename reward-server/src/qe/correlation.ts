/**
 * Agreement between a learned reward and the metric it predicts: Pearson's r and Kendall's τ-b, as
 * scipy.stats computes them (`pearsonr`, `kendalltau` with its default `variant='b'`).
 *
 * τ-b counts pairs: with `C` concordant and `D` discordant pairs, `n0 = n(n−1)/2`, `n1` the pairs tied
 * in x, `n2` the pairs tied in y, `τ_b = (C − D) / √((n0 − n1)(n0 − n2))`. It is computed in
 * O(n log n) (Knight 1966): sort by (x, y); then `C − D = n0 − n1 − n2 + n3 − 2·D`, where `n3` counts the
 * pairs tied in both and `D` is the number of inversions of y in that order, counted by a merge sort.
 * Metric scores tie a lot (chrF 100 for every reference, 0 for empty candidates), which is why the
 * tie-corrected variant is the one reported.
 */

/**
 * Pearson's correlation coefficient of `x` and `y` (f64, two-pass, so large offsets do not cancel).
 * Returns NaN when either has zero variance (the coefficient is undefined, as in scipy).
 * @throws RangeError when the lengths differ, there are fewer than 2 values, or a value is not finite
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPaired(x, y);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Kendall's τ-b of `x` and `y` (see the module comment). Returns NaN when all of `x` or all of `y` are
 * tied.
 * @throws RangeError when the lengths differ, there are fewer than 2 values, or a value is not finite
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPaired(x, y);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]!);
  const xs = Float64Array.from(order, (i) => x[i]!);
  const ys = Float64Array.from(order, (i) => y[i]!);
  const n0 = (n * (n - 1)) / 2;
  const n1 = tiedPairs(xs);
  let n3 = 0;
  for (let start = 0, i = 1; i <= n; i++) {
    if (i === n || xs[i] !== xs[start] || ys[i] !== ys[start]) {
      const t = i - start;
      n3 += (t * (t - 1)) / 2;
      start = i;
    }
  }
  const discordant = countInversions(ys); // also sorts ys
  const n2 = tiedPairs(ys);
  if (n0 === n1 || n0 === n2) return NaN;
  const tau = (n0 - n1 - n2 + n3 - 2 * discordant) / Math.sqrt((n0 - n1) * (n0 - n2));
  return Math.max(-1, Math.min(1, tau));
}

function checkPaired(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`x has ${x.length} values, y ${y.length}`);
  if (x.length < 2) throw new RangeError(`need at least 2 pairs, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]))
      throw new RangeError(`pair ${i} is not finite: (${x[i]}, ${y[i]})`);
  }
  return x.length;
}

/** Pairs of equal values in a sorted array: Σ t(t−1)/2 over runs of length t. */
function tiedPairs(sorted: Float64Array): number {
  let pairs = 0;
  for (let start = 0, i = 1; i <= sorted.length; i++) {
    if (i === sorted.length || sorted[i] !== sorted[start]) {
      const t = i - start;
      pairs += (t * (t - 1)) / 2;
      start = i;
    }
  }
  return pairs;
}

/** Pairs i < j with a[i] > a[j] (strictly), by a bottom-up merge sort that sorts `a` in place. */
function countInversions(a: Float64Array): number {
  let inversions = 0;
  let src: Float64Array = a;
  let dst: Float64Array = new Float64Array(a.length);
  for (let width = 1; width < a.length; width *= 2) {
    for (let lo = 0; lo < a.length; lo += 2 * width) {
      const mid = Math.min(lo + width, a.length);
      const hi = Math.min(lo + 2 * width, a.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (src[j]! < src[i]!) {
          inversions += mid - i; // src[j] is below every value left in the left run
          dst[k++] = src[j++]!;
        } else dst[k++] = src[i++]!;
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
    }
    [src, dst] = [dst, src];
  }
  if (src !== a) a.set(src);
  return inversions;
}
