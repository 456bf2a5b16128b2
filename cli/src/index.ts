/**
 * @rest/cli as a library: the local infrastructure and stack that `rest up` / `rest demo` run, and the
 * gRPC clients of the client commands (benchmarks and tests drive the platform through these).
 */
export { infraUp, startInfra, type Infra, type InfraUpOptions } from './commands/infra.js';
export {
  importDataset,
  registerPolicyFolder,
  startStack,
  type Stack,
  type StackAddresses,
  type StackOptions,
} from './stack/stack.js';
export { ServiceProcess, type ServiceDef, type ServiceProcessOptions } from './stack/service-process.js';
export { coordinatorClient, policyClient, rewardClient, ServiceClient } from './clients.js';
