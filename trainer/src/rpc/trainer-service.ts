/**
 * rest.v1.TrainerService: GetJob, ListJobs, WatchJob over the `trainer_jobs` collection. Any replica
 * answers for any job: WatchJob reads the job back from MongoDB every `watchPollMs` and sends each new
 * progress snapshot, ending after a terminal state, a cancel, or the server's shutdown (the client then
 * reconnects to another replica).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { trainer } from '@rest/proto';
import { NotFoundError, serverStream, unary, Violations, type GrpcServiceBinding } from '@rest/service-kit';
import { isTerminal, type JobDoc, type JobRepo } from '../jobs/job-repo.js';
import { domainState, wireJob } from './job-wire.js';

/** What the service reads. */
export interface TrainerServiceDeps {
  readonly jobs: JobRepo;
  readonly watchPollMs: number;
}

async function requireJob(jobs: JobRepo, id: string): Promise<JobDoc> {
  const doc = await jobs.get(id);
  if (doc === null) throw new NotFoundError(`job ${id} not found`);
  return doc;
}

/** A snapshot's identity: a new one is sent when it changes. */
function versionOf(doc: JobDoc): string {
  return `${doc.state}|${doc.progress?.step ?? -1}|${doc.progress?.at.getTime() ?? 0}`;
}

/** The TrainerService binding for `startGrpcServer`. */
export function trainerService(deps: TrainerServiceDeps): GrpcServiceBinding {
  return {
    definition: trainer.TrainerServiceService,
    implementation: {
      getJob: unary<trainer.GetJobRequest, trainer.GetJobResponse>(async (req) => {
        const v = new Violations();
        v.nonEmpty('GetJobRequest.job_id', req.jobId);
        v.throwIfAny();
        return { job: wireJob(await requireJob(deps.jobs, req.jobId)) };
      }),
      listJobs: unary<trainer.ListJobsRequest, trainer.ListJobsResponse>(async (req) => {
        const v = new Violations();
        const state = domainState(req.state);
        if (req.state !== trainer.JobState.JOB_STATE_UNSPECIFIED && state === undefined)
          v.add('ListJobsRequest.state', `unknown state ${req.state}`);
        if (req.pageSize > 500)
          v.add('ListJobsRequest.page_size', `must be at most 500 (got ${req.pageSize})`);
        v.throwIfAny();
        const page = await deps.jobs.list({
          ...(req.runId === '' ? {} : { runId: req.runId }),
          ...(state === undefined ? {} : { state }),
          pageSize: req.pageSize === 0 ? 50 : req.pageSize,
          pageToken: req.pageToken,
        });
        return { jobs: page.jobs.map(wireJob), nextPageToken: page.nextPageToken };
      }),
      watchJob: serverStream<trainer.WatchJobRequest, trainer.WatchJobResponse>(async function* (req, ctx) {
        const v = new Violations();
        v.nonEmpty('WatchJobRequest.job_id', req.jobId);
        v.throwIfAny();
        let doc = await requireJob(deps.jobs, req.jobId);
        let sent = versionOf(doc);
        yield { progress: wireJob(doc).progress };
        const stop = AbortSignal.any([ctx.signal, ctx.closing]);
        while (!isTerminal(doc.state) && !stop.aborted) {
          try {
            await sleep(deps.watchPollMs, undefined, { signal: stop });
          } catch {
            return;
          }
          doc = await requireJob(deps.jobs, req.jobId);
          const version = versionOf(doc);
          if (version === sent) continue;
          sent = version;
          yield { progress: wireJob(doc).progress };
        }
      }),
    },
  };
}
