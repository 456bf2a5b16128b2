/**
 * A-LoL's learned value estimate `V(x)` (docs/ALGORITHMS.md §3.5, "Value estimate — head on frozen
 * π_ref"): a learned query attends over the frozen reference policy's encoder states of the source,
 * and a sigmoid scaled to `valueMax` reads the value off the attended vector.
 *
 *   x̃ = dropout(hidden)                              hidden [B, S, H]: π_ref's last encoder layer
 *   q = query·W_q + b_q;  k = x̃·W_k + b_k;  v = x̃·W_v + b_v        split into `heads` heads of H/heads
 *   p = softmax over the source tokens of (k · q) / √(H/heads), padding masked out
 *   c = dropout((Σ_s p_s v_s)·W_o + b_o)                             [B, H]
 *   V = sigmoid(c·w + b) · valueMax                                  [B]
 *
 * Trained with MSE on targets the caller chooses; A-LoL's are the rewards of π_ref's own outputs, so
 * that `A = R − V(x)` is positive only for a candidate better than what the policy already decodes
 * (the Monte-Carlo baseline instead compares with the mean of its samples, which sampling makes
 * worse than its decoding). AdamW; the epoch with the lowest held-out MSE is kept (ALGORITHMS' "for
 * us": hold out data to pick the epoch), the untrained head included as epoch 0. The head runs in
 * eval mode (no dropout) for values, and padded keys are masked.
 *
 * Examples are given as encoder states, so the head is independent of how they were computed;
 * `encodeSources` turns token ids into them with a loaded model's encoder.
 */
import {
  add,
  div,
  dropout,
  Graph,
  hostTensor,
  matMul,
  mul,
  ParamTable,
  reduceMean,
  reduceSum,
  reshape,
  rng,
  Session,
  sigmoid,
  softmax,
  sub,
  Trainer,
  type HostTensor,
  type Seq2SeqModel,
  type SessionOptions,
  type Tensor,
} from '@rest/runtime';
import { InvalidArgumentError } from '@rest/service-kit';

/** One source as the head sees it: its encoder states. */
export interface EncodedSource {
  /** [length, H] f32, row-major */
  readonly hidden: Float32Array;
  /** Source tokens (rows of `hidden`), ≥ 1. */
  readonly length: number;
}

/** Settings of {@link fitValueHead}. */
export interface ValueHeadOptions {
  /** Upper bound of the value (the sigmoid's scale), > 0. @default 1 */
  readonly valueMax?: number;
  /** Attention heads; must divide the hidden size. @default 8, or 1 when 8 does not divide it */
  readonly heads?: number;
  /** AdamW learning rate. @default 1e-3 */
  readonly learningRate?: number;
  /** Passes over the training part. @default 10 */
  readonly epochs?: number;
  /** Examples per step. @default 32 */
  readonly batchSize?: number;
  /** Fraction of the examples held out to pick the epoch, in (0, 1). @default 0.2 */
  readonly heldOutFraction?: number;
  /** Dropout on the inputs and the attention output while training. @default 0.1 */
  readonly dropout?: number;
  /** Seeds the initial parameters, the split, the order and the dropout masks. @default 1 */
  readonly seed?: number;
  /** onnxruntime settings. */
  readonly session?: SessionOptions;
  /** Called after each epoch (progress). */
  readonly onEpoch?: (e: { epoch: number; trainMse: number; heldOutMse: number }) => void | Promise<void>;
}

/** What fitting found. */
export interface ValueHeadFit {
  /** The epoch kept (0: the untrained head). */
  readonly epoch: number;
  /** Held-out MSE of the kept epoch. */
  readonly heldOutMse: number;
  /** Held-out MSE of always answering the training targets' mean: what the head has to beat. */
  readonly heldOutMseOfMean: number;
  readonly trainExamples: number;
  readonly heldOutExamples: number;
}

