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
export {
  createLogger,
  NOOP_LOGGER,
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  type LogFields,
  type CreateLoggerOptions,
} from './logger.js';
