/**
 * Outbound calls: deadlines derived from the inbound one, and the one retry policy (STYLE.md §5).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, status, type CallOptions } from '@grpc/grpc-js';
import { DeadlineExceededError } from '../errors.js';
import { REQUEST_ID_KEY, remainingMs, type DeadlineSource } from './context.js';

/**
 * Call options for an outbound call made while serving `parent`: the deadline is `maxMs` from now,
 * or the parent's deadline if that comes first.
 * @param maxMs longest this call may take, in ms
 * @throws DeadlineExceededError when the parent's deadline has already passed
 */
export function callOptions(parent: DeadlineSource, maxMs: number): CallOptions & { deadline: Date } {
  const nowMs = Date.now();
  const leftMs = remainingMs(parent, nowMs);
  if (leftMs <= 0) throw new DeadlineExceededError('deadline exceeded before an outbound call could start');
  return { deadline: new Date(nowMs + Math.min(maxMs, leftMs)) };
}

/** Outbound metadata carrying the request id on to the next service, so its logs line up with ours. */
export function outboundMetadata(ctx: { readonly requestId: string }): Metadata {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_KEY, ctx.requestId);
  return metadata;
}

/**
 * The status codes worth retrying. Only UNAVAILABLE: it means the request never reached a server that
 * acted on it (connection refused or reset, replica draining), so a retry elsewhere is likely to work.
 * DEADLINE_EXCEEDED is left out because the budget is spent; RESOURCE_EXHAUSTED because retrying adds
 * load to a server that is shedding it; everything else because the answer would not change.
 */
export const RETRYABLE_CODES: ReadonlySet<status> = new Set([status.UNAVAILABLE]);

/** Hard cap on attempts, whatever the caller asks for: retries multiply load across service hops. */
const MAX_ATTEMPTS = 3;

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /**
   * Whether the call is safe to repeat. Non-idempotent calls are made once: a retry after an
   * ambiguous failure could apply them twice.
   */
  readonly idempotent: boolean;
  /** The deadline retries must fit in (the inbound call's context). @default no deadline */
  readonly parent?: DeadlineSource;
  /** Stops waiting between attempts. */
  readonly signal?: AbortSignal;
  /** Attempts including the first, capped at 3. @default 3 */
  readonly maxAttempts?: number;
  /** Backoff cap before jitter for the first retry, doubled each time. @default 100 */
  readonly baseDelayMs?: number;
  /** Largest backoff before jitter. @default 2000 */
  readonly maxDelayMs?: number;
  /** An attempt is not started with less room than this before the parent deadline. @default 50 */
  readonly minAttemptMs?: number;
  /** Source of jitter in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Called before each retry, e.g. to log it. */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Whether an error carries a gRPC status code in {@link RETRYABLE_CODES}. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && RETRYABLE_CODES.has(code);
}

/**
 * Runs `call(attempt)` (attempt counts from 1) and retries it on a retryable status, only for
 * idempotent calls, at most 3 attempts, with full-jitter exponential backoff, and only while the
 * parent deadline leaves room for the wait plus `minAttemptMs`.
 * @throws the last error when it is not retried; the signal's reason when aborted while waiting
 */
export async function withRetry<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const maxAttempts = options.idempotent
    ? Math.min(MAX_ATTEMPTS, Math.max(1, options.maxAttempts ?? MAX_ATTEMPTS))
    : 1;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const minAttemptMs = options.minAttemptMs ?? 50;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= maxAttempts || !isRetryable(error)) throw error;
      const delayMs = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      const leftMs = options.parent === undefined ? Infinity : remainingMs(options.parent);
      if (leftMs - delayMs < minAttemptMs) throw error;
      options.onRetry?.({ attempt, delayMs, error });
      options.signal?.throwIfAborted();
      if (delayMs > 0) {
        try {
          await sleep(delayMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
        } catch (sleepError) {
          options.signal?.throwIfAborted();
          throw sleepError;
        }
      }
    }
  }
}
