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

/**
 * Ensures the queue's consumer; `start()` then begins taking work (synchronously, so a caller can bind
 * its server in between and start last). Stop the subscription (or close the bus) to end.
 */
export async function improveWorker(
  bus: Bus,
  deps: JobRunnerDeps,
  o: ImproveConsumerOptions,
): Promise<{ start(): WorkSubscription }> {
  const consumer = await bus.workConsumer('improve', events.ImproveWork, {
    ackWaitMs: o.ackWaitMs,
    maxDeliver: o.maxDeliver,
    isRetryable: (err) => !isPermanent(err),
  });
  return {
    start: () =>
      consumer.consume(
        async (work, ctx) => {
          const job = parseImproveWork(work);
          await runImproveJob(
            job,
            { ...deps, logger: ctx.logger },
            { working: () => ctx.working(), lastDelivery: ctx.deliveryCount >= ctx.maxDeliver },
          );
        },
        { concurrency: o.concurrency },
      ),
  };
}