/** The parameter table of a head over states of size `hidden` (`vh.*`). */
export function valueHeadParams(hidden: number): ParamTable {
  const lin = { kind: 'uniform', limit: 1 / Math.sqrt(hidden) } as const;
  const zeros = { kind: 'zeros' } as const;
  return new ParamTable([
    { name: 'vh.query', shape: [hidden], init: { kind: 'normal', std: 1 }, decay: false },
    ...['q', 'k', 'v', 'o'].flatMap((p) => [
      { name: `vh.w_${p}`, shape: [hidden, hidden], init: lin },
      { name: `vh.b_${p}`, shape: [hidden], init: zeros },
    ]),
    { name: 'vh.w_out', shape: [hidden, 1], init: lin },
    { name: 'vh.b_out', shape: [1], init: zeros },
  ]);
}

/**
 * The head's value `[B]` over `hidden [B, S, H]` and `mask [B, S]` (f32, 1 = token) with parameters
 * `p`; `drop` > 0 adds the training dropout.
 */
export function valueHeadForward(
  p: ReadonlyMap<string, Tensor>,
  hidden: Tensor,
  mask: Tensor,
  o: { readonly heads: number; readonly valueMax: number; readonly drop: number },
): Tensor {
  const H = Number(hidden.dims[2]);
  const K = H / o.heads;
  const w = (n: string): Tensor => p.get(`vh.${n}`)!;
  const x = dropout(hidden, o.drop);
  const q = reshape(add(matMul(reshape(w('query'), [1, H]), w('w_q')), w('b_q')), [o.heads, K]);
  const k = reshape(add(matMul(x, w('w_k')), w('b_k')), [0, 0, o.heads, K]); // [B, S, heads, K]
  const v = reshape(add(matMul(x, w('w_v')), w('b_v')), [0, 0, o.heads, K]);
  const scores = div(reduceSum(mul(k, q), [3]), Math.sqrt(K)); // [B, S, heads]
  // Padding gets −1e9 before the softmax over the source axis.
  const masked = add(scores, mul(sub(reshape(mask, [0, 0, 1]), 1), 1e9));
  const attn = softmax(masked, 1);
  const ctx = reduceSum(mul(reshape(attn, [0, 0, o.heads, 1]), v), [1]); // [B, heads, K]
  const out = dropout(add(matMul(reshape(ctx, [-1, H]), w('w_o')), w('b_o')), o.drop);
  const z = reshape(add(matMul(out, w('w_out')), w('b_out')), [-1]);
  return mul(sigmoid(z), o.valueMax);
}

/** A fitted head: values of encoded sources. */
export class ValueHead {
  private constructor(
    private readonly session: Session,
    private readonly params: Record<string, HostTensor>,
    readonly fit: ValueHeadFit,
    readonly hiddenSize: number,
  ) {}

  /** @internal built by {@link fitValueHead} */
  static async open(
    table: ParamTable,
    params: Float32Array,
    hidden: number,
    o: { heads: number; valueMax: number },
    fit: ValueHeadFit,
    session: SessionOptions,
  ): Promise<ValueHead> {
    const g = new Graph('value_head');
    const p = table.inputs(g, 'f32');
    const value = valueHeadForward(
      p,
      g.input('hidden', 'f32', ['B', 'S', hidden]),
      g.input('mask', 'f32', ['B', 'S']),
      {
        ...o,
        drop: 0,
      },
    );
    g.output(value, 'value');
    const feeds: Record<string, HostTensor> = {};
    for (const [name, view] of table.views(params))
      feeds[name] = hostTensor('f32', table.get(name).shape, view);
    return new ValueHead(await Session.create(g, session), feeds, fit, hidden);
  }

  /** The same head (session and parameter buffer shared) with `fit` recorded. */
  private withFit(fit: ValueHeadFit): ValueHead {
    return new ValueHead(this.session, this.params, fit, this.hiddenSize);
  }

  /**
   * @internal The evaluation head of {@link fitValueHead}: its values read `params` as they are at
   * each call, so one session serves every epoch; `finish` records the fit.
   */
  static async evaluator(
    table: ParamTable,
    params: Float32Array,
    hidden: number,
    o: { heads: number; valueMax: number },
    session: SessionOptions,
  ): Promise<{ head: ValueHead; finish: (fit: ValueHeadFit) => ValueHead }> {
    const head = await ValueHead.open(table, params, hidden, o, EMPTY_FIT, session);
    return { head, finish: (fit) => head.withFit(fit) };
  }

