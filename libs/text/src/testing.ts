/**
 * @rest/text/testing: helpers for tests and benchmarks of the metrics — deterministic perturbed
 * hypotheses and the sacrebleu peer. Not for production code.
 */
export { perturbCorpus, perturbSentence, randomInt, seededRandom } from './testing/perturb.js';
export { runSacrebleuPeer, sacrebleuPython, type PeerResponse } from './testing/sacrebleu-peer.js';
