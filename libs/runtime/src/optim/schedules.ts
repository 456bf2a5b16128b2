/**
 * Learning-rate schedules computed inside the step graph from the step number `t` (1-based, the step
 * being taken) and the peak rate: constant; linear warmup then inverse square root (peak at
 * `warmupSteps`); linear warmup then cosine decay to `minRatio · peak` at `totalSteps`.
 */
import type { Tensor } from '../graph/graph.js';
import { div, mul, sub, add } from '../ops/arithmetic.js';
import { sqrt } from '../ops/activations.js';
import { clip, less, min, where } from '../ops/select.js';

/** A schedule. */
export type Schedule =
  | { kind: 'constant' }
  | { kind: 'inverse-sqrt'; warmupSteps: number }
  | { kind: 'cosine'; warmupSteps: number; totalSteps: number; minRatio?: number };

/** Thrown for schedules with impossible settings. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** The learning rate at step `t` ([] float) for peak rate `lr` ([] float). Throws ScheduleError. */
export function learningRate(schedule: Schedule, t: Tensor, lr: Tensor): Tensor {
  const g = t.graph;
  switch (schedule.kind) {
    case 'constant':
      return lr;
    case 'inverse-sqrt': {
      const w = schedule.warmupSteps;
      if (!(w >= 1)) throw new ScheduleError(`inverse-sqrt needs warmupSteps >= 1, got ${w}`);
      return mul(lr, min(div(t, w), sqrt(div(w, t))));
    }
    case 'cosine': {
      const { warmupSteps: w, totalSteps: T, minRatio = 0 } = schedule;
      if (!(T > w && w >= 0))
        throw new ScheduleError(`cosine needs totalSteps > warmupSteps >= 0, got ${T}, ${w}`);
      const progress = clip(div(sub(t, w), T - w), 0, 1);
      const cos = g.emit({
        opType: 'Cos',
        inputs: [mul(progress, Math.PI)],
        outputs: [{ dtype: t.dtype, dims: [] }],
      })[0]!;
      const decayed = mul(lr, add(mul(add(cos, 1), 0.5 * (1 - minRatio)), minRatio));
      return w === 0 ? decayed : where(less(t, w), mul(lr, div(t, w)), decayed);
    }
  }
}

/** The same schedule in plain float64 TypeScript (references for tests, logging). */
export function learningRateAt(schedule: Schedule, t: number, lr: number): number {
  switch (schedule.kind) {
    case 'constant':
      return lr;
    case 'inverse-sqrt':
      return lr * Math.min(t / schedule.warmupSteps, Math.sqrt(schedule.warmupSteps / t));
    case 'cosine': {
      const { warmupSteps: w, totalSteps: T, minRatio = 0 } = schedule;
      if (t < w) return (lr * t) / w;
      const p = Math.min(Math.max((t - w) / (T - w), 0), 1);
      return lr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
    }
  }
}
