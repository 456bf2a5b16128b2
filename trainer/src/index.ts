export { CONFIG, type Config } from './config.js';
export {
  OBJECTIVES,
  OBJECTIVE_NAMES,
  isObjectiveName,
  parseObjectiveHyper,
  objectiveInputs,
  declareObjectiveInputs,
  buildObjective,
  type ObjectiveName,
  type ObjectiveHyper,
  type ObjectiveHyperInput,
} from './objectives/registry.js';
export {
  ObjectiveInputError,
  type Objective,
  type ObjectiveInput,
  type ObjectiveOutput,
} from './objectives/objective.js';
export { tokenLogProbs, tokenLogProbsWithMean, sequenceLogProb } from './objectives/log-probs.js';
export { monteCarloValues, monteCarloBaseline, type ScoredExample } from './objectives/mc-baseline.js';
export { bvmpoKlWeight, type BvmpoHyper } from './objectives/bvmpo.js';
export type { BcHyper } from './objectives/bc.js';
export type { WbcHyper } from './objectives/wbc.js';
export type { GoldHyper } from './objectives/gold.js';
export type { OacHyper } from './objectives/oac.js';
export type { AlolClippedHyper, AlolKlHyper } from './objectives/alol.js';
export type { DpoHyper } from './objectives/dpo.js';
export type { HypoHyper } from './objectives/hypo.js';
