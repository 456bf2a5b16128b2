/**
 * Test helpers (the `@rest/service-kit/testing` entry): a logger that keeps its lines, and ways to
 * await events with a deadline instead of sleeping (STYLE.md §9). Not for production code.
 */
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from './logger.js';

/** One captured log line: its level, message, and the fields of it and its parent loggers. */
export interface LogLine {
  readonly level: Exclude<LogLevel, 'silent'>;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A `Logger` that records every line in memory. */
export interface MemoryLogger extends Logger {
  readonly lines: readonly LogLine[];
  /**
   * Resolves with the first line (already logged or still to come) that matches.
   * @throws Error when none arrives within `timeoutMs` (ms, @default 5000)
   */
  waitFor(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** A logger for tests that keeps every line at `level` or above (@default 'trace'). */
export function createMemoryLogger(level: LogLevel = 'trace'): MemoryLogger {
  const lines: LogLine[] = [];
  const waiters = new Set<(line: LogLine) => void>();
  const threshold = LOG_LEVELS.indexOf(level);
  const make = (base: LogFields): MemoryLogger => {
    const log = (lineLevel: LogLine['level']) => (message: string, fields?: LogFields) => {
      if (LOG_LEVELS.indexOf(lineLevel) < threshold) return;
      const line: LogLine = { level: lineLevel, message, fields: { ...base, ...fields } };
      lines.push(line);
      for (const waiter of waiters) waiter(line);
    };
    return {
      level,
      lines,
      trace: log('trace'),
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (fields) => make({ ...base, ...fields }),
      waitFor(match, timeoutMs = 5_000) {
        const found = lines.find(match);
        if (found !== undefined) return Promise.resolve(found);
        return withTimeout(
          new Promise<LogLine>((resolve) => {
            const waiter = (line: LogLine): void => {
              if (!match(line)) return;
              waiters.delete(waiter);
              resolve(line);
            };
            waiters.add(waiter);
          }),
          timeoutMs,
          'a matching log line',
        );
      },
    };
  };
  return make({});
}

/**
 * Resolves or rejects like `promise`, unless `timeoutMs` passes first.
 * @throws Error `timed out after <ms> ms waiting for <what>`
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve/reject exposed, for handing signals between a test and a handler. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
