/**
 * @rest/proto: the platform's gRPC and NATS contracts. One namespace per .proto file holds the
 * TypeScript that ts-proto generated from it (messages with `encode`/`decode`/`fromPartial`,
 * `as const` enums, grpc-js service definitions, server interfaces and clients), plus
 * {@link loadPackageDefinition} for the proto-loader view that server reflection needs.
 *
 * Wire types stop at a service's `src/rpc/` and `src/events/` adapters (STYLE.md §4); domain
 * code never imports this package. Regenerate with `npm run gen` after editing a .proto file.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

/** rest/v1/common.proto: decoding parameters, policy references, `ServedBy`. */
export * as common from '../gen/ts/rest/v1/common.js';
/** rest/v1/policy.proto: `PolicyService` (generation, translation, scoring, routes). */
export * as policy from '../gen/ts/rest/v1/policy.js';
/** rest/v1/reward.proto: `RewardService` (reward models and metrics). */
export * as reward from '../gen/ts/rest/v1/reward.js';
/** rest/v1/trainer.proto: `TrainerService` (training jobs and their progress). */
export * as trainer from '../gen/ts/rest/v1/trainer.js';
/** rest/v1/coordinator.proto: `CoordinatorService` (runs) and `Run`. */
export * as coordinator from '../gen/ts/rest/v1/coordinator.js';
/** rest/v1/run_spec.proto: `RunSpec`, threshold schedules, optimizer and evaluation settings. */
export * as runSpec from '../gen/ts/rest/v1/run_spec.js';
/** rest/v1/objectives.proto: `Objective` and the hyperparameters of each objective family. */
export * as objectives from '../gen/ts/rest/v1/objectives.js';
/** rest/v1/events.proto: NATS payloads (work messages, `RunEvent`, policy/route notices). */
export * as events from '../gen/ts/rest/v1/events.js';
/** inference/grpc_service.proto: the KServe Open Inference Protocol v2 `GRPCInferenceService`. */
export * as inference from '../gen/ts/inference/grpc_service.js';

/** Fully qualified names of the services defined here, as health checks and reflection list them. */
export const SERVICE_NAMES = {
  policy: 'rest.v1.PolicyService',
  reward: 'rest.v1.RewardService',
  trainer: 'rest.v1.TrainerService',
  coordinator: 'rest.v1.CoordinatorService',
  inference: 'inference.GRPCInferenceService',
} as const;

/** Every .proto file of the package, relative to {@link protoRoot}. */
export const PROTO_FILES = [
  'rest/v1/common.proto',
  'rest/v1/policy.proto',
  'rest/v1/reward.proto',
  'rest/v1/trainer.proto',
  'rest/v1/objectives.proto',
  'rest/v1/run_spec.proto',
  'rest/v1/events.proto',
  'rest/v1/coordinator.proto',
  'inference/grpc_service.proto',
] as const;

// This module runs as proto/src/index.ts (tests, `--conditions=source`) and as
// proto/dist/src/index.js (built); the .proto tree sits at the package root in both cases.
const ROOT_CANDIDATES = ['../', '../../'] as const;

/**
 * The absolute path of the directory holding the .proto tree (the import root of every file in
 * {@link PROTO_FILES}).
 * @throws Error when the .proto files are not next to this module (a broken install).
 */
export function protoRoot(): string {
  for (const relative of ROOT_CANDIDATES) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}${PROTO_FILES[0]}`)) return dir;
  }
  throw new Error(`@rest/proto: .proto files not found above ${fileURLToPath(import.meta.url)}`);
}

/**
 * Loads every .proto file of the package with @grpc/proto-loader, for `@grpc/reflection`'s
 * `ReflectionService` (which describes services from a proto-loader PackageDefinition, not from
 * ts-proto's output). Serving stubs come from the generated namespaces, not from this.
 * Reads files synchronously: call it once at start-up.
 * @returns a definition with keys such as `rest.v1.PolicyService` and
 *   `inference.GRPCInferenceService`.
 * @throws Error when the .proto files are missing or do not parse.
 */
export function loadPackageDefinition(): PackageDefinition {
  return loadSync([...PROTO_FILES], {
    includeDirs: [protoRoot()],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}
