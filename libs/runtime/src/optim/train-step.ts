/**
 * Builds training-step graphs. `fused`: forward + loss + backward + clipping + update in one graph,
 * one `session.run` per step. For gradient accumulation, `grad` (forward + backward, adding into
 * accumulators `acc.<p>`) runs once per micro-batch and `apply` (scale, clip, update) once per step.
 *
 * I/O names: parameters `<p>`, optimizer slots `<slot>.<p>` (m, v / momentum), accumulators `acc.<p>`;
 * each updated value is output as `<input>.next`. Scalars: `step` (1-based), `hp.lr` (peak rate),
 * `hp.max_grad_norm`, the optimizer's `hp.*`, `hp.grad_scale` (apply only). Outputs `loss`, `lr`,
 * `grad_norm` and the forward's metrics as `metric.<name>`.
 */
import { Graph, type Tensor } from '../graph/graph.js';
import { gradients } from '../autodiff/gradients.js';
import { add, mul } from '../ops/arithmetic.js';
import type { ParamTable } from '../params/param-table.js';
import {
  adamw,
  clipByGlobalNorm,
  OPTIMIZER_HYPER,
  OPTIMIZER_SLOTS,
  sgd,
  type OptimizerKind,
} from './optimizers.js';
import { learningRate, type Schedule } from './schedules.js';

/** The model side of a step: given the graph and parameter tensors, declare batch inputs and return a loss. */
export type ForwardFn = (
  g: Graph,
  params: ReadonlyMap<string, Tensor>,
) => { loss: Tensor; metrics?: Readonly<Record<string, Tensor>> };

/** What to build. */
export interface TrainStepSpec {
  table: ParamTable;
  dtype: 'f32' | 'f64';
  forward: ForwardFn;
  optimizer: OptimizerKind;
  schedule: Schedule;
  /** Clip gradients by global norm (`hp.max_grad_norm`). @default true */
  clip?: boolean;
}

/** Which graph. */
export type StepMode = 'fused' | 'grad' | 'apply';

function scalarInput(g: Graph, name: string, dtype: 'f32' | 'f64'): Tensor {
  return g.input(name, dtype, []);
}

/**
 * Builds the step graph for `mode`. `seed` seeds its dropout masks (the graph's `randomSeed`): a
 * session of the same graph then draws the same masks step by step.
 */
export function buildTrainStep(spec: TrainStepSpec, mode: StepMode = 'fused', seed?: number): Graph {
  const g = new Graph(`train_step_${mode}`);
  g.randomSeed = seed;
  const { table, dtype } = spec;
  const params = table.inputs(g, dtype);
  const ordered = table.entries.map((e) => params.get(e.name)!);
  let grads: Tensor[];
  if (mode === 'apply') {
    const acc = table.inputs(g, dtype, 'acc.');
    const scale = scalarInput(g, 'hp.grad_scale', dtype);
    grads = table.entries.map((e) => mul(acc.get(e.name)!, scale));
  } else {
    const { loss, metrics = {} } = g.scope('forward', () => spec.forward(g, params));
    g.output(loss, 'loss');
    for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
    grads = gradients(loss, ordered);
    if (mode === 'grad') {
      const acc = table.inputs(g, dtype, 'acc.');
      table.entries.forEach((e, i) => g.output(add(acc.get(e.name)!, grads[i]!), `acc.${e.name}.next`));
      return g;
    }
  }
  const slots = OPTIMIZER_SLOTS[spec.optimizer];
  const state = slots.map((s) => table.inputs(g, dtype, `${s}.`));
  const t = scalarInput(g, 'step', dtype);
  const peak = scalarInput(g, 'hp.lr', dtype);
  const hp = new Map<string, Tensor>();
  for (const name of OPTIMIZER_HYPER[spec.optimizer]) hp.set(name, scalarInput(g, name, dtype));
  g.scope('update', () => {
    if (spec.clip ?? true) {
      const maxNorm = scalarInput(g, 'hp.max_grad_norm', dtype);
      const clipped = clipByGlobalNorm(grads, maxNorm);
      grads = clipped.grads;
      g.output(clipped.norm, 'grad_norm');
    }
    const lr = learningRate(spec.schedule, t, peak);
    g.output(lr, 'lr');
    const rule = spec.optimizer === 'adamw' ? adamw : sgd;
    table.entries.forEach((e, i) => {
      const out = g.scope(e.name, () =>
        rule(
          ordered[i]!,
          grads[i]!,
          state.map((s) => s.get(e.name)!),
          { lr, t, hp },
          e.decay,
        ),
      );
      g.output(out.param, `${e.name}.next`);
      out.state.forEach((s, k) => g.output(s, `${slots[k]}.${e.name}.next`));
    });
  });
  return g;
}
