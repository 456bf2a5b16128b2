/**
 * Domain job documents → `rest.v1` wire messages (TrainerService replies and run events share them).
 * Non-finite numbers (a loss before the first step, BLEU without references) are dropped from metric
 * maps and sent as 0 in scalar fields: proto3 doubles carry NaN, but JSON views of them do not.
 */
import { trainer } from '@rest/proto';
import type { JobDoc, JobProgressDoc, JobState } from '../jobs/job-repo.js';

const STATES: Readonly<Record<JobState, trainer.JobState>> = {
  queued: trainer.JobState.JOB_STATE_QUEUED,
  running: trainer.JobState.JOB_STATE_RUNNING,
  succeeded: trainer.JobState.JOB_STATE_SUCCEEDED,
  failed: trainer.JobState.JOB_STATE_FAILED,
  cancelled: trainer.JobState.JOB_STATE_CANCELLED,
};

/** The wire state of a domain state. */
export function wireState(state: JobState): trainer.JobState {
  return STATES[state];
}

/** The domain state of a wire filter; undefined for UNSPECIFIED (any) or an unknown value. */
export function domainState(state: trainer.JobState): JobState | undefined {
  return (Object.keys(STATES) as JobState[]).find((k) => STATES[k] === state);
}

const finite = (x: number): number => (Number.isFinite(x) ? x : 0);

function finiteMetrics(m: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

/** A progress snapshot on the wire. */
export function wireProgress(jobId: string, p: JobProgressDoc): trainer.JobProgress {
  return {
    jobId,
    state: wireState(p.state),
    step: p.step,
    totalSteps: p.totalSteps,
    loss: finite(p.loss),
    tokensPerSecond: finite(p.tokensPerSecond),
    learningRate: finite(p.learningRate),
    tokensSeen: BigInt(Math.max(0, Math.round(p.tokensSeen))),
    metrics: finiteMetrics(p.metrics),
    at: p.at,
  };
}

/** The progress of a job that has not reported yet (QUEUED, or RUNNING before its first report). */
export function initialProgress(doc: JobDoc): JobProgressDoc {
  return {
    state: doc.state,
    step: 0,
    totalSteps: 0,
    loss: Number.NaN,
    tokensPerSecond: 0,
    learningRate: 0,
    tokensSeen: 0,
    metrics: {},
    at: doc.startedAt ?? doc.createdAt,
  };
}

/** A job on the wire; its progress carries the job's current state. */
export function wireJob(doc: JobDoc): trainer.Job {
  const progress = { ...(doc.progress ?? initialProgress(doc)), state: doc.state };
  return {
    jobId: doc._id,
    runId: doc.runId,
    grow: doc.grow,
    improve: doc.improve,
    objective: doc.objective,
    state: wireState(doc.state),
    parentPolicyId: doc.parentPolicyId,
    outputPolicyId: doc.outputPolicyId ?? '',
    progress: wireProgress(doc._id, progress),
    error: doc.error ?? '',
    worker: doc.worker ?? '',
    createdAt: doc.createdAt,
    startedAt: doc.startedAt ?? undefined,
    finishedAt: doc.finishedAt ?? undefined,
  };
}
