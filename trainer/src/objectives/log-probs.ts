/**
 * Per-token log-probabilities from a policy's logits, and the float64 reductions every objective
 * shares (docs/ALGORITHMS.md §4: gather target log-probs from a log-softmax, never log a softmax; sum
 * `m_t ℓ_t` in float64, since a 128-token `S` is easily −300 and differences of such sums lose digits
 * in float32).
 *
 * Dims: B batch, T target positions, V vocabulary, N = B·T rows of flattened logits.
 */
import {
  cast,
  gatherElements,
  logSoftmax,
  mul,
  reduceMean,
  reduceSum,
  reshape,
  squeeze,
  unsqueeze,
  div,
  ShapeError,
  type Tensor,
} from '@rest/runtime';
import { reshapeAs } from './reshape-as.js';

function checkLabels(op: string, logits: Tensor, labels: Tensor): void {
  if (labels.dtype !== 'i64' || labels.rank !== 2)
    throw new ShapeError(op, `labels must be [B, T] i64, got ${labels.dtype} [${labels.dims.join(', ')}]`);
  if (logits.rank === 3) {
    const [b, t] = logits.dims;
    const mismatch = [b, t].some((d, i) => {
      const l = labels.dims[i];
      return typeof d === 'number' && typeof l === 'number' ? d !== l : false;
    });
    if (mismatch)
      throw new ShapeError(
        op,
        `logits [${logits.dims.join(', ')}] do not fit labels [${labels.dims.join(', ')}]`,
      );
  } else if (logits.rank !== 2) {
    throw new ShapeError(op, `logits must be [N, V] or [B, T, V], got [${logits.dims.join(', ')}]`);
  }
}

/** Log-softmax over V, in the layout of `logits`: `[N, V]` or `[B, T, V]`. */
function logProbs(op: string, logits: Tensor, labels: Tensor): Tensor {
  checkLabels(op, logits, labels);
  return logSoftmax(logits, -1);
}

function gatherTargets(lp: Tensor, labels: Tensor): Tensor {
  if (lp.rank === 3) return squeeze(gatherElements(lp, unsqueeze(labels, [2]), 2), [2]); // [B, T]
  return reshapeAs(gatherElements(lp, reshape(labels, [-1, 1]), 1), labels); // [N, 1] → [B, T]
}

/**
 * `ℓ_t = log π(y_t | x, y_<t)`: logits `[N, V]` (N = B·T, rows in label order) or `[B, T, V]`, labels
 * `[B, T]` i64 → `[B, T]` in the logits' dtype. Padding labels must still be valid vocabulary ids (the
 * objectives' mask removes them). Throws ShapeError when ranks or static sizes do not fit.
 */
export function tokenLogProbs(logits: Tensor, labels: Tensor): Tensor {
  return gatherTargets(logProbs('tokenLogProbs', logits, labels), labels);
}

/**
 * {@link tokenLogProbs} plus `mean_logp = (1/|V|) Σ_v log π(v | ·)` `[B, T]`, the label-smoothing term,
 * from one LogSoftmax.
 */
export function tokenLogProbsWithMean(
  logits: Tensor,
  labels: Tensor,
): { tokenLogp: Tensor; meanLogp: Tensor } {
  const lp = logProbs('tokenLogProbsWithMean', logits, labels);
  const mean = reduceMean(lp, [-1]); // [B, T] or [N]
  return {
    tokenLogp: gatherTargets(lp, labels),
    meanLogp: lp.rank === 3 ? mean : reshapeAs(mean, labels),
  };
}

/** `x` as float64 (a no-op when it already is); gradients flow back through the Cast. */
export function f64(x: Tensor): Tensor {
  return cast(x, 'f64');
}

/** `Σ_t m_t x_t`: `[B, T]` → `[B]` f64. */
export function maskedRowSum(x: Tensor, mask: Tensor): Tensor {
  return reduceSum(mul(f64(x), f64(mask)), [1]);
}

/** `S = Σ_t m_t ℓ_t`, the sequence log-likelihood: `[B, T]` → `[B]` f64. */
export function sequenceLogProb(tokenLogp: Tensor, mask: Tensor): Tensor {
  return maskedRowSum(tokenLogp, mask);
}

/** The batch loss of per-example losses: mean over B, `[B]` → `[]` (ALGORITHMS.md §1). */
export function exampleMean(perExample: Tensor): Tensor {
  return reduceMean(perExample, [0]);
}

/** `Σ m x / Σ m` over all tokens: `[B, T]` → `[]` f64 (a per-token diagnostic). */
export function maskedTokenMean(x: Tensor, mask: Tensor): Tensor {
  return div(reduceSum(mul(f64(x), f64(mask)), [0, 1]), reduceSum(f64(mask), [0, 1]));
}
