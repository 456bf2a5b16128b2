/**
 * The workers' entries in the run-event log: `grow.shard.done` and `eval.completed`. Message ids are
 * functions of what the event reports, so the event of a redelivered message is de-duplicated by
 * JetStream (inside its duplicate window; the coordinator keys its records the same way beyond it):
 *
 *   <run>/g<g>/grow.shard.done/<n>        <run>/g<g>/i<i>/eval.completed/<split>
 */
import { runEventSubject, type Bus } from '@rest/bus';
import { events } from '@rest/proto';
import type { RewardSummary } from './reward-stats.js';

/** Nats-Msg-Id of a shard's `grow.shard.done`. */
export function growShardDoneId(runId: string, grow: number, shard: number): string {
  return `${runId}/g${grow}/grow.shard.done/${shard}`;
}

/** Nats-Msg-Id of an evaluation's `eval.completed`. */
export function evalCompletedId(runId: string, grow: number, improve: number, split: string): string {
  return `${runId}/g${grow}/i${improve}/eval.completed/${split}`;
}

function wireStats(s: RewardSummary): events.RewardStats {
  return { count: BigInt(s.count), mean: s.mean, std: s.std, min: s.min, max: s.max };
}

/** What a finished Grow shard reports. */
export interface ShardDone {
  readonly runId: string;
  readonly grow: number;
  readonly shard: number;
  readonly numSources: number;
  /** Samples of the shard, references included. */
  readonly numSamples: number;
  readonly rewards: RewardSummary;
  readonly worker: string;
}

/** Publishes `grow.shard.done` and waits for its PubAck. */
export async function publishShardDone(bus: Bus, d: ShardDone): Promise<void> {
  const messageId = growShardDoneId(d.runId, d.grow, d.shard);
  await bus.publishEvent(
    runEventSubject(d.runId, 'grow.shard.done'),
    events.RunEvent,
    {
      messageId,
      runId: d.runId,
      grow: d.grow,
      improve: 0,
      at: new Date(),
      event: {
        $case: 'growShardDone',
        growShardDone: {
          shard: d.shard,
          numSources: d.numSources,
          numSamples: d.numSamples,
          rewards: wireStats(d.rewards),
          worker: d.worker,
        },
      },
    },
    { msgId: messageId },
  );
}

/** What a finished evaluation reports. */
export interface EvalDone {
  readonly runId: string;
  readonly grow: number;
  readonly improve: number;
  readonly policyId: string;
  readonly split: string;
  readonly numSources: number;
  readonly rewards: RewardSummary;
  /** Reference metrics by name; non-finite values are left out. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Publishes `eval.completed` and waits for its PubAck. */
export async function publishEvalCompleted(bus: Bus, d: EvalDone): Promise<void> {
  const messageId = evalCompletedId(d.runId, d.grow, d.improve, d.split);
  await bus.publishEvent(
    runEventSubject(d.runId, 'eval.completed'),
    events.RunEvent,
    {
      messageId,
      runId: d.runId,
      grow: d.grow,
      improve: d.improve,
      at: new Date(),
      event: {
        $case: 'evalCompleted',
        evalCompleted: {
          policyId: d.policyId,
          split: d.split,
          numSources: d.numSources,
          rewards: wireStats(d.rewards),
          metrics: Object.fromEntries(Object.entries(d.metrics).filter(([, v]) => Number.isFinite(v))),
        },
      },
    },
    { msgId: messageId },
  );
}