  /** V(x) of each source, in order (batches of `batch`). */
  async values(sources: readonly EncodedSource[], batch = 64): Promise<Float64Array> {
    const out = new Float64Array(sources.length);
    for (let i = 0; i < sources.length; i += batch) {
      const chunk = sources.slice(i, i + batch);
      const r = await this.session.run({ ...this.params, ...padded(chunk, this.hiddenSize) });
      out.set(r.value!.data as Float32Array, i);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** `hidden [B, S, H]` and `mask [B, S]` of a batch, right-padded to its longest source. */
function padded(batch: readonly EncodedSource[], H: number): { hidden: HostTensor; mask: HostTensor } {
  const S = Math.max(...batch.map((b) => b.length));
  const hidden = new Float32Array(batch.length * S * H);
  const mask = new Float32Array(batch.length * S);
  batch.forEach((b, r) => {
    hidden.set(b.hidden.subarray(0, b.length * H), r * S * H);
    mask.fill(1, r * S, r * S + b.length);
  });
  return {
    hidden: hostTensor('f32', [batch.length, S, H], hidden),
    mask: hostTensor('f32', [batch.length, S], mask),
  };
}

/** A seeded permutation of 0..n−1 (Fisher–Yates). */
function permutation(n: number, seed: number): number[] {
  const next = rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Fits a head to `targets` (one per source, finite, in [0, valueMax]) and opens it for values. Throws
 * InvalidArgumentError (naming the field) for mismatched or too few examples, a bad target or option.
 */
export async function fitValueHead(
  sources: readonly EncodedSource[],
  targets: readonly number[],
  opts: ValueHeadOptions = {},
): Promise<ValueHead> {
  const valueMax = opts.valueMax ?? 1;
  const epochs = opts.epochs ?? 10;
  const batchSize = opts.batchSize ?? 32;
  const heldOutFraction = opts.heldOutFraction ?? 0.2;
  const seed = opts.seed ?? 1;
  const problems: string[] = [];
  if (!(valueMax > 0)) problems.push(`valueMax: must be > 0, got ${valueMax}`);
  if (!Number.isInteger(epochs) || epochs < 1) problems.push(`epochs: must be an integer ≥ 1, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    problems.push(`batchSize: must be an integer ≥ 1, got ${batchSize}`);
  if (!(heldOutFraction > 0 && heldOutFraction < 1))
    problems.push(`heldOutFraction: must be in (0, 1), got ${heldOutFraction}`);
  if (targets.length !== sources.length)
    problems.push(`targets: ${targets.length} targets for ${sources.length} sources`);
  const bad = targets.findIndex((t) => !(t >= 0 && t <= valueMax));
  if (bad >= 0) problems.push(`targets[${bad}]: must be in [0, ${valueMax}], got ${targets[bad]}`);
  const badSource = sources.findIndex((s) => !(s.length >= 1) || s.hidden.length % s.length !== 0);
  if (badSource >= 0) problems.push(`sources[${badSource}]: needs length ≥ 1 rows of hidden states`);
  if (problems.length > 0) throw new InvalidArgumentError(`value head: ${problems.join('; ')}`);
  const H = sources[0] === undefined ? 0 : sources[0].hidden.length / sources[0].length;
  const mixed = sources.findIndex((s) => s.hidden.length !== s.length * H);
  if (mixed >= 0)
    throw new InvalidArgumentError(
      `value head: sources[${mixed}]: hidden size differs from sources[0]'s ${H}`,
    );
  const heldOutCount = Math.round(sources.length * heldOutFraction);
  if (heldOutCount < 1 || sources.length - heldOutCount < 1)
    throw new InvalidArgumentError(
      `value head: targets: ${sources.length} examples are too few to hold some out`,
    );
  const heads = opts.heads ?? (H % 8 === 0 ? 8 : 1);
  if (!Number.isInteger(heads) || heads < 1 || H % heads !== 0)
    throw new InvalidArgumentError(`value head: heads: ${heads} does not divide the hidden size ${H}`);

  const order = permutation(sources.length, seed);
  const heldOut = order.slice(0, heldOutCount);
  const train = order.slice(heldOutCount);
  const table = valueHeadParams(H);
  const shape = { heads, valueMax };
  const drop = opts.dropout ?? 0.1;
  const session = opts.session ?? {};
  const trainer = await Trainer.create(
    {
      table,
      dtype: 'f32',
      forward: (g, p) => {
        const value = valueHeadForward(
          p,
          g.input('hidden', 'f32', ['B', 'S', H]),
          g.input('mask', 'f32', ['B', 'S']),
          {
            ...shape,
            drop,
          },
        );
        const err = sub(value, g.input('target', 'f32', ['B']));
        return { loss: reduceMean(mul(err, err), [0]) };
      },
      optimizer: 'adamw',
      schedule: { kind: 'constant' },
    },
    { lr: opts.learningRate ?? 1e-3, weightDecay: 0.01, maxGradNorm: 1 },
    { ...session, seed },
  );
  const mse = (pred: Float64Array, idx: readonly number[]): number =>
    idx.reduce((a, i, k) => a + (pred[k]! - targets[i]!) ** 2, 0) / idx.length;
  const trainMean = train.reduce((a, i) => a + targets[i]!, 0) / train.length;
  const heldOutMseOfMean = heldOut.reduce((a, i) => a + (trainMean - targets[i]!) ** 2, 0) / heldOut.length;
  const heldOutSources = heldOut.map((i) => sources[i]!);
  // One evaluation session for every epoch: it reads `evalParams`, refreshed before each use.
  const evalParams = Float32Array.from(trainer.parameters);
  const { head, finish } = await ValueHead.evaluator(table, evalParams, H, shape, session);
  try {
    const evaluate = async (): Promise<number> => {
      evalParams.set(trainer.parameters);
      return mse(await head.values(heldOutSources), heldOut);
    };
    let best = { epoch: 0, mse: await evaluate(), params: Float32Array.from(trainer.parameters) };
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const shuffled = permutation(train.length, seed + epoch).map((k) => train[k]!);
      let sum = 0;
      let steps = 0;
      for (let i = 0; i < shuffled.length; i += batchSize) {
        const idx = shuffled.slice(i, i + batchSize);
        const r = await trainer.trainStep({
          ...padded(
            idx.map((k) => sources[k]!),
            H,
          ),
          target: hostTensor(
            'f32',
            [idx.length],
            Float32Array.from(idx, (k) => targets[k]!),
          ),
        });
        sum += r.loss;
        steps++;
      }
      const heldOutMse = await evaluate();
      await opts.onEpoch?.({ epoch, trainMse: sum / steps, heldOutMse });
      if (heldOutMse < best.mse)
        best = { epoch, mse: heldOutMse, params: Float32Array.from(trainer.parameters) };
    }
    evalParams.set(best.params);
    return finish({
      epoch: best.epoch,
      heldOutMse: best.mse,
      heldOutMseOfMean,
      trainExamples: train.length,
      heldOutExamples: heldOut.length,
    });
  } catch (error) {
    await head.release();
    throw error;
  } finally {
    await trainer.release();
  }
}

const EMPTY_FIT: ValueHeadFit = {
  epoch: 0,
  heldOutMse: Number.NaN,
  heldOutMseOfMean: Number.NaN,
  trainExamples: 0,
  heldOutExamples: 0,
};

/** The encoder states of `sources` (token ids, each non-empty) under `model`, in batches of `batch`. */
export async function encodeSources(
  model: Seq2SeqModel,
  sources: readonly (readonly number[])[],
  batch = 64,
  heartbeat?: () => Promise<void>,
): Promise<EncodedSource[]> {
  const out = new Array<EncodedSource>(sources.length);
  // Similar lengths together: little padding to encode.
  const order = sources.map((_, i) => i).sort((a, b) => sources[a]!.length - sources[b]!.length);
  for (let k = 0; k < order.length; k += batch) {
    const idx = order.slice(k, k + batch);
    const { hidden } = await model.encode(idx.map((i) => sources[i]!));
    const [, S, H] = hidden.dims as [number, number, number];
    idx.forEach((i, r) => {
      const length = sources[i]!.length;
      out[i] = { hidden: hidden.data.slice(r * S * H, (r * S + length) * H), length };
    });
    await heartbeat?.();
  }
  return out;
}
