/**
 * wBC, reward-weighted behaviour cloning, the A-LoL paper's baseline (docs/ALGORITHMS.md §3.1, from
 * the `abaheti95/LoL-RL` code):  L(x, y) = R(x, y) · (−S_θ),  S_θ = Σ_t m_t ℓ_t.  The reward is a
 * detached weight. (A-LoL's HH script also samples examples ∝ R; that is the data loader's job.)
 *
 * Inputs: token_logp [B, T], mask [B, T], reward [B].
 */
import { z } from 'zod';
import { mul, neg, stopGradient, type Graph, type Tensor } from '@rest/runtime';
import { castOut } from './cast-out.js';
import { exampleMean, f64, sequenceLogProb } from './log-probs.js';
import { inputOf, MASK, REWARD, TOKEN_LOGP, type ObjectiveOutput } from './objective.js';

const HYPER = z.object({}).strict();

/** wBC has no hyperparameters. */
export type WbcHyper = z.output<typeof HYPER>;

/** The `wbc` registry entry. */
export const WBC = {
  name: 'wbc',
  description: 'reward-weighted BC: R · (−S_θ) (A-LoL baseline)',
  spec: 'ALGORITHMS.md §3.1',
  reducesTo: 'sequence NLL weighted by sg[R]',
  hyper: HYPER,
  inputs: () => [TOKEN_LOGP, MASK, REWARD],
  build(g: Graph, x: Readonly<Record<string, Tensor>>, _h: WbcHyper): ObjectiveOutput {
    return g.scope('wbc', () => {
      const lp = inputOf('wbc', x, TOKEN_LOGP);
      const reward = stopGradient(f64(inputOf('wbc', x, REWARD))); // [B]
      const s = sequenceLogProb(lp, inputOf('wbc', x, MASK)); // [B] f64
      const loss = exampleMean(mul(reward, neg(s)));
      return castOut(lp, loss, { nll: exampleMean(neg(s)) });
    });
  },
};
