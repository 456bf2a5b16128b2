/**
 * The last step of every objective: the f64 loss and metrics are cast back to the policy's dtype, so a
 * float32 training graph gets a float32 loss while the sums inside stay float64 (ALGORITHMS.md §4).
 */
import { cast, type Tensor } from '@rest/runtime';
import type { ObjectiveOutput } from './objective.js';

/** `loss` and `metrics` (all `[]`) in the dtype of `like`. */
export function castOut(like: Tensor, loss: Tensor, metrics: Record<string, Tensor>): ObjectiveOutput {
  const dtype = like.dtype;
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(metrics)) out[k] = cast(v, dtype);
  return { loss: cast(loss, dtype), metrics: out };
}
