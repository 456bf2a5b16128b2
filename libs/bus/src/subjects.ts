/**
 * Every NATS subject, stream name and durable consumer name the platform uses (STYLE.md §3: subject
 * strings are built here and nowhere else).
 *
 * Subject map (DESIGN.md "Events"):
 *   rest.work.grow | rest.work.improve | rest.work.eval     work queues, one stream each
 *   rest.runs.<run>.<event>                                  run-event log; <event> keeps its dots,
 *                                                            e.g. rest.runs.r42.grow.shard.done
 *   rest.policies.published | rest.routes.updated            policy-server reload notices
 *   rest.dead.work.<queue>                                   dead letters of a work queue
 *
 * Run events keep their dots as subject tokens, so `rest.runs.<run>.>` selects one run,
 * `rest.runs.*.run.completed` one event kind across runs, and parsing back is unambiguous because
 * the run id is always exactly one token and the event set is closed.
 *
 * This module does not talk to NATS; it only builds, validates and parses names.
 */
import { InvalidArgumentError } from '@rest/service-kit';

/** The work queues of DESIGN.md: one Grow shard, one Improve step or one evaluation per message. */
export const WORK_QUEUES = ['grow', 'improve', 'eval'] as const;
/** One of {@link WORK_QUEUES}. */
export type WorkQueue = (typeof WORK_QUEUES)[number];

/** The run events of DESIGN.md, in the order a healthy run emits them. */
export const RUN_EVENTS = [
  'grow.started',
  'grow.shard.done',
  'grow.completed',
  'improve.started',
  'improve.progress',
  'improve.completed',
  'eval.completed',
  'run.completed',
  'run.failed',
] as const;
/** One of {@link RUN_EVENTS}. */
export type RunEvent = (typeof RUN_EVENTS)[number];

/** The policy-server reload notices. */
export const UPDATE_KINDS = ['policies', 'routes'] as const;
/** One of {@link UPDATE_KINDS}. */
export type UpdateKind = (typeof UPDATE_KINDS)[number];

declare const subjectBrand: unique symbol;
/**
 * A concrete subject built by this module (no wildcards). The brand keeps hand-written strings out
 * of publish calls; `K` says which family it belongs to.
 */
export type Subject<K extends string> = string & { readonly [subjectBrand]: K };
/** A `rest.work.<queue>` subject. */
export type WorkSubject = Subject<'work'>;
/** A subject of the run-event log or of the policy/route notices. */
export type EventSubject = Subject<'event'>;

/** JetStream stream names. Work queues get one stream each so limits and advisories stay per queue. */
export const STREAMS = {
  workGrow: 'REST_WORK_GROW',
  workImprove: 'REST_WORK_IMPROVE',
  workEval: 'REST_WORK_EVAL',
  runs: 'REST_RUNS',
  updates: 'REST_UPDATES',
  deadLetter: 'REST_DEAD_LETTER',
  advisories: 'REST_WORK_ADVISORIES',
} as const;
/** One of the values of {@link STREAMS}. */
export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];

const PREFIX = 'rest';
const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const RUN_EVENT_SET: ReadonlySet<string> = new Set(RUN_EVENTS);

/** True when `value` is one of {@link WORK_QUEUES}. */
export function isWorkQueue(value: string): value is WorkQueue {
  return (WORK_QUEUES as readonly string[]).includes(value);
}

/** True when `value` is one of {@link RUN_EVENTS}. */
export function isRunEvent(value: string): value is RunEvent {
  return RUN_EVENT_SET.has(value);
}

/**
 * Checks that a run id can be one subject token: 1-128 characters from `[A-Za-z0-9_-]` (so no dots,
 * no `*`/`>` wildcards, no whitespace). Returns it unchanged.
 * @throws InvalidArgumentError naming the field `runId` otherwise.
 */
export function validateRunId(runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw InvalidArgumentError.fromViolations([
      {
        field: 'runId',
        problem: `must match ${RUN_ID_PATTERN.source} (no dots, wildcards or spaces), got ${JSON.stringify(runId)}`,
      },
    ]);
  }
  return runId;
}

function checkWorkQueue(queue: string): WorkQueue {
  if (!isWorkQueue(queue)) {
    throw InvalidArgumentError.fromViolations([
      { field: 'queue', problem: `must be one of ${WORK_QUEUES.join(', ')}` },
    ]);
  }
  return queue;
}

/**
 * The subject of a work queue, e.g. `rest.work.grow`.
 * @throws InvalidArgumentError when `queue` is not a {@link WorkQueue} (for untyped callers).
 */
export function workSubject(queue: WorkQueue): WorkSubject {
  return `${PREFIX}.work.${checkWorkQueue(queue)}` as WorkSubject;
}

/**
 * The queue a `rest.work.<queue>` subject belongs to.
 * @throws InvalidArgumentError when `subject` is not a work subject.
 */
