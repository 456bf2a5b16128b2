/**
 * @rest/trainer/testing: a toy translation task and a tiny random policy bundle for tests and smoke
 * runs of the trainer (and of whatever drives it). Not for production code.
 */
export {
  chrfReward,
  tinyConfig,
  tinyPolicy,
  toyCandidates,
  toyCorpus,
  toyValid,
} from './testing/toy-task.js';
