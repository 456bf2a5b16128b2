export {
  ServiceError,
  InvalidArgumentError,
  NotFoundError,
  FailedPreconditionError,
  ResourceExhaustedError,
  UnavailableError,
  DeadlineExceededError,
  InternalError,
  CancelledError,
  type FieldViolation,
  type ServiceErrorOptions,
} from './errors.js';
export { errorChain, type ErrorLink } from './error-chain.js';
export {
  createLogger,
  NOOP_LOGGER,
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  type LogFields,
  type CreateLoggerOptions,
} from './logger.js';
export {
  defineConfig,
  ConfigError,
  type ConfigDefinition,
  type ConfigSpec,
  type ConfigInputs,
  type ConfigProblem,
  type ConfigProblemSource,
  type DeepReadonly,
} from './config.js';
export {
  duration,
  byteSize,
  secret,
  envVarOf,
  type ConfigKeyInfo,
  type ConfigValueKind,
} from './config-schema.js';
export { grpcServerConfigShape, type GrpcServerConfigDefaults } from './grpc/server-config.js';
export { infraConfigShape } from './infra-config.js';
export { parseDurationMs, parseBytes } from './units.js';
export { validate, Violations } from './validate.js';
export { Batcher, type BatcherOptions, type BatchInfo } from './batching.js';
export {
  createServerMetrics,
  startMetricsServer,
  type ServerMetrics,
  type CreateServerMetricsOptions,
  type MetricsServer,
  type StartMetricsServerOptions,
} from './metrics.js';
export { REQUEST_ID_KEY, remainingMs, type CallContext, type DeadlineSource } from './grpc/context.js';
export {
  unary,
  serverStream,
  codeName,
  FIELD_VIOLATIONS_KEY,
  type UnaryHandler,
  type ServerStreamHandler,
  type UnaryMethod,
  type ServerStreamMethod,
  type MethodImplementation,
} from './grpc/handler.js';
export {
  callOptions,
  outboundMetadata,
  withRetry,
  isRetryable,
  RETRYABLE_CODES,
  type RetryOptions,
} from './grpc/deadline.js';
export {
  startGrpcServer,
  type StartGrpcServerOptions,
  type RunningGrpcServer,
  type GrpcServiceBinding,
} from './grpc/server.js';
export {
  installSignalHandlers,
  type InstallSignalHandlersOptions,
  type SignalHandlers,
  type SignalSource,
  type ShutdownStep,
} from './shutdown.js';
