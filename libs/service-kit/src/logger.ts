/**
 * The `Logger` interface code depends on (STYLE.md §7), and its JSON-lines implementation on pino.
 *
 * Fixed field names: service, component, requestId, rpc, code, durationMs, runId, policyId, step.
 */
import { pino, type Logger as PinoLogger } from 'pino';

/** Log levels, lowest first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** What code logs through: a message plus fields, and children that carry fields forward. */
export interface Logger {
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose every line also carries `fields`. */
  child(fields: LogFields): Logger;
  /** The active level; `isLevelEnabled` style checks compare against it. */
  readonly level: LogLevel;
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Value of the `service` field on every line. */
  readonly service: string;
  /** @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default process stdout */
  readonly destination?: NodeJS.WritableStream;
}

class PinoAdapter implements Logger {
  constructor(private readonly inner: PinoLogger) {}
  get level(): LogLevel {
    return this.inner.level as LogLevel;
  }
  trace(message: string, fields?: LogFields): void {
    this.inner.trace(fields ?? {}, message);
  }
  debug(message: string, fields?: LogFields): void {
    this.inner.debug(fields ?? {}, message);
  }
  info(message: string, fields?: LogFields): void {
    this.inner.info(fields ?? {}, message);
  }
  warn(message: string, fields?: LogFields): void {
    this.inner.warn(fields ?? {}, message);
  }
  error(message: string, fields?: LogFields): void {
    this.inner.error(fields ?? {}, message);
  }
  child(fields: LogFields): Logger {
    return new PinoAdapter(this.inner.child(fields));
  }
}

/** A JSON-lines logger: one object per line with `level`, `time`, `service`, `msg` and the fields. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const base = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.errWithCause },
    },
    options.destination ?? process.stdout,
  );
  return new PinoAdapter(base);
}

/** A logger that drops everything: for tests and for libraries called without one. */
export const NOOP_LOGGER: Logger = {
  level: 'silent',
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => NOOP_LOGGER,
};
