/**
 * The one handler wrapper (STYLE.md §5): it turns a domain-level `async (request, ctx) => response`
 * (or an async generator for server streaming) into a grpc-js handler, and it is the only code that
 * writes a status.
 *
 * - A `ServiceError` goes out as its code and message; `InvalidArgumentError` also sends its
 *   violations as JSON in the `rest-field-violations-bin` trailer (the message already lists them).
 * - Anything else goes out as INTERNAL "internal error (ref <requestId>)" and is logged once, with its
 *   cause chain. Callers never see stacks or raw messages.
 * - One log line per finished call, with `rpc`, `requestId`, `code` and `durationMs`, and the
 *   metrics observation.
 * - Handlers return values instead of calling back, so they cannot answer twice.
 *
 * It does not do client or bidirectional streaming: no API in DESIGN.md needs them.
 */
import { once } from 'node:events';
import {
  Metadata,
  status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type handleServerStreamingCall,
  type handleUnaryCall,
} from '@grpc/grpc-js';
import { InvalidArgumentError, ServiceError } from '../errors.js';
import { errorChain } from '../error-chain.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { openCallScope, REQUEST_ID_KEY, requestIdOf, type CallContext } from './context.js';
import type { CallTracker } from './call-tracker.js';

/** A unary handler: parse, call the domain, return the response; throw a `ServiceError` to refuse. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming handler: an async iterable (usually an `async function*`) of responses. */
export type ServerStreamHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/** A unary method implementation, made by {@link unary}. */
export interface UnaryMethod<Req, Res> {
  readonly kind: 'unary';
  readonly handler: UnaryHandler<Req, Res>;
}
/** A server-streaming method implementation, made by {@link serverStream}. */
export interface ServerStreamMethod<Req, Res> {
  readonly kind: 'serverStream';
  readonly handler: ServerStreamHandler<Req, Res>;
}
/** Any method implementation `startGrpcServer` accepts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request/response types are checked where the handler is written
export type MethodImplementation = UnaryMethod<any, any> | ServerStreamMethod<any, any>;

/** Marks a domain-level function as a unary method implementation. */
export function unary<Req, Res>(handler: UnaryHandler<Req, Res>): UnaryMethod<Req, Res> {
  return { kind: 'unary', handler };
}

/**
 * Marks an async-iterable producer as a server-streaming implementation. The wrapper pulls one item
 * at a time and waits for the transport to drain before pulling the next (backpressure); on cancel,
 * deadline or error it stops pulling and calls the iterator's `return()` so `finally` blocks run.
 */
export function serverStream<Req, Res>(handler: ServerStreamHandler<Req, Res>): ServerStreamMethod<Req, Res> {
  return { kind: 'serverStream', handler };
}

/** Trailer key with an `InvalidArgumentError`'s violations as UTF-8 JSON `[{field, problem}]`. */
export const FIELD_VIOLATIONS_KEY = 'rest-field-violations-bin';

/** What the wrapper needs from the server around it. */
export interface CallRuntime {
  readonly logger: Logger;
  readonly metrics: ServerMetrics | undefined;
  readonly tracker: CallTracker;
}

interface Outcome {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  /** Set when the error was unexpected: logged at error level with its chain. */
  readonly unexpected?: unknown;
}

/** Maps a thrown value to the status the caller sees. */
export function outcomeOf(error: unknown, requestId: string, signal?: AbortSignal): Outcome {
  const metadata = trailer(requestId);
  // Once the call was cancelled or expired, that is the status on the wire, whatever the handler threw.
  const cause = signal?.aborted === true && signal.reason instanceof ServiceError ? signal.reason : error;
  if (cause instanceof ServiceError) {
    if (cause instanceof InvalidArgumentError && cause.violations.length > 0) {
      metadata.set(FIELD_VIOLATIONS_KEY, Buffer.from(JSON.stringify(cause.violations), 'utf8'));
    }
    return {
      code: cause.code,
      details: cause.message,
      metadata,
      ...(cause.code === status.INTERNAL ? { unexpected: cause } : {}),
    };
  }
  return { code: status.INTERNAL, details: `internal error (ref ${requestId})`, metadata, unexpected: error };
}

function trailer(requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_KEY, requestId);
  return metadata;
}

/** The status name, e.g. `INVALID_ARGUMENT`, used as the `code` log field and metrics label. */
export function codeName(code: status): string {
  return status[code] ?? String(code);
}

interface Finish {
  (outcome: { code: status; unexpected?: unknown; details?: string }): void;
}

function finisher(runtime: CallRuntime, rpc: string, log: Logger): Finish {
  const startedMs = performance.now();
  runtime.metrics?.inFlight.inc({ rpc });
  let finished = false;
  return (outcome) => {
    if (finished) return;
    finished = true;
    const durationMs = Math.round((performance.now() - startedMs) * 1000) / 1000;
    const code = codeName(outcome.code);
    runtime.metrics?.inFlight.dec({ rpc });
    runtime.metrics?.observe(rpc, code, durationMs);
    if (outcome.unexpected !== undefined) {
      log.error('rpc failed', { code, durationMs, err: errorChain(outcome.unexpected) });
    } else if (outcome.code === status.OK) {
      log.info('rpc finished', { code, durationMs });
    } else {
      log.info('rpc finished', { code, durationMs, details: outcome.details });
    }
  };
}

