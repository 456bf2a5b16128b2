/**
 * The `rest.work.improve` worker: decode the ImproveWork message, run the job, ack. A permanent error
 * (bad message, untrainable policy, missing data) dead-letters the message; anything else is nak'd
 * with backoff, and the next delivery resumes the job from its latest checkpoint.
 */
import type { Bus, WorkSubscription } from '@rest/bus';
import { events } from '@rest/proto';
import { parseImproveWork } from './improve-work.js';
import { isPermanent, runImproveJob, type JobRunnerDeps } from '../jobs/improve-job.js';

/** Queue settings of the worker. */
export interface ImproveConsumerOptions {
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly concurrency: number;
}

/** Starts consuming Improve work; stop the returned subscription (or close the bus) to end. */
export async function consumeImproveWork(
  bus: Bus,
  deps: JobRunnerDeps,
  o: ImproveConsumerOptions,
): Promise<WorkSubscription> {
  const consumer = await bus.workConsumer('improve', events.ImproveWork, {
    ackWaitMs: o.ackWaitMs,
    maxDeliver: o.maxDeliver,
    isRetryable: (err) => !isPermanent(err),
  });
  return consumer.consume(
    async (work, ctx) => {
      const job = parseImproveWork(work);
      await runImproveJob(
        job,
        { ...deps, logger: ctx.logger },
        { working: () => ctx.working(), lastDelivery: ctx.deliveryCount >= ctx.maxDeliver },
      );
    },
    { concurrency: o.concurrency },
  );
}
