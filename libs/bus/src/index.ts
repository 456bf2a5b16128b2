/**
 * @rest/bus: the platform's NATS JetStream layer (subjects, streams, work queues with dead letters,
 * the run-event log and policy/route notices). See README.md for guarantees.
 */
export {
  WORK_QUEUES,
  RUN_EVENTS,
  UPDATE_KINDS,
  STREAMS,
  DEAD_LETTER_FILTER,
  ALL_RUN_EVENTS_FILTER,
  POLICIES_PUBLISHED_SUBJECT,
  ROUTES_UPDATED_SUBJECT,
  isWorkQueue,
  isRunEvent,
  validateRunId,
  workSubject,
  parseWorkSubject,
  workStream,
  workConsumerName,
  deadLetterSubject,
  deadLetterMoverName,
  runEventSubject,
  runEventsFilter,
  runEventKindFilter,
  parseRunEventSubject,
  updateSubject,
  maxDeliveriesAdvisorySubject,
  type WorkQueue,
  type RunEvent,
  type UpdateKind,
  type Subject,
  type WorkSubject,
  type EventSubject,
  type StreamName,
  type ParsedRunEventSubject,
} from './subjects.js';
export { decodeWith, type MessageCodec } from './codec.js';
export {
  streamConfigs,
  DEFAULT_STREAM_OPTIONS,
  type StreamOptions,
  type NamedStreamConfig,
} from './streams.js';
export { type PublishOptions, type PublishWorkOptions, type PublishResult } from './publish.js';
export { DEAD_LETTER_HEADERS, DEAD_LETTER_REASONS, type DeadLetterReason } from './dead-letter.js';
export {
  WorkConsumer,
  type WorkConsumerOptions,
  type WorkContext,
  type WorkHandler,
  type ConsumeOptions,
  type WorkSubscription,
} from './work-consumer.js';
export {
  type EventReader,
  type DeadLetterRecord,
  type EventMeta,
  type RunEventRecord,
  type UpdateRecord,
  type RunEventCodecs,
  type UpdatesFrom,
} from './event-readers.js';
export { connectBus, Bus, type ConnectBusOptions } from './bus.js';
