/**
 * ReST runs: creation, reads, listing, guarded state transitions and the metrics history.
 *
 * Transitions are claims in the revision log (`revision-log.ts`), so of two coordinators racing to
 * move a run from the same version exactly one succeeds, on FerretDB too. Metrics go to their own
 * collection, one document per (run, key), instead of a `$push` on the run: a push is a
 * read-modify-write on FerretDB and a replayed push would duplicate the point.
 */
import type { Collection, Filter } from 'mongodb';
import { ObjectId } from 'mongodb';
import { FailedPreconditionError, NotFoundError } from '@rest/service-kit';
import { isDuplicateKeyError } from './mongo-errors.js';
import { materialize, type RevisionDoc, RevisionLog } from './revision-log.js';
import { Violations, requireId } from './validate.js';

/** The states of a run. */
export const RUN_STATES = [
  'pending',
  'growing',
  'improving',
  'evaluating',
  'completed',
  'failed',
  'cancelled',
] as const;
/** One of {@link RUN_STATES}. */
export type RunState = (typeof RUN_STATES)[number];

/** Allowed transitions; `completed`, `failed` and `cancelled` are terminal. */
export const RUN_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  pending: ['growing', 'failed', 'cancelled'],
  growing: ['growing', 'improving', 'evaluating', 'completed', 'failed', 'cancelled'],
  improving: ['improving', 'growing', 'evaluating', 'completed', 'failed', 'cancelled'],
  evaluating: ['evaluating', 'growing', 'improving', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

/** A run's specification, as the coordinator stores it (validated there). */
export type RunSpec = Readonly<Record<string, unknown>>;

/** The fields of a run that change over its life. */
export interface RunFields {
  readonly spec: RunSpec;
  readonly state: RunState;
  /** Current Grow step, 1-based as in the rest.v1 contracts; 0 before the first Grow starts. */
  readonly grow: number;
  /** Current Improve step within the Grow, 0 before the first. */
  readonly improve: number;
  /** Current policy id, null before the first is registered. */
  readonly policyId: string | null;
  /** Why the run failed, for `failed`. */
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A stored run (collection `runs`). */
export interface RunDoc extends RunFields {
  readonly _id: string;
  /** 1 at creation, +1 per transition. */
  readonly version: number;
}

/** A transition request. */
export interface RunTransition {
  /** The state the caller believes the run is in. */
  readonly from: RunState;
  readonly to: RunState;
  /** The version the caller read; omit to guard on `from` only. */
  readonly expectedVersion?: number;
  readonly grow?: number;
  readonly improve?: number;
  readonly policyId?: string;
  readonly error?: string;
}

/** Filters and paging of {@link RunRepo.list}. */
export interface RunListQuery {
  readonly state?: RunState;
  /** Return runs with ids after this one (the last id of the previous page). */
  readonly afterId?: string;
  /** @default 50 (at most 500) */
  readonly limit?: number;
}

/** One point of a run's metrics history (collection `run_metrics`). */
export interface MetricsDoc {
  /** `<run>/<key>` */
  readonly _id: string;
  readonly run: string;
  /** Caller-chosen, unique within the run, e.g. `g1/i2/eval`; replays with the same key are no-ops. */
  readonly key: string;
  readonly grow: number;
  readonly improve: number;
  /** Metric name → value (e.g. `bleu`, `rewardMean`, `loss`). */
  readonly values: Readonly<Record<string, number>>;
  readonly at: Date;
}

const NS = 'runs';

/** Typed access to `runs` and `run_metrics`. */
export class RunRepo {
  private readonly log: RevisionLog<RunFields>;

  constructor(
    private readonly coll: Collection<RunDoc>,
    revisions: Collection<RevisionDoc<RunFields>>,
    private readonly metricsColl: Collection<MetricsDoc>,
    private readonly now: () => number = Date.now,
  ) {
    this.log = new RevisionLog(revisions, NS);
  }

  /**
   * Creates a run in `pending`. Idempotent: creating an existing id returns the stored run with
   * `created: false`.
   * @param id @default a new ObjectId in hex
   * @throws InvalidArgumentError for a bad id.
   */
  async create(
    spec: RunSpec,
    id: string = new ObjectId().toHexString(),
  ): Promise<{ run: RunDoc; created: boolean }> {
    requireId('id', id);
    const at = new Date(this.now());
    const state: RunFields = {
      spec,
      state: 'pending',
      grow: 0,
      improve: 0,
      policyId: null,
      error: null,
      createdAt: at,
      updatedAt: at,
    };
    const claim = await this.log.claim(id, 1, state, at);
    if (claim === null) return { run: await this.require(id), created: false };
    const run = { _id: id, version: 1, ...state };
    await materialize(this.coll, run, 0);
    return { run, created: true };
  }

  /** The current run, or null. Reads the revision log and repairs a lagging copy. */
  async get(id: string): Promise<RunDoc | null> {
    const copy = await this.coll.findOne({ _id: id }, { projection: { version: 1 } });
    const latest = await this.log.latest(id, copy?.version ?? 0);
    if (latest === null) return null;
    const run = { _id: id, version: latest.version, ...latest.state };
    await materialize(this.coll, run, copy?.version ?? 0);
    return run;
  }

  /**
   * The current run.
   * @throws NotFoundError when it does not exist.
   */
  async require(id: string): Promise<RunDoc> {
    const run = await this.get(id);
    if (run === null) throw new NotFoundError(`run ${id} not found`);
    return run;
  }

  /** Runs ordered by id, filtered and paged (from the materialised copies). */
  async list(query: RunListQuery = {}): Promise<RunDoc[]> {
    const filter: Filter<RunDoc> = {
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(query.afterId === undefined ? {} : { _id: { $gt: query.afterId } }),
    };
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    return this.coll.find(filter).sort({ _id: 1 }).limit(limit).toArray();
  }

  /**
   * Moves a run from `t.from` to `t.to`, atomically with respect to other transitions.
   * @throws NotFoundError when the run does not exist.
   * @throws InvalidArgumentError when `from → to` is not in {@link RUN_TRANSITIONS} or a field is bad.
   * @throws FailedPreconditionError when the run is not in `from` or not at `expectedVersion`, or a
   * concurrent transition won.
   */
  async transition(id: string, t: RunTransition): Promise<RunDoc> {
    const v = new Violations();
    if (!RUN_TRANSITIONS[t.from]?.includes(t.to)) v.add('to', `${t.from} → ${t.to} is not a run transition`);
    if (t.grow !== undefined) v.int('grow', t.grow);
    if (t.improve !== undefined) v.int('improve', t.improve);
    if (t.policyId !== undefined) v.id('policyId', t.policyId);
    v.throwIfAny();
    const cur = await this.require(id);
    if (cur.state !== t.from || (t.expectedVersion !== undefined && cur.version !== t.expectedVersion)) {
      throw new FailedPreconditionError(
        `run ${id} is ${cur.state} at version ${cur.version}, not ${t.from}` +
          (t.expectedVersion === undefined ? '' : ` at version ${t.expectedVersion}`),
      );
    }
    const at = new Date(this.now());
    const { _id, version, ...prev } = cur;
    const next: RunFields = {
      ...prev,
      state: t.to,
      grow: t.grow ?? prev.grow,
      improve: t.improve ?? prev.improve,
      policyId: t.policyId ?? prev.policyId,
      error: t.error ?? prev.error,
      updatedAt: at,
    };
    if ((await this.log.claim(id, version + 1, next, at)) === null) {
      throw new FailedPreconditionError(`run ${id} changed concurrently (version ${version} is stale)`);
    }
    const run = { _id, version: version + 1, ...next };
    await materialize(this.coll, run, version);
    return run;
  }

  /**
   * Appends one metrics point; a replay with the same `key` leaves the first point in place.
   * @returns true when the point was new.
   * @throws InvalidArgumentError for a bad key or non-finite values.
   */
  async appendMetrics(
    run: string,
    point: { key: string; grow: number; improve: number; values: Readonly<Record<string, number>> },
  ): Promise<boolean> {
    const v = new Violations();
    v.id('run', run);
    v.text('key', point.key);
    v.int('grow', point.grow);
    v.int('improve', point.improve);
    for (const [name, value] of Object.entries(point.values)) v.finite(`values.${name}`, value);
    v.throwIfAny();
    const doc: MetricsDoc = {
      _id: `${run}/${point.key}`,
      run,
      ...point,
      values: { ...point.values },
      at: new Date(this.now()),
    };
    try {
      await this.metricsColl.insertOne(doc);
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  /** A run's metrics history, oldest first. */
  async metrics(run: string): Promise<MetricsDoc[]> {
    return this.metricsColl.find({ run }).sort({ at: 1, _id: 1 }).toArray();
  }
}
