/**
 * Runs training steps. Parameters and each optimizer slot live in two flat buffers (the table's
 * layout) that swap roles every step: the step graph reads one and writes its `.next` outputs straight
 * into the other through pre-bound output tensors, so no parameter-sized array is allocated per step.
 * With `microBatches > 1` a `grad` graph accumulates into swapping accumulator buffers and an `apply`
 * graph updates once; the step's gradient is the mean of the micro-batch gradients.
 */
import type { FlatBuffer } from '../params/param-table.js';
import { Session, type HostTensor, type SessionOptions } from '../session/session.js';
import { OPTIMIZER_SLOTS } from './optimizers.js';
import { buildTrainStep, type TrainStepSpec } from './train-step.js';

/** Optimizer hyperparameters (fed as graph inputs each step). */
export interface Hyper {
  /** Peak learning rate. */
  lr: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  eps?: number;
  /** @default 0.01 */
  weightDecay?: number;
  /** SGD momentum. @default 0.9 */
  momentum?: number;
  /** @default 1 */
  maxGradNorm?: number;
}

/** Trainer settings. */
export interface TrainerOptions extends SessionOptions {
  /** @default 1 */
  microBatches?: number;
  /**
   * Seed of the parameters' initializers and of the dropout masks: two trainers built alike with the
   * same seed take the same steps. A trainer resumed from a checkpoint draws its masks afresh from the
   * seed (onnxruntime's generators start over in a new session). @default 1
   */
  seed?: number;
}

/** What one step reports. */
export interface StepResult {
  step: number;
  /** Loss (mean over micro-batches). */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping (NaN when clipping is off). */
  gradNorm: number;
  metrics: Record<string, number>;
}

/** A snapshot of the trainer (views into live buffers; copy before the next step if kept). */
export interface TrainState {
  step: number;
  params: FlatBuffer;
  slots: Record<string, FlatBuffer>;
}

/** Thrown when a batch or state does not fit the trainer. */
export class TrainerError extends Error {
  override name = 'TrainerError';
}

type Pair = [FlatBuffer, FlatBuffer];

/** Owns the sessions and the swapping buffers of one training run. */
export class Trainer {
  /** Steps taken so far. */
  step = 0;
  private parity = 0;
  private readonly params: Pair;
  private readonly slots: Map<string, Pair>;
  private readonly acc: Pair | undefined;
  private readonly bound: { feeds: Record<string, HostTensor>; into: Record<string, HostTensor> }[];

  private constructor(
    readonly spec: TrainStepSpec,
    readonly hyper: Hyper,
    private readonly main: Session,
    private readonly gradSession: Session | undefined,
    readonly microBatches: number,
    seed: number,
  ) {
    const table = spec.table;
    const alloc = (): FlatBuffer =>
      spec.dtype === 'f64' ? new Float64Array(table.size) : new Float32Array(table.size);
    this.params = [table.initialize(alloc(), seed), alloc()];
    this.slots = new Map(OPTIMIZER_SLOTS[spec.optimizer].map((s) => [s, [alloc(), alloc()] as Pair]));
    this.acc = microBatches > 1 ? [alloc(), alloc()] : undefined;
    this.bound = [0, 1].map((p) => {
      const feeds: Record<string, HostTensor> = {};
      const into: Record<string, HostTensor> = {};
      const bind = (prefix: string, pair: Pair): void => {
        const src = table.views(pair[p]!);
        const dst = table.views(pair[1 - p]!);
        for (const e of table.entries) {
          feeds[`${prefix}${e.name}`] = { dtype: spec.dtype, dims: e.shape, data: src.get(e.name)! };
          into[`${prefix}${e.name}.next`] = { dtype: spec.dtype, dims: e.shape, data: dst.get(e.name)! };
        }
      };
      bind('', this.params);
      for (const [s, pair] of this.slots) bind(`${s}.`, pair);
      return { feeds, into };
    });
  }

  /** Builds the graphs and sessions. Throws TrainerError for microBatches < 1. */
  static async create(spec: TrainStepSpec, hyper: Hyper, opts: TrainerOptions = {}): Promise<Trainer> {
    const micro = opts.microBatches ?? 1;
    if (!Number.isInteger(micro) || micro < 1)
      throw new TrainerError(`microBatches must be a positive integer, got ${micro}`);
    const seed = opts.seed ?? 1;
    const main = await Session.create(buildTrainStep(spec, micro > 1 ? 'apply' : 'fused', seed), opts);
    const grad = micro > 1 ? await Session.create(buildTrainStep(spec, 'grad', seed), opts) : undefined;
    return new Trainer(spec, hyper, main, grad, micro, seed);
  }

