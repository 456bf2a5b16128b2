/**
 * Training jobs (collection `trainer_jobs`, one document per Improve job): what TrainerService reports
 * and where a restarted trainer finds the job's latest checkpoint.
 *
 * Writers: the trainer holding the job's lease is the only one that updates a job after it is
 * created, so FerretDB's read-then-write updates cannot interleave. Creation is an insert against the
 * `_id`, so two replicas receiving the same job create it once.
 */
import type { Collection, Db, Filter } from 'mongodb';
import { InvalidArgumentError } from '@rest/service-kit';
import { isDuplicateKeyError } from '@rest/store';

/** The collection of training jobs. */
export const JOBS_COLLECTION = 'trainer_jobs';

/** A job's life-cycle state (trainer.proto `JobState`). */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
/** One of {@link JOB_STATES}. */
export type JobState = (typeof JOB_STATES)[number];

/** Whether `state` is final. */
export function isTerminal(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** A progress snapshot (trainer.proto `JobProgress`). */
export interface JobProgressDoc {
  readonly state: JobState;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly tokensPerSecond: number;
  readonly learningRate: number;
  readonly tokensSeen: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly at: Date;
}

/** A stored job. */
export interface JobDoc {
  readonly _id: string;
  readonly runId: string;
  readonly grow: number;
  readonly improve: number;
  /** The objective's name. */
  readonly objective: string;
  readonly state: JobState;
  readonly parentPolicyId: string;
  readonly outputPolicyId: string | null;
  readonly progress: JobProgressDoc | null;
  readonly error: string | null;
  /** The trainer holding or last holding the job's lease. */
  readonly worker: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** The latest checkpoint in bundle storage. */
  readonly checkpoint: { readonly bundleId: string; readonly step: number } | null;
}

/** What creating a job takes. */
export type JobInput = Pick<JobDoc, '_id' | 'runId' | 'grow' | 'improve' | 'objective' | 'parentPolicyId'>;

/** The fields a job holder changes. */
export type JobUpdate = Partial<
  Pick<
    JobDoc,
    'state' | 'outputPolicyId' | 'progress' | 'error' | 'worker' | 'startedAt' | 'finishedAt' | 'checkpoint'
  >
>;

/** Filters and paging of {@link JobRepo.list}. */
export interface JobListQuery {
  readonly runId?: string;
  readonly state?: JobState;
  /** @default 50, at most 500 */
  readonly pageSize?: number;
  /** The token of the previous page's last job. */
  readonly pageToken?: string;
}

/** The page token of a job: its (createdAt, id) position in the newest-first order. */
function tokenOf(doc: JobDoc): string {
  return Buffer.from(JSON.stringify([doc.createdAt.getTime(), doc._id]), 'utf8').toString('base64url');
}

function parseToken(token: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // reported below
  }
  throw InvalidArgumentError.fromViolations([
    { field: 'pageToken', problem: 'is not a token returned by ListJobs' },
  ]);
}

/** Typed access to `trainer_jobs`. */
export class JobRepo {
  private readonly coll: Collection<JobDoc>;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.coll = db.collection<JobDoc>(JOBS_COLLECTION);
  }

  /** Creates the listing index (idempotent). */
  async ensureIndexes(): Promise<void> {
    await this.coll.createIndexes([{ key: { runId: 1, createdAt: -1 }, name: 'run_created' }]);
  }

  /** Creates the job in `queued` unless it exists; returns the stored job. */
  async ensure(input: JobInput): Promise<JobDoc> {
    const doc: JobDoc = {
      ...input,
      state: 'queued',
      outputPolicyId: null,
      progress: null,
      error: null,
      worker: null,
      createdAt: new Date(this.now()),
      startedAt: null,
      finishedAt: null,
      checkpoint: null,
    };
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    return (await this.get(input._id))!;
  }

  /** One job, or null. */
  async get(id: string): Promise<JobDoc | null> {
    return this.coll.findOne({ _id: id });
  }

  /** Sets fields of a job (by its lease holder). */
  async update(id: string, fields: JobUpdate): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: fields });
  }

  /** Jobs newest first, filtered and paged. Throws InvalidArgumentError for a bad page token. */
  async list(query: JobListQuery = {}): Promise<{ jobs: JobDoc[]; nextPageToken: string }> {
    const size = Math.min(Math.max(query.pageSize ?? 50, 1), 500);
    const filter: Filter<JobDoc> = {
      ...(query.runId === undefined ? {} : { runId: query.runId }),
      ...(query.state === undefined ? {} : { state: query.state }),
    };
    if (query.pageToken !== undefined && query.pageToken !== '') {
      const [ms, id] = parseToken(query.pageToken);
      const at = new Date(ms);
      filter.$or = [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: id } }];
    }
    const jobs = await this.coll
      .find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(size + 1)
      .toArray();
    const more = jobs.length > size;
    if (more) jobs.pop();
    return { jobs, nextPageToken: more ? tokenOf(jobs[jobs.length - 1]!) : '' };
  }
}
