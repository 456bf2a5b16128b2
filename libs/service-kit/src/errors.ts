/**
 * The platform's error classes and the one table that maps each to a gRPC status code.
 *
 * Add a class only when a caller would handle it differently (STYLE.md §5). Every class takes
 * `(message, { cause })`; the message is what a caller sees, so it names the field or resource.
 * Anything that is not a `ServiceError` is unexpected: the gRPC handler wrapper answers it as
 * INTERNAL with a reference id and never forwards its message.
 */
import { status } from '@grpc/grpc-js';

/** Options every service error accepts. */
export interface ServiceErrorOptions {
  /** The underlying error, kept for logs; never shown to callers. */
  readonly cause?: unknown;
}

/** Base class of the errors whose message may be shown to a caller. */
export abstract class ServiceError extends Error {
  /** The gRPC status this error travels as. */
  abstract readonly code: status;

  constructor(message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** One problem with one field of an input, e.g. `GenerateRequest.sources[3]: must be non-empty`. */
export interface FieldViolation {
  /** Dotted/indexed path of the field, e.g. `GenerateRequest.sources[3]`. */
  readonly field: string;
  /** What is wrong, e.g. `must be non-empty`. */
  readonly problem: string;
}

/** The input is malformed or out of range. Carries every violation found, not just the first. */
export class InvalidArgumentError extends ServiceError {
  readonly code = status.INVALID_ARGUMENT;
  readonly violations: readonly FieldViolation[];

  constructor(
    message: string,
    options: ServiceErrorOptions & { violations?: readonly FieldViolation[] } = {},
  ) {
    super(message, options);
    this.violations = options.violations ?? [];
  }

  /** Builds one error from a list of violations: its message lists them all, `; `-separated. */
  static fromViolations(violations: readonly FieldViolation[]): InvalidArgumentError {
    const message = violations.map((v) => `${v.field}: ${v.problem}`).join('; ');
    return new InvalidArgumentError(message, { violations });
  }
}

/** A named resource (policy, route, run, job, model) does not exist. */
export class NotFoundError extends ServiceError {
  readonly code = status.NOT_FOUND;
}

/** The request is valid but the system is not in a state to do it (e.g. a stale route version). */
export class FailedPreconditionError extends ServiceError {
  readonly code = status.FAILED_PRECONDITION;
}

/** A queue, batch or concurrency limit is full; the caller may retry later. */
export class ResourceExhaustedError extends ServiceError {
  readonly code = status.RESOURCE_EXHAUSTED;
}

/** A dependency (database, broker, peer service) is unreachable; safe to retry idempotent calls. */
export class UnavailableError extends ServiceError {
  readonly code = status.UNAVAILABLE;
}

/** The caller's deadline passed before the work finished. */
export class DeadlineExceededError extends ServiceError {
  readonly code = status.DEADLINE_EXCEEDED;
}

/** A bug or broken invariant whose message is safe to show (rare: prefer letting unknown errors map). */
export class InternalError extends ServiceError {
  readonly code = status.INTERNAL;
}

/** The caller cancelled the call. */
export class CancelledError extends ServiceError {
  readonly code = status.CANCELLED;
}
