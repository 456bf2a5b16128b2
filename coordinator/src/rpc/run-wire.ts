/**
 * Stored runs (`@rest/store` RunDoc and MetricsDoc) → `rest.v1.Run` on the wire, the state enum in
 * both directions, the run-id check CreateRun, GetRun, CancelRun and WatchRun share, and the opaque
 * page tokens of ListRuns. Nothing here touches MongoDB or NATS.
 */
import { validateRunId } from '@rest/bus';
import { coordinator } from '@rest/proto';
import type { Violations } from '@rest/service-kit';
import type { MetricsDoc, RunDoc, RunState } from '@rest/store';
import { wireSpecOf } from '../run/stored-spec.js';

const STATES: Readonly<Record<RunState, coordinator.RunState>> = {
  pending: coordinator.RunState.RUN_STATE_PENDING,
  growing: coordinator.RunState.RUN_STATE_GROWING,
  improving: coordinator.RunState.RUN_STATE_IMPROVING,
  evaluating: coordinator.RunState.RUN_STATE_EVALUATING,
  completed: coordinator.RunState.RUN_STATE_COMPLETED,
  failed: coordinator.RunState.RUN_STATE_FAILED,
  cancelled: coordinator.RunState.RUN_STATE_CANCELLED,
};

/** The states no run leaves. */
export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(['completed', 'failed', 'cancelled']);

/** The wire state of a stored state. */
export function wireRunState(state: RunState): coordinator.RunState {
  return STATES[state];
}

/** The stored state of a wire filter; undefined for UNSPECIFIED (any) or an unknown value. */
export function domainRunState(state: coordinator.RunState): RunState | undefined {
  return (Object.keys(STATES) as RunState[]).find((k) => STATES[k] === state);
}

/**
 * Records a violation unless `runId` is a usable run id: a NATS subject token (`validateRunId`) that
 * the store also accepts as a document id, i.e. 1–128 characters of `[A-Za-z0-9_-]` starting with a
 * letter or digit. Returns it unchanged.
 */
export function checkRunId(v: Violations, field: string, runId: string): string {
  let ok = /^[A-Za-z0-9]/.test(runId);
  try {
    validateRunId(runId);
  } catch {
    ok = false;
  }
  if (!ok) {
    v.add(
      field,
      `must be 1 to 128 characters of [A-Za-z0-9_-] starting with a letter or digit (got ${JSON.stringify(runId.slice(0, 140))})`,
    );
  }
  return runId;
}

/** One metrics point on the wire. */
export function wireMetrics(doc: MetricsDoc): coordinator.RunMetrics {
  return { key: doc.key, grow: doc.grow, improve: doc.improve, values: { ...doc.values }, at: doc.at };
}

/**
 * A run on the wire. `policy_id` falls back to the spec's base policy before the first Improve step
 * registers one; `final_policy_id` is the latest policy once the run is COMPLETED.
 * @param history the run's metrics, oldest first; empty for list pages
 */
export function wireRun(doc: RunDoc, history: readonly MetricsDoc[] = []): coordinator.Run {
  const spec = wireSpecOf(doc.spec);
  const policyId = doc.policyId ?? spec.basePolicyId;
  return {
    runId: doc._id,
    spec,
    state: wireRunState(doc.state),
    grow: doc.grow,
    improve: doc.improve,
    policyId,
    finalPolicyId: doc.state === 'completed' ? policyId : '',
    error: doc.error ?? '',
    history: history.map(wireMetrics),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    version: doc.version,
  };
}

/** Where a ListRuns page ends: runs are ordered by (createdAt, id), both descending. */
export interface PageCursor {
  /** createdAt of the last run of the previous page, ms since the epoch. */
  readonly createdAtMs: number;
  readonly runId: string;
}

/** The opaque `next_page_token` of a cursor. */
export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAtMs, cursor.runId]), 'utf8').toString('base64url');
}

/** The cursor of a page token, or undefined when `token` is not one {@link encodePageToken} made. */
export function decodePageToken(token: string): PageCursor | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      typeof parsed[1] === 'string'
    ) {
      return { createdAtMs: parsed[0] as number, runId: parsed[1] };
    }
  } catch {
    // fall through: not a token of ours
  }
  return undefined;
}

/** True when `run` sorts after `cursor` in ListRuns order (newest first, then id descending). */
export function isAfter(run: RunDoc, cursor: PageCursor): boolean {
  const at = run.createdAt.getTime();
  return at < cursor.createdAtMs || (at === cursor.createdAtMs && run._id < cursor.runId);
}

/** ListRuns order: newest first, ties by id descending. */
export function newestFirst(a: RunDoc, b: RunDoc): number {
  const d = b.createdAt.getTime() - a.createdAt.getTime();
  return d !== 0 ? d : a._id < b._id ? 1 : a._id > b._id ? -1 : 0;
}