const SHUTTING_DOWN = 'server is shutting down; retry on another replica';

/** Wraps a unary implementation for grpc-js; internal to `startGrpcServer`. */
export function wrapUnary(
  method: UnaryMethod<unknown, unknown>,
  rpc: string,
  runtime: CallRuntime,
): handleUnaryCall<unknown, unknown> {
  return (call: ServerUnaryCall<unknown, unknown>, callback) => {
    const requestId = requestIdOf(call.metadata);
    const log = runtime.logger.child({ rpc, requestId });
    const finish = finisher(runtime, rpc, log);
    if (!runtime.tracker.begin()) {
      finish({ code: status.UNAVAILABLE, details: SHUTTING_DOWN });
      callback({ code: status.UNAVAILABLE, details: SHUTTING_DOWN, metadata: trailer(requestId) });
      return;
    }
    const scope = openCallScope(call, rpc, requestId, log, runtime.tracker.closing);
    let answered = false;
    const answer = (error: unknown, value?: unknown): void => {
      if (answered) return;
      answered = true;
      scope.dispose();
      runtime.tracker.end();
      if (error === undefined && !scope.ctx.signal.aborted) {
        finish({ code: status.OK });
        callback(null, value, trailer(requestId));
        return;
      }
      const outcome = outcomeOf(error, requestId, scope.ctx.signal);
      finish(outcome);
      callback({ code: outcome.code, details: outcome.details, metadata: outcome.metadata });
    };
    invoke(() => method.handler(call.request, scope.ctx)).then(
      (value) => answer(undefined, value),
      (error: unknown) => answer(error ?? new Error('handler rejected with nothing')),
    );
  };
}

function invoke<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

const ABORTED = Symbol('aborted');
/** Messages written without a drain wait before the stream loop yields to the event loop. */
const YIELD_EVERY = 64;

function untilAborted(signal: AbortSignal): { promise: Promise<typeof ABORTED>; release(): void } {
  let release = (): void => {};
  const promise = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) return resolve(ABORTED);
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    release = () => signal.removeEventListener('abort', onAbort);
  });
  return { promise, release };
}

/** Wraps a server-streaming implementation for grpc-js; internal to `startGrpcServer`. */
export function wrapServerStream(
  method: ServerStreamMethod<unknown, unknown>,
  rpc: string,
  runtime: CallRuntime,
): handleServerStreamingCall<unknown, unknown> {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const requestId = requestIdOf(call.metadata);
    const log = runtime.logger.child({ rpc, requestId });
    const finish = finisher(runtime, rpc, log);
    if (!runtime.tracker.begin()) {
      finish({ code: status.UNAVAILABLE, details: SHUTTING_DOWN });
      call.emit('error', { code: status.UNAVAILABLE, details: SHUTTING_DOWN, metadata: trailer(requestId) });
      return;
    }
    const scope = openCallScope(call, rpc, requestId, log, runtime.tracker.closing);
    const { signal } = scope.ctx;
    const aborted = untilAborted(signal);
    let iterator: AsyncIterator<unknown> | undefined;
    const pump = async (): Promise<void> => {
      iterator = method.handler(call.request, scope.ctx)[Symbol.asyncIterator]();
      for (let sinceYield = 0; ; sinceYield++) {
        const next = await Promise.race([iterator.next(), aborted.promise]);
        if (next === ABORTED) throw signal.reason;
        if (next.done === true) return;
        if (!call.write(next.value)) {
          // Backpressure: pull nothing more until the transport has room (or the call is gone).
          const drained = await Promise.race([once(call, 'drain').then(() => true), aborted.promise]);
          if (drained === ABORTED) throw signal.reason;
          sinceYield = 0;
        } else if (sinceYield >= YIELD_EVERY) {
          // A generator that never awaits I/O would otherwise keep this loop in microtasks and starve
          // the event loop (cancellations, other calls, health checks).
          await new Promise<void>((resolve) => setImmediate(resolve));
          sinceYield = 0;
        }
      }
    };
    invoke(pump).then(
      () => {
        cleanup();
        if (signal.aborted) {
          finish(outcomeOf(signal.reason, requestId, signal));
          return;
        }
        finish({ code: status.OK });
        call.end(trailer(requestId));
      },
      (error: unknown) => {
        cleanup();
        // A generator still suspended in an await finishes its `finally` when that await settles;
        // nobody waits for it, and what it throws then is of no use to anyone.
        iterator?.return?.().catch(() => {});
        const outcome = outcomeOf(error, requestId, signal);
        finish(outcome);
        if (!signal.aborted)
          call.emit('error', { code: outcome.code, details: outcome.details, metadata: outcome.metadata });
      },
    );
    function cleanup(): void {
      aborted.release();
      scope.dispose();
      runtime.tracker.end();
    }
  };
}