export function parseWorkSubject(subject: string): WorkQueue {
  const match = /^rest\.work\.([a-z]+)$/.exec(subject);
  if (match?.[1] === undefined || !isWorkQueue(match[1])) {
    throw InvalidArgumentError.fromViolations([
      { field: 'subject', problem: `not a work subject: ${subject}` },
    ]);
  }
  return match[1];
}

/** The stream that stores a work queue. */
export function workStream(queue: WorkQueue): StreamName {
  switch (checkWorkQueue(queue)) {
    case 'grow':
      return STREAMS.workGrow;
    case 'improve':
      return STREAMS.workImprove;
    case 'eval':
      return STREAMS.workEval;
  }
}

/** The durable pull consumer every worker of a queue shares, e.g. `rest-work-grow`. */
export function workConsumerName(queue: WorkQueue): string {
  return `rest-work-${checkWorkQueue(queue)}`;
}

/**
 * The dead-letter subject of a work queue, e.g. `rest.dead.work.grow`.
 * @throws InvalidArgumentError when `queue` is not a {@link WorkQueue}.
 */
export function deadLetterSubject(queue: WorkQueue): Subject<'dead'> {
  return `${PREFIX}.dead.work.${checkWorkQueue(queue)}` as Subject<'dead'>;
}

/** Filter matching every dead letter of every queue (the dead-letter stream's subject). */
export const DEAD_LETTER_FILTER = `${PREFIX}.dead.>`;

/**
 * The subject of one run event, e.g. `rest.runs.r42.grow.shard.done`.
 * @throws InvalidArgumentError when `runId` fails {@link validateRunId} or `event` is unknown.
 */
export function runEventSubject(runId: string, event: RunEvent): EventSubject {
  validateRunId(runId);
  if (!isRunEvent(event)) {
    throw InvalidArgumentError.fromViolations([
      { field: 'event', problem: `must be one of ${RUN_EVENTS.join(', ')}` },
    ]);
  }
  return `${PREFIX}.runs.${runId}.${event}` as EventSubject;
}

/**
 * Filter matching every event of one run: `rest.runs.<run>.>`.
 * @throws InvalidArgumentError when `runId` fails {@link validateRunId}.
 */
export function runEventsFilter(runId: string): string {
  return `${PREFIX}.runs.${validateRunId(runId)}.>`;
}

/** Filter matching one event kind across all runs, e.g. `rest.runs.*.run.completed`. */
export function runEventKindFilter(event: RunEvent): string {
  return `${PREFIX}.runs.*.${event}`;
}

/** Filter matching every run event (the run-event stream's subject). */
export const ALL_RUN_EVENTS_FILTER = `${PREFIX}.runs.>`;

/** A run-event subject taken apart. */
export interface ParsedRunEventSubject {
  readonly runId: string;
  readonly event: RunEvent;
}

/**
 * Takes a `rest.runs.<run>.<event>` subject apart.
 * @throws InvalidArgumentError when the subject is not a run-event subject or names an unknown event.
 */
export function parseRunEventSubject(subject: string): ParsedRunEventSubject {
  const head = `${PREFIX}.runs.`;
  const rest = subject.startsWith(head) ? subject.slice(head.length) : '';
  const dot = rest.indexOf('.');
  const runId = dot > 0 ? rest.slice(0, dot) : '';
  const event = dot > 0 ? rest.slice(dot + 1) : '';
  if (!RUN_ID_PATTERN.test(runId) || !isRunEvent(event)) {
    throw InvalidArgumentError.fromViolations([
      { field: 'subject', problem: `not a run-event subject: ${subject}` },
    ]);
  }
  return { runId, event };
}

/** `rest.policies.published`: a new policy bundle is available. */
export const POLICIES_PUBLISHED_SUBJECT = `${PREFIX}.policies.published` as EventSubject;
/** `rest.routes.updated`: the routing table changed. */
export const ROUTES_UPDATED_SUBJECT = `${PREFIX}.routes.updated` as EventSubject;

/** The subject of a policy/route update notice. */
export function updateSubject(kind: UpdateKind): EventSubject {
  switch (kind) {
    case 'policies':
      return POLICIES_PUBLISHED_SUBJECT;
    case 'routes':
      return ROUTES_UPDATED_SUBJECT;
  }
}

/**
 * The server's max-deliveries advisory for a consumer of a stream (nats-server ≥ 2.2):
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`; pass `'*'` for any consumer.
 */
export function maxDeliveriesAdvisorySubject(stream: StreamName, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

/** Durable consumer on the advisory stream that moves one queue's exhausted messages to its dead letters. */
export function deadLetterMoverName(queue: WorkQueue): string {
  return `rest-dead-letter-${checkWorkQueue(queue)}`;
}
