/**
 * The platform's JetStream streams and `ensureStreams()`, which creates or updates them idempotently.
 *
 * Everything here exists on nats-server 2.9 (Debian's): work-queue and limits retention, file
 * storage, `duplicate_window`, `max_age`, `discard`. Nothing newer (no per-message TTL, no
 * compression, no subject transforms, no metadata) is set, so the configs are accepted as they are.
 */
import {
  DiscardPolicy,
  JetStreamApiError,
  JetStreamApiCodes,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '@rest/service-kit';
import type { BusContext } from './context.js';
import {
  ALL_RUN_EVENTS_FILTER,
  DEAD_LETTER_FILTER,
  STREAMS,
  WORK_QUEUES,
  maxDeliveriesAdvisorySubject,
  updateSubject,
  workStream,
  workSubject,
} from './subjects.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Limits of the streams; every duration is in milliseconds. */
export interface StreamOptions {
  /**
   * How long a `Nats-Msg-Id` is remembered for de-duplication, on every stream. Must cover the
   * longest publisher retry (a coordinator that crashes and republishes a step on restart).
   * @default 600_000 (10 min)
   */
  readonly duplicateWindowMs?: number;
  /** How long run events are kept. @default 30 days */
  readonly runEventsMaxAgeMs?: number;
  /** How long policy/route notices are kept. @default 7 days */
  readonly updatesMaxAgeMs?: number;
  /** How long dead letters are kept for inspection. @default 30 days */
  readonly deadLetterMaxAgeMs?: number;
  /** Stream replicas (1 on a single server, 3 on a cluster). @default 1 */
  readonly replicas?: number;
}

interface ResolvedStreamOptions {
  readonly duplicateWindowMs: number;
  readonly runEventsMaxAgeMs: number;
  readonly updatesMaxAgeMs: number;
  readonly deadLetterMaxAgeMs: number;
  readonly replicas: number;
}

/** Defaults of {@link StreamOptions}. */
export const DEFAULT_STREAM_OPTIONS: Readonly<ResolvedStreamOptions> = Object.freeze({
  duplicateWindowMs: 10 * MINUTE_MS,
  runEventsMaxAgeMs: 30 * DAY_MS,
  updatesMaxAgeMs: 7 * DAY_MS,
  deadLetterMaxAgeMs: 30 * DAY_MS,
  replicas: 1,
});

function resolve(options: StreamOptions): ResolvedStreamOptions {
  const r = { ...DEFAULT_STREAM_OPTIONS, ...stripUndefined(options) };
  const violations = [];
  for (const key of [
    'duplicateWindowMs',
    'runEventsMaxAgeMs',
    'updatesMaxAgeMs',
    'deadLetterMaxAgeMs',
  ] as const) {
    if (!Number.isInteger(r[key]) || r[key] <= 0)
      violations.push({ field: key, problem: 'must be a positive integer (ms)' });
  }
  for (const key of ['runEventsMaxAgeMs', 'updatesMaxAgeMs', 'deadLetterMaxAgeMs'] as const) {
    if (r[key] < r.duplicateWindowMs)
      violations.push({ field: key, problem: 'must be at least duplicateWindowMs' });
  }
  if (!Number.isInteger(r.replicas) || r.replicas < 1 || r.replicas > 5) {
    violations.push({ field: 'replicas', problem: 'must be an integer in [1, 5]' });
  }
  if (violations.length > 0) throw InvalidArgumentError.fromViolations(violations);
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A stream config with its name set. */
export type NamedStreamConfig = Partial<StreamConfig> & { readonly name: string };

/**
 * The configs `ensureStreams()` applies, in order. Exposed so tests and `rest infra` can show them.
 * @throws InvalidArgumentError when an option is out of range (every problem at once).
 */
export function streamConfigs(options: StreamOptions = {}): NamedStreamConfig[] {
  const o = resolve(options);
  const common = {
    storage: StorageType.File,
    num_replicas: o.replicas,
    duplicate_window: nanos(o.duplicateWindowMs),
    discard: DiscardPolicy.Old,
  };
  const work = WORK_QUEUES.map((queue): NamedStreamConfig => ({
    ...common,
    name: workStream(queue),
    subjects: [workSubject(queue)],
    // Work-queue retention: a message is removed once acked (or terminated); until then it stays
    // even past max_deliver, which is what lets the dead-letter mover fetch it by sequence.
    retention: RetentionPolicy.Workqueue,
    // Refuse new work rather than silently dropping queued shards when a limit is hit.
    discard: DiscardPolicy.New,
  }));
  return [
    ...work,
    {
      ...common,
      name: STREAMS.runs,
      subjects: [ALL_RUN_EVENTS_FILTER],
      retention: RetentionPolicy.Limits,
      max_age: nanos(o.runEventsMaxAgeMs),
    },
    {
      ...common,
      name: STREAMS.updates,
      subjects: [updateSubject('policies'), updateSubject('routes')],
      retention: RetentionPolicy.Limits,
      max_age: nanos(o.updatesMaxAgeMs),
    },
    {
      ...common,
      name: STREAMS.deadLetter,
      subjects: [DEAD_LETTER_FILTER],
      retention: RetentionPolicy.Limits,
      max_age: nanos(o.deadLetterMaxAgeMs),
    },
    {
      ...common,
      // The server's max-deliveries advisories are plain core-NATS messages, lost when nobody
      // listens. Capturing them in a work-queue stream makes the dead-letter path survive mover
      // restarts: an advisory stays until a mover has moved its message.
      name: STREAMS.advisories,
      subjects: WORK_QUEUES.map((queue) => maxDeliveriesAdvisorySubject(workStream(queue), '*')),
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(Math.min(o.duplicateWindowMs, 2 * MINUTE_MS)),
      max_age: nanos(o.deadLetterMaxAgeMs),
    },
  ];
}

/**
 * Creates every stream that is missing and updates those whose mutable settings differ; safe to
 * call from every service on start-up, concurrently.
 * @throws InvalidArgumentError when an option is out of range.
 * @throws FailedPreconditionError when an existing stream cannot be updated (e.g. its retention or
 *   storage differs: those are immutable on the server).
 * @throws UnavailableError when JetStream does not answer.
 */
export async function ensureStreams(ctx: BusContext, options: StreamOptions = {}): Promise<void> {
  for (const config of streamConfigs(options)) {
    const name = config.name;
    let exists: boolean;
    try {
      await ctx.jsm.streams.info(name);
      exists = true;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) {
        throw new UnavailableError(`stream info ${name} failed`, { cause: err });
      }
      exists = false;
    }
    try {
      if (exists) {
        await ctx.jsm.streams.update(name, config);
      } else {
        await ctx.jsm.streams.add(config);
        ctx.logger.info('stream created', { stream: name });
      }
    } catch (err) {
      if (err instanceof JetStreamApiError) {
        // A concurrent creator may have won the race between `info` and `add`; identical configs
        // are accepted by the server, so only a real mismatch lands here.
        throw new FailedPreconditionError(`stream ${name}: ${err.message}`, { cause: err });
      }
      throw new UnavailableError(`stream ${exists ? 'update' : 'add'} ${name} failed`, { cause: err });
    }
  }
}
