/**
 * The learned quality-estimation (QE) reward model: a Transformer encoder (@rest/runtime's `encode`,
 * the policy's encoder architecture) over one tokenized (source, hypothesis) pair, COMET-style pooled
 * features (Rei et al. 2020: the two sides' embeddings, their product and their distance), a
 * one-hidden-layer regression head and a sigmoid scaled onto the predicted metric's range:
 *
 *   h     = encode(input_ids, attention_mask)                         [B, S, D]
 *   s, t  = masked means of h over the source / hypothesis segment    [B, D] each (token_type_ids 0 / 1)
 *   f     = [s, t, s⊙t, |s − t|]                                       [B, 4D]
 *   score = min + (max − min) · σ(tanh(f·W1 + b1)·w2 + b2)             [B]
 *
 * Each segment holds at least its separator token, so neither mean is empty. Every token attends to
 * both sides, so `t` already carries cross-lingual evidence; the explicit product and distance make
 * "does the hypothesis match the source" easy for the head to read. Trained with the mean squared
 * error on the [0, 1] scale, `mean((σ(…) − (target − min)/(max − min))²)`, so the loss does not depend
 * on the metric's units. The parameter table is the Transformer's encoder rows (`embed`, `enc.<i>.*`,
 * `enc.ln`: the same names as a policy's, so a policy's encoder can seed it) plus `head.fc.{w,b}` and
 * `head.out.{w,b}`.
 *
 * Dimension letters: B batch (pairs), S pair tokens, D model width, V vocabulary.
 */
import {
  add,
  cast,
  concat,
  div,
  encode,
  gemm,
  Graph,
  mul,
  neg,
  ParamTable,
  reduceMean,
  reduceSum,
  relu,
  sigmoid,
  squeeze,
  sub,
  tanh,
  transformerParams,
  unsqueeze,
  type ForwardFn,
  type ParamSpec,
  type Tensor,
  type TransformerConfig,
} from '@rest/runtime';

/** The ONNX model's input and output names (what `reward.json` lists). */
export const QE_IO = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  tokenTypeIds: 'token_type_ids',
  score: 'score',
} as const;

/** Architecture and output range of a QE model. */
export interface QeModelConfig {
  /** The encoder: a TransformerConfig with `decoderLayers: 0` (its decoder fields are unused). */
  readonly encoder: TransformerConfig;
  /** The raw range the sigmoid is scaled onto, e.g. 0–100 for chrF; `min < max`. */
  readonly range: { readonly min: number; readonly max: number };
}

/** Whether a Transformer parameter belongs to the encoder side (the rows a QE model keeps). */
export function isEncoderParam(name: string): boolean {
  return name === 'embed' || name.startsWith('enc.');
}

/** The QE model's ordered parameter table; see the module comment. */
export function qeParams(c: QeModelConfig): ParamSpec[] {
  const d = c.encoder.dModel;
  const limit = Math.sqrt(6 / (4 * d + d));
  return [
    ...transformerParams({ ...c.encoder, decoderLayers: 0 }).filter((p) => isEncoderParam(p.name)),
    { name: 'head.fc.w', shape: [4 * d, d], init: { kind: 'uniform', limit } },
    { name: 'head.fc.b', shape: [d], init: { kind: 'zeros' } },
    { name: 'head.out.w', shape: [d, 1], init: { kind: 'uniform', limit: Math.sqrt(6 / (d + 1)) } },
    { name: 'head.out.b', shape: [1], init: { kind: 'zeros' } },
  ];
}

/** The pair's three inputs, `[B, S] i64` each. */
export interface QeInputs {
  readonly ids: Tensor;
  readonly mask: Tensor;
  /** 0 on the source segment, 1 on the hypothesis segment (the pair encoder's segments). */
  readonly types: Tensor;
}

/** Declares the three inputs, in the manifest's order. */
function declareInputs(g: Graph, b: string, s: string): QeInputs {
  return {
    ids: g.input(QE_IO.inputIds, 'i64', [b, s]),
    mask: g.input(QE_IO.attentionMask, 'i64', [b, s]),
    types: g.input(QE_IO.tokenTypeIds, 'i64', [b, s]),
  };
}

