/**
 * The trainer's events on NATS JetStream: `improve.progress` and `improve.completed` on the run's
 * event log, and `rest.policies.published`. Message ids are functions of what the event says, so a
 * retried job's repeats are de-duplicated by JetStream:
 *
 *   <run>/g<g>/i<i>/improve.progress/<step>    <run>/g<g>/i<i>/improve.completed    policy/<policy id>
 */
import { runEventSubject, updateSubject, type Bus } from '@rest/bus';
import { events } from '@rest/proto';
import type { PolicyDoc } from '@rest/store';
import type { ImprovePublisher } from '../jobs/improve-job.js';
import type { JobDoc, JobProgressDoc } from '../jobs/job-repo.js';
import { wireProgress } from '../rpc/job-wire.js';

const finiteMetrics = (m: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));

/** An {@link ImprovePublisher} over the bus. */
export function busPublisher(bus: Bus): ImprovePublisher {
  const runEvent = async (
    job: JobDoc,
    kind: 'improve.progress' | 'improve.completed',
    suffix: string,
    event: events.RunEvent['event'],
  ): Promise<void> => {
    const messageId = `${job.runId}/g${job.grow}/i${job.improve}/${kind}${suffix}`;
    await bus.publishEvent(
      runEventSubject(job.runId, kind),
      events.RunEvent,
      { messageId, runId: job.runId, grow: job.grow, improve: job.improve, at: new Date(), event },
      { msgId: messageId },
    );
  };
  return {
    async progress(job: JobDoc, p: JobProgressDoc): Promise<void> {
      await runEvent(job, 'improve.progress', `/${p.step}`, {
        $case: 'improveProgress',
        improveProgress: { progress: wireProgress(job._id, p) },
      });
    },
    async completed(job: JobDoc, steps: number, metrics: Readonly<Record<string, number>>): Promise<void> {
      await runEvent(job, 'improve.completed', '', {
        $case: 'improveCompleted',
        improveCompleted: {
          jobId: job._id,
          outcome: events.ImproveOutcome.IMPROVE_OUTCOME_TRAINED,
          policyId: job.outputPolicyId ?? '',
          steps,
          metrics: finiteMetrics(metrics),
        },
      });
    },
    async policyPublished(policy: PolicyDoc): Promise<void> {
      const messageId = `policy/${policy._id}`;
      await bus.publishEvent(
        updateSubject('policies'),
        events.PolicyPublished,
        {
          messageId,
          policy: {
            policyId: policy._id,
            parentId: policy.parentId ?? '',
            runId: policy.run ?? '',
            grow: policy.grow,
            improve: policy.improve,
            metrics: finiteMetrics(policy.metrics),
            bundleId: policy.bundleId,
            createdAt: policy.createdAt,
            loaded: false,
          },
        },
        { msgId: messageId },
      );
    },
  };
}