  /** The current parameters (flat, table layout; a live view). */
  get parameters(): FlatBuffer {
    return this.params[this.parity]!;
  }

  private scalar(v: number): HostTensor {
    return this.spec.dtype === 'f64'
      ? { dtype: 'f64', dims: [], data: new Float64Array([v]) }
      : { dtype: 'f32', dims: [], data: new Float32Array([v]) };
  }

  private hyperFeeds(): Record<string, HostTensor> {
    const h = this.hyper;
    const all: Record<string, number> = {
      step: this.step + 1,
      'hp.lr': h.lr,
      'hp.beta1': h.beta1 ?? 0.9,
      'hp.beta2': h.beta2 ?? 0.999,
      'hp.eps': h.eps ?? 1e-8,
      'hp.weight_decay': h.weightDecay ?? 0.01,
      'hp.momentum': h.momentum ?? 0.9,
      'hp.max_grad_norm': h.maxGradNorm ?? 1,
      'hp.grad_scale': 1 / this.microBatches,
    };
    const out: Record<string, HostTensor> = {};
    for (const spec of this.main.inputs) {
      const v = all[spec.name];
      if (v !== undefined) out[spec.name] = this.scalar(v);
    }
    return out;
  }

  /** Takes one optimizer step on `batches` (exactly `microBatches` of them). */
  async trainStep(...batches: Record<string, HostTensor>[]): Promise<StepResult> {
    if (batches.length !== this.microBatches)
      throw new TrainerError(`expected ${this.microBatches} micro-batches, got ${batches.length}`);
    const { feeds, into } = this.bound[this.parity]!;
    let loss = 0;
    const metrics: Record<string, number> = {};
    let extra: Record<string, HostTensor> = {};
    if (this.gradSession !== undefined && this.acc !== undefined) {
      const table = this.spec.table;
      this.acc[0].fill(0);
      for (let k = 0; k < batches.length; k++) {
        const src = table.views(this.acc[k % 2]!);
        const dst = table.views(this.acc[(k + 1) % 2]!);
        const gFeeds: Record<string, HostTensor> = { ...batches[k] };
        const gInto: Record<string, HostTensor> = {};
        for (const e of table.entries) {
          gFeeds[e.name] = feeds[e.name]!;
          gFeeds[`acc.${e.name}`] = { dtype: this.spec.dtype, dims: e.shape, data: src.get(e.name)! };
          gInto[`acc.${e.name}.next`] = { dtype: this.spec.dtype, dims: e.shape, data: dst.get(e.name)! };
        }
        const out = await this.gradSession.run(gFeeds, gInto);
        loss += Number(out.loss!.data[0]) / batches.length;
        for (const [name, t] of Object.entries(out))
          if (name.startsWith('metric.'))
            metrics[name.slice(7)] = (metrics[name.slice(7)] ?? 0) + Number(t.data[0]) / batches.length;
      }
      const final = table.views(this.acc[batches.length % 2]!);
      for (const e of table.entries)
        extra[`acc.${e.name}`] = { dtype: this.spec.dtype, dims: e.shape, data: final.get(e.name)! };
    } else extra = batches[0]!;
    const out = await this.main.run({ ...feeds, ...extra, ...this.hyperFeeds() }, into);
    if (this.gradSession === undefined) {
      loss = Number(out.loss!.data[0]);
      for (const [name, t] of Object.entries(out))
        if (name.startsWith('metric.')) metrics[name.slice(7)] = Number(t.data[0]);
    }
    this.parity = 1 - this.parity;
    this.step += 1;
    const gradNorm = out.grad_norm === undefined ? NaN : Number(out.grad_norm.data[0]);
    return { step: this.step, loss, lr: Number(out.lr!.data[0]), gradNorm, metrics };
  }

  /** The live state (views; copy to keep). */
  state(): TrainState {
    const slots: Record<string, FlatBuffer> = {};
    for (const [s, pair] of this.slots) slots[s] = pair[this.parity]!;
    return { step: this.step, params: this.params[this.parity]!, slots };
  }

  /** Replaces the state (copied into the live buffers). Throws TrainerError on a size or slot mismatch. */
  loadState(s: TrainState): void {
    const size = this.spec.table.size;
    if (s.params.length !== size)
      throw new TrainerError(`params have ${s.params.length} elements, expected ${size}`);
    this.params[this.parity]!.set(s.params);
    for (const [name, pair] of this.slots) {
      const src = s.slots[name];
      if (src === undefined || src.length !== size)
        throw new TrainerError(`optimizer slot ${name} missing or mis-sized`);
      pair[this.parity]!.set(src);
    }
    this.step = s.step;
  }

  /** Frees the sessions. */
  async release(): Promise<void> {
    await this.main.release();
    await this.gradSession?.release();
  }
}
