export { CONFIG, loadConfig, type Config } from './config.js';
export {
  decodingKey,
  drawSeed,
  resolveDecoding,
  rowsPerSource,
  sourceCost,
  sourceSeed,
  type DecodingProblem,
  type DecodingRequest,
  type ResolvedDecoding,
  type StrategyRequest,
} from './decoding/decoding.js';
export {
  DecodeEngine,
  type BatchKind,
  type DecodeEngineOptions,
  type TargetScore,
} from './decoding/decode-engine.js';
export { Gate } from './decoding/gate.js';
export { loadPolicy, onnxBytes, ONNX_FILES, type LoadedPolicy } from './policies/loaded-policy.js';
export {
  ModelPool,
  type ModelPoolOptions,
  type PolicyLease,
  type PolicyLoader,
} from './policies/model-pool.js';
export {
  PolicyCatalog,
  type PolicyCatalogOptions,
  type PolicyRecord,
  type Registry,
} from './policies/policy-catalog.js';
export {
  createPolicyMetrics,
  type PolicyApi,
  type PolicyMetrics,
  type ServedLabels,
} from './policy-metrics.js';
export { assign, routePoint, variantAt, type Assignment } from './routing/assignment.js';
export { RouteTable, type Route, type RouteVariant } from './routing/route.js';
export { startPolicyServer, type PolicyServer, type StartPolicyServerOptions } from './server.js';
