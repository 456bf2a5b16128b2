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
 */
import {
  decode,
  encode,
  logits,
  type ForwardFn,
  type Graph,
  type Tensor,
  type TransformerConfig,
} from '@rest/runtime';
import { tokenLogProbs, tokenLogProbsWithMean } from '../objectives/log-probs.js';
import {
  buildObjective,
  declareObjectiveInputs,
  type ObjectiveHyperInput,
  type ObjectiveName,
} from '../objectives/registry.js';
import { inputNames } from './prepare.js';

function policyLogProbs(
  c: TransformerConfig,
  g: Graph,
  p: ReadonlyMap<string, Tensor>,
  prefix: string,
  dims: readonly [string, string, string],
  withMean: boolean,
): { tokenLogp: Tensor; meanLogp?: Tensor } {
  const [b, s, t] = dims;
  const src = g.input(`${prefix}src`, 'i64', [b, s]);
  const tgtIn = g.input(`${prefix}tgt_in`, 'i64', [b, t]);
  const tgtOut = g.input(`${prefix}tgt_out`, 'i64', [b, t]);
  const { memory, srcBias } = encode(c, g, p, src);
  const hidden = decode(c, g, p, tgtIn, memory, srcBias); // [B, T, D]
  const rows = logits(p, hidden); // [B·T, V], rows in label order
  return withMean ? tokenLogProbsWithMean(rows, tgtOut) : { tokenLogp: tokenLogProbs(rows, tgtOut) };
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
    if (needs.has('online_logp'))
      provided.online_logp = g.scope('online', () =>
        policyLogProbs(config, g, p, 'online_', ['Q', 'SQ', 'U'], false),
      ).tokenLogp;
    const inputs = declareObjectiveInputs(g, name, hyper as never, 'f32', { provided });
    const { loss, metrics } = buildObjective(g, name, inputs, hyper as ObjectiveHyperInput<typeof name>);
    return { loss, metrics };
  };
}