/**
 * The head's output before the sigmoid and the range scaling, `[B]`: the logit of the score's position
 * in the range.
 */
function qeLogit(c: QeModelConfig, g: Graph, p: ReadonlyMap<string, Tensor>, x: QeInputs): Tensor {
  const { memory } = encode({ ...c.encoder, decoderLayers: 0 }, g, p, x.ids, x.mask); // [B, S, D]
  const m = cast(x.mask, memory.dtype); // [B, S]
  const hyp = mul(m, cast(x.types, memory.dtype)); // [B, S]: 1 on hypothesis tokens
  const src = sub(m, hyp); // [B, S]: 1 on source tokens
  const mean = (w: Tensor): Tensor => {
    const w3 = unsqueeze(w, [2]); // [B, S, 1]
    return div(reduceSum(mul(memory, w3), [1]), reduceSum(w3, [1])); // [B, D]
  };
  const s = mean(src);
  const t = mean(hyp);
  const diff = sub(s, t); // [B, D]
  const features = concat([s, t, mul(s, t), add(relu(diff), relu(neg(diff)))], 1); // [B, 4D]
  const hidden = tanh(gemm(features, p.get('head.fc.w')!, p.get('head.fc.b'))); // [B, D]
  return squeeze(gemm(hidden, p.get('head.out.w')!, p.get('head.out.b')), [1]); // [B]
}

/** The score `[B]` in the configured range, for parameters `p` (inputs or constants). */
export function qeScore(c: QeModelConfig, g: Graph, p: ReadonlyMap<string, Tensor>, x: QeInputs): Tensor {
  const { min, max } = c.range;
  return add(mul(sigmoid(qeLogit(c, g, p, x)), max - min), min);
}

/**
 * The training forward for `Trainer`: declares `input_ids`, `attention_mask`, `token_type_ids`
 * (`[B, S] i64`) and `target [B] f32` (the metric's raw score) and returns the [0, 1]-scale MSE.
 * Dropout is the encoder config's.
 */
export function qeTrainingForward(c: QeModelConfig): ForwardFn {
  const { min, max } = c.range;
  return (g, p) => {
    const x = declareInputs(g, 'B', 'S');
    const target = g.input('target', 'f32', ['B']);
    const predicted = sigmoid(qeLogit(c, g, p, x)); // [B] in (0, 1)
    const error = sub(predicted, div(sub(target, min), max - min)); // [B]
    return { loss: reduceMean(mul(error, error), [0]) };
  };
}

function withoutDropout(c: QeModelConfig): QeModelConfig {
  return { ...c, encoder: { ...c.encoder, dropout: 0 } };
}

/**
 * A forward-only graph whose parameters are inputs named as in the table (fed from the trainer's live
 * buffers, so evaluating during training copies nothing): `input_ids`, `attention_mask`,
 * `token_type_ids` → `score [B]`.
 * Dropout is off.
 */
export function qeEvalGraph(c: QeModelConfig): Graph {
  const g = new Graph('qe_reward_eval');
  const p = new ParamTable(qeParams(c)).inputs(g, 'f32');
  const x = declareInputs(g, 'batch_size', 'sequence_length');
  g.output(qeScore(withoutDropout(c), g, p, x), QE_IO.score);
  return g;
}

/**
 * The exported inference graph: parameters (`params` in `qeParams(c)` layout) baked in as
 * initializers, inputs `input_ids`, `attention_mask`, `token_type_ids` `[batch_size, sequence_length] i64`, output
 * `score [batch_size] f32`. Dropout is off.
 * @throws ParamTableError when `params` does not have the table's size
 */
export function qeInferenceGraph(c: QeModelConfig, params: Float32Array): Graph {
  const g = new Graph('qe_reward');
  const table = new ParamTable(qeParams(c));
  const views = table.views(params);
  const p = new Map(
    table.entries.map((e) => [e.name, g.constant('f32', e.shape, views.get(e.name)!, e.name)]),
  );
  const x = declareInputs(g, 'batch_size', 'sequence_length');
  g.output(qeScore(withoutDropout(c), g, p, x), QE_IO.score);
  return g;
}
