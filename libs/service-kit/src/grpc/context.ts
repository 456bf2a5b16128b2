/**
 * The per-call context a domain-level handler receives: request id, child logger, inbound deadline,
 * and an AbortSignal that fires when the client cancels or the deadline passes.
 */
import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { CancelledError, DeadlineExceededError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Metadata key carrying the request id in and out (echoed in trailers). */
export const REQUEST_ID_KEY = 'x-request-id';

/** A caller's request id is kept only if it looks like an id; anything else is replaced, not logged. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** A cancel this close to the deadline (ms) is taken as the deadline passing; see `openCallScope`. */
const DEADLINE_SLACK_MS = 100;

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** The method, e.g. `rest.v1.PolicyService/Generate`. */
  readonly rpc: string;
  /** From the caller's `x-request-id` metadata, or generated. */
  readonly requestId: string;
  /** A child logger carrying `rpc` and `requestId`. */
  readonly logger: Logger;
  /** The caller's metadata. */
  readonly metadata: Metadata;
  /** The inbound deadline, or undefined when the caller set none. */
  readonly deadline: Date | undefined;
  /**
   * Fires when the client cancels (reason: `CancelledError`) or the deadline passes (reason:
   * `DeadlineExceededError`). Pass it to everything the handler awaits.
   */
  readonly signal: AbortSignal;
  /**
   * Fires when the server starts shutting down. Long-lived streams (watches) should end when it fires,
   * so clients reconnect to another replica instead of holding the drain open.
   */
  readonly closing: AbortSignal;
}

/** Something with a deadline: a {@link CallContext}, or `{ deadline }` for work that is not an RPC. */
export interface DeadlineSource {
  readonly deadline: Date | undefined;
}

/** Milliseconds left before `source`'s deadline (may be ≤ 0), or `Infinity` when it has none. */
export function remainingMs(source: DeadlineSource, nowMs: number = Date.now()): number {
  return source.deadline === undefined ? Infinity : source.deadline.getTime() - nowMs;
}

/** The caller's request id when it is well-formed, else a fresh UUID. */
export function requestIdOf(metadata: Metadata): string {
  const value = metadata.get(REQUEST_ID_KEY)[0];
  return typeof value === 'string' && REQUEST_ID_PATTERN.test(value) ? value : randomUUID();
}

/** A call's context plus the cleanup the wrapper runs when the call finishes. */
export interface CallScope {
  readonly ctx: CallContext;
  dispose(): void;
}

/** The parts of a grpc-js server call the context needs (grpc-js does not export a name for them). */
export interface InboundCall {
  readonly cancelled: boolean;
  readonly metadata: Metadata;
  getDeadline(): Date | number;
  on(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

/** Builds the context of one call; internal to the handler wrapper. */
export function openCallScope(
  call: InboundCall,
  rpc: string,
  requestId: string,
  logger: Logger,
  closing: AbortSignal,
): CallScope {
  const controller = new AbortController();
  const raw = call.getDeadline();
  const deadlineMs = raw instanceof Date ? raw.getTime() : raw;
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
  const expire = (): void => controller.abort(new DeadlineExceededError('deadline exceeded'));
  // grpc-js ends an expired call itself without always emitting 'cancelled', so the deadline gets its own timer.
  const timer = deadline === undefined ? undefined : setTimeout(expire, Math.max(0, deadlineMs - Date.now()));
  const onCancelled = (): void => {
    // A client whose deadline passes resets the stream with CANCEL (HTTP/2 has no deadline code), and
    // that reset can arrive before our timer, whose deadline was read later from `grpc-timeout`.
    if (deadline !== undefined && deadlineMs - Date.now() <= DEADLINE_SLACK_MS) expire();
    else controller.abort(new CancelledError('the client cancelled the call'));
  };
  call.on('cancelled', onCancelled);
  if (call.cancelled) onCancelled();
  return {
    ctx: { rpc, requestId, logger, metadata: call.metadata, deadline, signal: controller.signal, closing },
    dispose() {
      clearTimeout(timer);
      call.off('cancelled', onCancelled);
    },
  };
}
