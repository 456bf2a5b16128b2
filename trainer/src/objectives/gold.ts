/**
 * GOLD-s with a lagged policy (docs/ALGORITHMS.md §3.2; Pang & He, arXiv:2009.07839, repo
 * `yzpang/gold-off-policy-text-gen-iclr21`). Per target token t:
 *
 *   w_t  = clip(sg[π̃(y_t | ·)], u, 1)                 importance weight from the lagged copy π̃
 *   r_t  = max(c, ρ(p_MLE(y_t | ·)))                    ρ(p) = p ("prob", GOLD-s) or log(p + 1e-10) − b ("logprob", GOLD-p)
 *   Q̂_t  = Σ_{j=0..k} γ^j r_{t+j}                       r past EOS (or past the tensor) := max(c, ρ(1))
 *   L    = Σ_t m_t [ −(1 − ε) w_t Q̂_t ℓ_t + ε (−(1/|V|) Σ_v log π_θ(v | ·)) ]
 *
 * w, r and Q̂ are constants (their inputs are detached); the label-smoothing term stays unweighted.
 * w is formed in log space: exp(clip(log π̃, log u, 0)). Deviation from the repo, as the spec asks:
 * every position past a row's EOS gets the end reward, not p_MLE(pad). The lagged copy is refreshed
 * every `lagRefreshSteps` optimizer updates by the trainer, which feeds its per-token log-probs.
 *
 * Inputs: token_logp [B, T], mask [B, T], lagged_logp [B, T], mle_logp [B, T], mean_logp [B, T] (ε > 0).
 */
import { z } from 'zod';
import {
  add,
  clip,
  exp,
  log,
  max,
  min,
  mul,
  neg,
  stopGradient,
  sub,
  type Graph,
  type Tensor,
} from '@rest/runtime';
import { smoothedNll } from './bc.js';
import { castOut } from './cast-out.js';
import { shiftedLeft } from './detached-ops.js';
import { exampleMean, f64, maskedRowSum, maskedTokenMean } from './log-probs.js';
import {
  inputOf,
  MASK,
  MEAN_LOGP,
  TOKEN_LOGP,
  unitInterval,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objective.js';

const HYPER = z
  .object({
    /** ρ: `prob` (GOLD-s, the spec's choice) or `logprob` (GOLD-p). @default 'prob' */
    tokenReward: z.enum(['prob', 'logprob']).default('prob'),
    /** u: lower clip of the importance weight, in [0, 1]. @default 0.2 */
    weightMin: z.number().min(0).max(1).default(0.2),
    /** c: floor of the token reward. @default 0.1 */
    rewardMin: z.number().finite().default(0.1),
    /** k: look-ahead of the truncated return (offsets 0..k). @default 5 */
    lookahead: z.number().int().min(0).max(128).default(5),
    /** γ of the truncated return, in (0, 1]. @default 1 */
    discount: z.number().gt(0).max(1).default(1),
    /** b of the logprob reward `log p − b`. @default −10 */
    logprobOffset: z.number().finite().default(-10),
    /** K: optimizer updates between refreshes of π̃ (read by the trainer, not the graph). @default 3000 */
    lagRefreshSteps: z.number().int().min(1).default(3000),
    /** ε: label smoothing, unweighted. @default 0.1 (the repo's IWSLT setting) */
    labelSmoothing: unitInterval(0.1),
  })
  .strict();

/** GOLD hyperparameters after defaults. */
export type GoldHyper = z.output<typeof HYPER>;

const LAGGED_LOGP: ObjectiveInput = {
  name: 'lagged_logp',
  dims: ['B', 'T'],
  doc: 'log π̃(y_t | ·) of the lagged copy of π_θ (refreshed every lagRefreshSteps updates)',
  differentiable: false,
};

const MLE_LOGP: ObjectiveInput = {
  name: 'mle_logp',
  dims: ['B', 'T'],
  doc: 'log p_MLE(y_t | ·) of the frozen MLE policy π_BC (cacheable), in float32 or better',
  differentiable: false,
};

/** Smallest value ρ may see: the repo's `log(p + 1e-10)`. */
const LOG_FLOOR = 1e-10;

/** ρ applied to a number, for the end-of-sequence reward ρ(1). */
function rhoOf(h: GoldHyper, p: number): number {
  return h.tokenReward === 'prob' ? p : Math.log(p + LOG_FLOOR) - h.logprobOffset;
}

/**
 * The GOLD weight `w_t · Q̂_t` `[B, T]` f64 (detached), plus its two factors for metrics. Exported for
 * the tests, which recompute it in plain TypeScript.
 */
export function goldWeights(
  mask: Tensor,
  laggedLogp: Tensor,
  mleLogp: Tensor,
  h: GoldHyper,
): { weight: Tensor; importance: Tensor; ret: Tensor } {
  const lagged = stopGradient(f64(laggedLogp));
  const logW = h.weightMin > 0 ? clip(lagged, Math.log(h.weightMin), 0) : min(lagged, 0);
  const importance = exp(logW); // [B, T] in [u, 1]
  const p = exp(stopGradient(f64(mleLogp))); // [B, T]
  const rho = h.tokenReward === 'prob' ? p : sub(log(add(p, LOG_FLOOR)), h.logprobOffset);
  const r = max(rho, h.rewardMin); // [B, T]
  const rEnd = Math.max(h.rewardMin, rhoOf(h, 1));
  const m = f64(mask);
  const rFilled = add(mul(r, m), mul(sub(1, m), rEnd)); // past EOS: the end reward
  const shifts = shiftedLeft(stopGradient(rFilled), h.lookahead, rEnd);
  let ret = shifts[0]!;
  for (let j = 1; j < shifts.length; j++) ret = add(ret, mul(shifts[j]!, h.discount ** j));
  return { weight: stopGradient(mul(importance, ret)), importance, ret };
}

function inputs(h: GoldHyper): ObjectiveInput[] {
  const base = [TOKEN_LOGP, MASK, LAGGED_LOGP, MLE_LOGP];
  return h.labelSmoothing > 0 ? [...base, MEAN_LOGP] : base;
}

/** The `gold` registry entry. */
export const GOLD = {
  name: 'gold',
  description: 'GOLD-s: per-token NLL weighted by a lagged-policy importance weight and a p_MLE return',
  spec: 'ALGORITHMS.md §3.2',
  reducesTo: 'Σ_t m_t (1 − ε) sg[w_t Q̂_t] (−ℓ_t) + unweighted label smoothing',
  hyper: HYPER,
  inputs,
  build(g: Graph, x: Readonly<Record<string, Tensor>>, h: GoldHyper): ObjectiveOutput {
    return g.scope('gold', () => {
      const lp = inputOf('gold', x, TOKEN_LOGP);
      const mask = inputOf('gold', x, MASK);
      const { weight, importance, ret } = goldWeights(
        mask,
        inputOf('gold', x, LAGGED_LOGP),
        inputOf('gold', x, MLE_LOGP),
        h,
      );
      const mean = h.labelSmoothing > 0 ? inputOf('gold', x, MEAN_LOGP) : undefined;
      const loss = exampleMean(smoothedNll(lp, mask, h.labelSmoothing, mean, weight));
      return castOut(lp, loss, {
        nll: exampleMean(maskedRowSum(neg(lp), mask)),
        importance_weight: maskedTokenMean(importance, mask),
        token_return: maskedTokenMean(ret, mask),
      });
    });
  },
};
