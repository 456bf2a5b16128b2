// @rest/runtime/testing: helpers for numeric tests (finite-difference gradient checks).
export { gradCheck, randF64, i64s, uniform, rng, OP_GRAD_TOLERANCE } from './gradient-check.js';
export type { GradCheckResult, GradCheckOptions } from './gradient-check.js';
export { gradCases } from './op-cases.js';
export type { GradCase } from './op-cases.js';
export { OrtBeamSearch, OrtBeamSearchError } from '../policy/ort-beam-search.js';
export type { OrtBeamOptions, OrtCandidate } from '../policy/ort-beam-search.js';
