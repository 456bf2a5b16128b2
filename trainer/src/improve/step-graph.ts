/**
 * The training forward of an Improve step: the policy's per-token log-probs over **every** target row
 * (the objectives mask padding themselves; `transformerLoss` would gather only non-pad rows), wired into
 * the objective's graph fragment. Inputs it declares besides the objective's data inputs:
 *
 *   src [B, S] i64, tgt_in [B, T] i64, tgt_out [B, T] i64                 the batch
 *   online_src [Q, SQ] i64, online_tgt_in [Q, U] i64, online_tgt_out [Q, U] i64   HyPO's online samples
 *
 * The online samples go through the same parameters in a second encoder–decoder pass, so the KL
 * surrogate's gradient reaches the policy.
 *
 * BVMPO reads full-vocabulary log-probs of three policies on the batch: π_θ's come from the same
 * pass as its token log-probs; π_BC's and π_old's from two more passes over frozen parameters fed as
 * inputs `bc.<param>` and `old.<param>` (no dropout, no gradient). Its duals `eta_raw` and
 * `alpha_raw` are trainable parameters `bvmpo.eta_raw` and `bvmpo.alpha_raw` [1], appended to the
 * policy's table ({@link improveParamTable}), so the policy's parameters stay a prefix of the flat
 * buffer.
 */
import {
  concat,
  decode,
  encode,
  int64s,
  logits,
  logSoftmax,
  ParamTable,
  reshape,
  shape,
  transformerParams,
  type ForwardFn,
  type Graph,
  type ParamSpec,
  type Tensor,
  type TransformerConfig,
} from '@rest/runtime';
import { reshapeAs } from '../objectives/reshape-as.js';
import { tokenLogProbs, tokenLogProbsWithMean } from '../objectives/log-probs.js';
import {
  buildObjective,
  declareObjectiveInputs,
  type ObjectiveHyperInput,
  type ObjectiveName,
} from '../objectives/registry.js';
import { inputNames } from './prepare.js';

interface PolicyPass {
  readonly tokenLogp: Tensor;
  readonly meanLogp?: Tensor;
  /** [B·T, V] logits, rows in label order */
  readonly rows: Tensor;
  readonly src: Tensor;
  readonly tgtIn: Tensor;
  readonly tgtOut: Tensor;
}

function policyLogProbs(
  c: TransformerConfig,
  g: Graph,
  p: ReadonlyMap<string, Tensor>,
  prefix: string,
  dims: readonly [string, string, string],
  withMean: boolean,
): PolicyPass {
  const [b, s, t] = dims;
  const src = g.input(`${prefix}src`, 'i64', [b, s]);
  const tgtIn = g.input(`${prefix}tgt_in`, 'i64', [b, t]);
  const tgtOut = g.input(`${prefix}tgt_out`, 'i64', [b, t]);
  const { memory, srcBias } = encode(c, g, p, src);
  const hidden = decode(c, g, p, tgtIn, memory, srcBias); // [B, T, D]
  const rows = logits(p, hidden); // [B·T, V], rows in label order
  const lp = withMean ? tokenLogProbsWithMean(rows, tgtOut) : { tokenLogp: tokenLogProbs(rows, tgtOut) };
  return { ...lp, rows, src, tgtIn, tgtOut };
}

/** `[B, T, V]` log-softmax of logit rows `[B·T, V]` whose rows are the positions of `labels [B, T]`. */
function fullLogProbs(rows: Tensor, labels: Tensor): Tensor {
  const g = rows.graph;
  const V = rows.dims[1]!;
  const target = concat([shape(labels), int64s(g, [Number(V)])], 0);
  const lsm = logSoftmax(rows, -1);
  return g.emit({
    opType: 'Reshape',
    inputs: [lsm, target],
    outputs: [{ dtype: lsm.dtype, dims: [...labels.dims, V] }],
    hint: 'full_logprobs',
    vjp: ([d]) => [reshapeAs(d!, lsm)],
  })[0]!;
}

/** BVMPO's trainable duals, appended to the policy's parameters (η = softplus(eta_raw), likewise α). */
export const BVMPO_DUALS: readonly ParamSpec[] = [
  { name: 'bvmpo.eta_raw', shape: [1], init: { kind: 'zeros' }, decay: false },
  { name: 'bvmpo.alpha_raw', shape: [1], init: { kind: 'zeros' }, decay: false },
];

/** The raw value of each dual at the start of a step: softplus⁻¹(1), so that η = α = 1. */
export const BVMPO_DUAL_START = Math.log(Math.E - 1);

/**
 * The trained parameter table of objective `name`: the policy's, plus BVMPO's duals after it (so
 * the policy's parameters are the first `transformerParams` entries of every flat buffer).
 */
export function improveParamTable(config: TransformerConfig, name: ObjectiveName): ParamTable {
  const policy = transformerParams(config);
  return new ParamTable(name === 'bvmpo' ? [...policy, ...BVMPO_DUALS] : policy);
}

/** The step forward for `buildTrainStep`: policy log-probs → objective `name` with parsed `hyper`. */
export function improveForward(config: TransformerConfig, name: ObjectiveName, hyper: unknown): ForwardFn {
  const needs = inputNames(name, hyper);
  return (g, p) => {
    const main = g.scope('policy', () =>
      policyLogProbs(config, g, p, '', ['B', 'S', 'T'], needs.has('mean_logp')),
    );
    const provided: Record<string, Tensor> = { token_logp: main.tokenLogp };
    if (main.meanLogp !== undefined) provided.mean_logp = main.meanLogp;
    if (needs.has('policy_logprobs')) {
      provided.policy_logprobs = fullLogProbs(main.rows, main.tgtOut);
      // π_BC and π_old: the same network over frozen parameter inputs, in eval mode.
      const frozen = new ParamTable(transformerParams(config));
      const evalConfig = { ...config, dropout: 0 };
      for (const [input, prefix] of [
        ['behaviour_logprobs', 'bc.'],
        ['old_logprobs', 'old.'],
      ] as const) {
        provided[input] = g.scope(prefix.slice(0, -1), () => {
          const q = frozen.inputs(g, 'f32', prefix);
          const { memory, srcBias } = encode(evalConfig, g, q, main.src);
          const hidden = decode(evalConfig, g, q, main.tgtIn, memory, srcBias);
          return fullLogProbs(logits(q, hidden), main.tgtOut);
        });
      }
      provided.eta_raw = reshape(p.get('bvmpo.eta_raw')!, []);
      provided.alpha_raw = reshape(p.get('bvmpo.alpha_raw')!, []);
    }
    if (needs.has('online_logp'))
      provided.online_logp = g.scope('online', () =>
        policyLogProbs(config, g, p, 'online_', ['Q', 'SQ', 'U'], false),
      ).tokenLogp;
    const inputs = declareObjectiveInputs(g, name, hyper as never, 'f32', { provided });
    const { loss, metrics } = buildObjective(g, name, inputs, hyper as ObjectiveHyperInput<typeof name>);
    return { loss, metrics };
  };
}
