/**
 * The ReST state machine of one run (docs/ALGORITHMS.md §2), as two idempotent operations:
 *
 * - `record(event)` turns a worker's or the trainer's event into a metrics point keyed by what it is
 *   about (`g1/grow/shard/3`, `g1/i2/train`, `g1/i2/eval`), so a replayed event changes nothing;
 * - `advance(run)` reads the run and its points back from MongoDB and takes the next step, if its
 *   inputs are all there:
 *
 *   pending ──► growing g ──(every shard done)──► improving g,i ──(trained)──► evaluating g,i
 *                   ▲                 │ too few pass                              │
 *                   │                 ▼                                           ▼
 *                   └──── g < G ◄── end of Grow g's Improve loop ◄── i = I ── eval done, i < I → improving g,i+1
 *                                       g = G → completed
 *
 * Each step first writes what it decided (shards, a filter point), then publishes work with
 * deterministic message ids, then moves the run with a version-guarded transition. A coordinator that
 * dies anywhere in between redoes the step on its next `advance`: the writes are upserts or
 * insert-once points, JetStream drops the repeated messages within its duplicate window, and work
 * repeated after it is idempotent downstream (samples keyed (run, grow, idx, k); trainer jobs and
 * shards leased and completed once), so nothing is lost, doubled or trained twice.
 */
import { runEventSubject, workSubject, type Bus, type RunEvent as RunEventKind } from '@rest/bus';
import { events, objectives, runSpec } from '@rest/proto';
import {
  DeadlineExceededError,
  FailedPreconditionError,
  UnavailableError,
  type Logger,
} from '@rest/service-kit';
import type { MetricsDoc, RunDoc, RunState, ShardExample, ShardInput, Store, Split } from '@rest/store';
import { filterImproveStep, type FilterOutcome, type SourceSamples } from '../rest/thresholds.js';
import { improveLearningRate, type OptimizerSpec, type RunSpec } from '../run/spec.js';
import { resolvedSpecOf, wireSpecOf } from '../run/stored-spec.js';
import {
  decodingToWire,
  deriveSeed,
  growShards,
  metricKeys,
  rewardStats,
  rewardValues,
  stepPolicyId,
  withoutGain,
  type RewardStats,
} from './plan.js';

/** Examples per materialised Improve shard. */
export const SHARD_EXAMPLES = 2048;
/** Sources read per page when a Grow's samples are loaded. */
const SOURCES_PER_PAGE = 256;
/** `policyId` of samples holding a human reference (the trainer's convention). */
const REFERENCE_POLICY = 'reference';

/** Run states the driver advances. */
export const ACTIVE_STATES: readonly RunState[] = ['pending', 'growing', 'improving', 'evaluating'];

/** A problem no retry can fix: the run fails with this message. */
export class RunFailure extends Error {
  override readonly name = 'RunFailure';
}

/** One decoded run event, as the bus reader yields it. */
export interface RecordedEvent {
  readonly runId: string;
  readonly event: RunEventKind;
  readonly message: events.RunEvent;
}

/** What `advance` works on: the run as read, its resolved and wire spec, its points by key. */
interface View {
  readonly run: RunDoc;
  readonly spec: RunSpec & { readonly seed: bigint };
  readonly wire: runSpec.RunSpec;
  readonly points: ReadonlyMap<string, MetricsDoc>;
}

/** The run driver's dependencies. */
export interface RunDriverDeps {
  readonly store: Store;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** Advances runs; see the module comment. One instance per coordinator process. */
export class RunDriver {
  private readonly now: () => Date;
  private readonly counts = new Map<string, number>();

  constructor(private readonly deps: RunDriverDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Records what an event reports as a metrics point (idempotent); other events are ignored. */
  async record(e: RecordedEvent): Promise<void> {
    const { runs } = this.deps.store;
    const m = e.message;
    const body = m.event;
    if (body === undefined) return;
    const at = { grow: m.grow, improve: m.improve };
    switch (body.$case) {
      case 'growShardDone': {
        const d = body.growShardDone;
        await runs.appendMetrics(e.runId, {
          key: metricKeys.shard(m.grow, d.shard),
          ...at,
          values: {
            num_sources: d.numSources,
            num_samples: d.numSamples,
            ...rewardValues(statsOf(d.rewards)),
          },
        });
        return;
      }
      case 'improveCompleted': {
        const d = body.improveCompleted;
        if (d.outcome !== events.ImproveOutcome.IMPROVE_OUTCOME_TRAINED) return;
        await runs.appendMetrics(e.runId, {
          key: metricKeys.train(m.grow, m.improve),
          ...at,
          values: { steps: d.steps, ...finite(d.metrics) },
        });
        return;
      }
      case 'evalCompleted': {
        const d = body.evalCompleted;
        const run = await runs.get(e.runId);
        if (run === null) return;
        const spec = resolvedSpecOf(run.spec);
        const key = evalKey(spec, d.split, m.grow, m.improve);
        await runs.appendMetrics(e.runId, {
          key,
          ...at,
          values: { num_sources: d.numSources, ...rewardValues(statsOf(d.rewards)), ...finite(d.metrics) },
        });
        return;
      }
      default:
        return;
    }
  }

  /**
   * Takes the run's next step if its inputs are there. Transient failures (servers unreachable, a
   * racing transition) are thrown for the caller to retry later; a {@link RunFailure} fails the run.
   */
  async advance(runId: string): Promise<void> {
    const run = await this.deps.store.runs.get(runId);
    if (run === null || !ACTIVE_STATES.includes(run.state)) return;
    let view: View;
    try {
      const points = new Map((await this.deps.store.runs.metrics(runId)).map((p) => [p.key, p]));
      view = { run, spec: resolvedSpecOf(run.spec), wire: wireSpecOf(run.spec), points };
      switch (run.state) {
        case 'pending':
          return await this.startRun(view);
        case 'growing':
          return await this.onGrowing(view);
        case 'improving':
          return await this.onImproving(view);
        case 'evaluating':
          return await this.onEvaluating(view);
        default:
          return;
      }
    } catch (err) {
      if (isTransient(err)) throw err;
      await this.fail(run, err instanceof Error ? err.message : String(err));
    }
  }

  /** Moves a non-terminal run to `failed` and publishes `run.failed`; a terminal run is left as is. */
  async fail(run: RunDoc, message: string): Promise<void> {
    const current = await this.deps.store.runs.get(run._id);
    if (current === null || !ACTIVE_STATES.includes(current.state)) return;
    this.deps.logger.error('run failed', { runId: run._id, error: message });
    await this.event(current, 'run.failed', '', {
      $case: 'runFailed',
      runFailed: { reason: events.RunFailureReason.RUN_FAILURE_REASON_ERROR, message },
    });
    await this.deps.store.runs.transition(run._id, {
      from: current.state,
      to: 'failed',
      expectedVersion: current.version,
      error: message,
    });
  }

  // --- the steps -------------------------------------------------------------------------------

  private async startRun(v: View): Promise<void> {
    await this.publishEval(v, 0, 0, v.spec.basePolicyId);
    await this.startGrow(v, 1, v.spec.basePolicyId);
  }

  private async startGrow(v: View, grow: number, policyId: string): Promise<void> {
    const { spec, wire, run } = v;
    const sources = await this.sourceCount(spec);
    const shards = growShards(sources, spec.sourcesPerGrowShard);
    for (const s of shards) {
      const messageId = `${run._id}/g${grow}/grow/shard/${s.n}`;
      await this.deps.bus.publishWork(
        workSubject('grow'),
        events.GrowWork,
        {
          messageId,
          runId: run._id,
          grow,
          shard: s.n,
          policyId,
          dataset: spec.dataset.name,
          split: spec.dataset.trainSplit,
          sources: { $case: 'range', range: { start: s.start, end: s.end } },
          samplesPerSource: spec.samplesPerSource,
          decoding: decodingToWire(spec.growDecoding, deriveSeed(spec.seed, 'grow', grow, 'shard', s.n)),
          reward: wire.reward,
          includeReferences: spec.includeReferences,
          createdAt: this.now(),
        },
        { msgId: messageId },
      );
    }
    await this.event(
      run,
      'grow.started',
      '',
      {
        $case: 'growStarted',
        growStarted: { policyId, numShards: shards.length, numSources: sources },
      },
      grow,
    );
    await this.move(v, 'growing', { grow, improve: 0, policyId });
  }

  private async onGrowing(v: View): Promise<void> {
    const { run, spec, points } = v;
    const grow = run.grow;
    const sources = await this.sourceCount(spec);
    const shards = growShards(sources, spec.sourcesPerGrowShard);
    if (!shards.every((s) => points.has(metricKeys.shard(grow, s.n)))) return;
    const groups = await this.loadGrow(v, grow, sources);
    if (!points.has(metricKeys.grow(grow))) {
      const stats = rewardStats(groups.flatMap((g) => g.samples.map((s) => s.reward)));
      await this.deps.store.runs.appendMetrics(run._id, {
        key: metricKeys.grow(grow),
        grow,
        improve: 0,
        values: {
          num_samples: stats.count,
          num_sources: groups.length,
          ...rewardValues(stats),
          seconds: (this.now().getTime() - run.updatedAt.getTime()) / 1000,
        },
      });
      await this.event(
        run,
        'grow.completed',
        '',
        {
          $case: 'growCompleted',
          growCompleted: {
            numSamples: BigInt(stats.count),
            numSources: groups.length,
            rewards: { ...stats, count: BigInt(stats.count) },
          },
        },
        grow,
      );
    }
    await this.startImprove(v, grow, 1, run.policyId ?? spec.basePolicyId, groups);
  }

  private async startImprove(
    v: View,
    grow: number,
    improve: number,
    parentPolicyId: string,
    loaded?: readonly SourceSamples[],
  ): Promise<void> {
    const { run, spec, wire, points } = v;
    const groups = loaded ?? (await this.loadGrow(v, grow, await this.sourceCount(spec)));
    const previous = points.get(metricKeys.filter(grow, improve - 1))?.values['threshold'];
    const outcome = filterImproveStep(groups, {
      schedule: spec.thresholds,
      stop: spec.improveStop,
      step: improve,
      previousTau: spec.thresholds.kind === 'fixed' ? previous : undefined,
    });
    const threshold = thresholdOf(v.spec, outcome, improve);
    const learningRate = improveLearningRate(spec.optimizer, improve);
    const filterValues = {
      threshold,
      num_examples: outcome.stats.keptCount,
      source_coverage: outcome.stats.sourceCoverage,
      learning_rate: learningRate,
    };
    const jobId = stepPolicyId(run._id, grow, improve);
    if (outcome.kind === 'too-few') {
      this.deps.logger.info('improve step skipped: too few examples pass', {
        runId: run._id,
        grow,
        improve,
        reasons: outcome.reasons,
        kept: outcome.stats.keptCount,
      });
      await this.deps.store.runs.appendMetrics(run._id, {
        key: metricKeys.filter(grow, improve),
        grow,
        improve,
        values: { ...filterValues, num_shards: 0, skipped: 1 },
      });
      await this.event(
        run,
        'improve.completed',
        '',
        {
          $case: 'improveCompleted',
          improveCompleted: {
            jobId,
            outcome: events.ImproveOutcome.IMPROVE_OUTCOME_SKIPPED_TOO_FEW_EXAMPLES,
            policyId: '',
            steps: 0,
            metrics: {},
          },
        },
        grow,
        improve,
      );
      return this.endImproveLoop(v, grow, parentPolicyId);
    }
    const shards = toShards(outcome.keys, groups, threshold, spec.reward.model);
    await this.deps.store.shards.put({ run: run._id, grow, improve }, shards);
    await this.deps.store.runs.appendMetrics(run._id, {
      key: metricKeys.filter(grow, improve),
      grow,
      improve,
      values: { ...filterValues, num_shards: shards.length, skipped: 0 },
    });
    const messageId = `${run._id}/g${grow}/i${improve}/improve`;
    await this.deps.bus.publishWork(
      workSubject('improve'),
      events.ImproveWork,
      {
        messageId,
        runId: run._id,
        grow,
        improve,
        jobId,
        parentPolicyId,
        objective: {
          ...(wire.objective ?? objectives.Objective.fromPartial({})),
          referencePolicyId: spec.objective.referencePolicyId,
        },
        optimizer: optimizerToWire(spec.optimizer, learningRate),
        numShards: shards.length,
        numExamples: BigInt(outcome.stats.keptCount),
        dataset: spec.dataset.name,
        validSplit: spec.dataset.validSplit,
        eval: {
          decoding: decodingToWire(spec.eval.decoding),
          maxSources: spec.eval.maxSources ?? 0,
          metrics: [...spec.eval.metrics],
        },
        reward: wire.reward,
        seed: deriveSeed(spec.seed, 'grow', grow, 'improve', improve),
        createdAt: this.now(),
      },
      { msgId: messageId },
    );
    await this.event(
      run,
      'improve.started',
      '',
      {
        $case: 'improveStarted',
        improveStarted: {
          jobId,
          parentPolicyId,
          threshold,
          numExamples: BigInt(outcome.stats.keptCount),
          sourceCoverage: outcome.stats.sourceCoverage,
          learningRate,
        },
      },
      grow,
      improve,
    );
    await this.move(v, 'improving', { grow, improve, policyId: parentPolicyId });
  }

  private async onImproving(v: View): Promise<void> {
    const { run, spec } = v;
    const train = v.points.get(metricKeys.train(run.grow, run.improve));
    if (train === undefined) return;
    const policyId = stepPolicyId(run._id, run.grow, run.improve);
    if ((await this.deps.store.policies.get(policyId)) === null) {
      throw new RunFailure(
        `Improve step ${run.grow}.${run.improve} completed but policy ${policyId} is not registered`,
      );
    }
    if (!spec.continueWithoutGain && withoutGain(train.values)) {
      // ReST trains "while the reward on D_val keeps improving": a step that did not beat its
      // parent ends the loop, and the parent (the state's policy while improving) carries on.
      const parent = run.policyId ?? spec.basePolicyId;
      this.deps.logger.info('improve step without gain: the Improve loop ends with its parent', {
        runId: run._id,
        grow: run.grow,
        improve: run.improve,
        validReward: train.values['valid_reward_mean'],
        parentValidReward: train.values['valid_reward_initial'],
        parent,
      });
      return this.endImproveLoop(v, run.grow, parent);
    }
    await this.publishEval(v, run.grow, run.improve, policyId);
    await this.move(v, 'evaluating', { grow: run.grow, improve: run.improve, policyId });
  }

  private async onEvaluating(v: View): Promise<void> {
    const { run, spec } = v;
    if (run.improve === 0) return this.onTesting(v);
    if (!v.points.has(metricKeys.eval(run.grow, run.improve))) return;
    const policyId = run.policyId ?? spec.basePolicyId;
    if (run.improve < spec.improveSteps) return this.startImprove(v, run.grow, run.improve + 1, policyId);
    return this.endImproveLoop(v, run.grow, policyId);
  }

  /**
   * After the last Grow's Improve loop: the final policy is evaluated on the test split, on which no
   * choice was made (checkpoints and the stop rule use the valid split). The state is `evaluating`
   * with Improve step 0, which no Improve step's evaluation has.
   */
  private async endImproveLoop(v: View, grow: number, policyId: string): Promise<void> {
    if (grow < v.spec.growSteps) return this.startGrow(v, grow + 1, policyId);
    await this.publishEval(v, grow, 0, policyId, v.spec.dataset.testSplit);
    await this.move(v, 'evaluating', { grow, improve: 0, policyId });
  }

  /** The final test evaluation is in: the run completes with its figures. */
  private async onTesting(v: View): Promise<void> {
    const { run, spec } = v;
    const test = v.points.get(evalKey(spec, spec.dataset.testSplit, run.grow, 0));
    if (test === undefined) return;
    const policyId = run.policyId ?? spec.basePolicyId;
    const lastValid = [...v.points.values()]
      // The valid evaluations of kept policies (the base's g0/i0 included), not a test split
      // that is the valid one (`g<G>/i0/eval`).
      .filter((p) => p.key.endsWith('/eval') && p.key.startsWith('g') && (p.improve > 0 || p.grow === 0))
      .sort((a, b) => a.grow - b.grow || a.improve - b.improve)
      .at(-1);
    const metrics: Record<string, number> = { ...(lastValid?.values ?? {}) };
    for (const [k, x] of Object.entries(test.values)) metrics[`test_${k}`] = x;
    await this.event(run, 'run.completed', '', {
      $case: 'runCompleted',
      runCompleted: { finalPolicyId: policyId, metrics },
    });
    await this.move(v, 'completed', { policyId });
  }

  // --- helpers ---------------------------------------------------------------------------------

  private async publishEval(
    v: View,
    grow: number,
    improve: number,
    policyId: string,
    split = v.spec.dataset.validSplit,
  ): Promise<void> {
    const { run, spec, wire } = v;
    const messageId = `${run._id}/g${grow}/i${improve}/eval/${split}`;
    await this.deps.bus.publishWork(
      workSubject('eval'),
      events.EvalWork,
      {
        messageId,
        runId: run._id,
        grow,
        improve,
        policyId,
        dataset: spec.dataset.name,
        split,
        eval: {
          decoding: decodingToWire(spec.eval.decoding),
          maxSources: spec.eval.maxSources ?? 0,
          metrics: [...spec.eval.metrics],
        },
        reward: wire.reward,
        createdAt: this.now(),
      },
      { msgId: messageId },
    );
  }

  /**
   * Sources of a Grow: the train split, capped by `maxTrainSources`. Counted once per dataset and
   * split (a count scans on FerretDB, and datasets do not change under a run).
   */
  private async sourceCount(spec: RunSpec): Promise<number> {
    const split = spec.dataset.trainSplit as Split;
    const key = `${spec.dataset.name}/${split}`;
    let total = this.counts.get(key);
    if (total === undefined || total === 0) {
      total = await this.deps.store.datasets.count(spec.dataset.name, split);
      this.counts.set(key, total);
    }
    const n = Math.min(total, spec.dataset.maxTrainSources ?? Infinity);
    if (n === 0) throw new RunFailure(`dataset ${spec.dataset.name} has no ${split} sentences in the store`);
    return n;
  }

  /** D_g: every scored candidate of Grow `grow`, grouped by source. */
  private async loadGrow(v: View, grow: number, sources: number): Promise<SourceSamples[]> {
    const { run, spec } = v;
    const model = spec.reward.model;
    const perSource = spec.samplesPerSource + (spec.includeReferences ? 1 : 0);
    const groups: SourceSamples[] = [];
    for (let from = 0; from < sources; from += SOURCES_PER_PAGE) {
      const to = Math.min(from + SOURCES_PER_PAGE, sources);
      const docs = await this.deps.store.samples.find(run._id, grow, {
        fromIdx: from,
        toIdx: to,
        limit: (to - from) * perSource + 1,
      });
      const bySource = new Map<number, { key: string; reward: number }[]>();
      for (const d of docs) {
        if (d.policyId === REFERENCE_POLICY && !spec.includeReferences) continue;
        const reward = d.rewards[model];
        if (reward === undefined || !Number.isFinite(reward)) {
          throw new RunFailure(
            `sample ${d._id} of Grow ${grow} has no ${model} reward although its shard is done`,
          );
        }
        const list = bySource.get(d.idx) ?? [];
        list.push({ key: `${d.idx}/${d.k}`, reward });
        bySource.set(d.idx, list);
      }
      for (let idx = from; idx < to; idx++) {
        const samples = bySource.get(idx);
        if (samples === undefined || samples.length < spec.samplesPerSource) {
          throw new RunFailure(
            `source ${idx} of Grow ${grow} has ${samples?.length ?? 0} samples, expected ${spec.samplesPerSource}`,
          );
        }
        groups.push({ sourceId: String(idx), samples });
      }
    }
    return groups;
  }

  private async event(
    run: RunDoc,
    kind: RunEventKind,
    suffix: string,
    body: events.RunEvent['event'],
    grow = run.grow,
    improve = 0,
  ): Promise<void> {
    const messageId = `${run._id}/g${grow}/i${improve}/${kind}${suffix}`;
    await this.deps.bus.publishEvent(
      runEventSubject(run._id, kind),
      events.RunEvent,
      { messageId, runId: run._id, grow, improve, at: this.now(), event: body },
      { msgId: messageId },
    );
  }

  private async move(
    v: View,
    to: RunState,
    fields: { grow?: number; improve?: number; policyId?: string },
  ): Promise<void> {
    await this.deps.store.runs.transition(v.run._id, {
      from: v.run.state,
      to,
      expectedVersion: v.run.version,
      ...fields,
    });
    this.deps.logger.info('run advanced', { runId: v.run._id, from: v.run.state, to, ...fields });
  }
}

function statsOf(s: events.RewardStats | undefined): RewardStats {
  return {
    count: Number(s?.count ?? 0),
    mean: s?.mean ?? 0,
    std: s?.std ?? 0,
    min: s?.min ?? 0,
    max: s?.max ?? 0,
  };
}

/** The metrics key of an evaluation: `g<g>/i<i>/eval` on the valid split, `<split>/eval` on another. */
function evalKey(spec: RunSpec, split: string, grow: number, improve: number): string {
  return split === spec.dataset.validSplit ? metricKeys.eval(grow, improve) : `${split}/eval`;
}

function finite(m: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, x]) => Number.isFinite(x)));
}

/** The schedule value of a step: τ after the guards for a fixed schedule, else p_i or γ_i. */
function thresholdOf(spec: RunSpec, outcome: FilterOutcome, improve: number): number {
  const t = spec.thresholds;
  if (t.kind === 'fixed') return outcome.stats.tau?.used ?? t.thresholds[improve - 1]!;
  return (t.kind === 'percentile' ? t.percentiles : t.gammas)[improve - 1]!;
}

/** The kept keys (`idx/k`) as shards of at most {@link SHARD_EXAMPLES}, in source order. */
function toShards(
  keys: readonly string[],
  groups: readonly SourceSamples[],
  threshold: number,
  rewardModel: string,
): ShardInput[] {
  const reward = new Map<string, number>();
  for (const g of groups) for (const s of g.samples) reward.set(s.key, s.reward);
  const examples: ShardExample[] = keys.map((key) => {
    const [idx, k] = key.split('/').map(Number) as [number, number];
    return { idx, k, reward: reward.get(key)! };
  });
  examples.sort((a, b) => a.idx - b.idx || a.k - b.k);
  const shards: ShardInput[] = [];
  for (let i = 0; i < examples.length; i += SHARD_EXAMPLES) {
    shards.push({
      n: shards.length,
      examples: examples.slice(i, i + SHARD_EXAMPLES),
      threshold,
      rewardModel,
    });
  }
  return shards;
}

const LR_SCHEDULES = {
  constant: runSpec.LrSchedule.LR_SCHEDULE_CONSTANT,
  'inverse-sqrt': runSpec.LrSchedule.LR_SCHEDULE_INVERSE_SQRT,
  linear: runSpec.LrSchedule.LR_SCHEDULE_LINEAR,
} as const;

/** The resolved optimizer on the wire, with the step's decayed peak learning rate. */
function optimizerToWire(o: OptimizerSpec, learningRate: number): runSpec.OptimizerParams {
  return {
    learningRate,
    lrDecayPerImprove: o.lrDecayPerImprove,
    lrSchedule: LR_SCHEDULES[o.lrSchedule],
    warmupSteps: o.warmupSteps,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm ?? 0,
    labelSmoothing: o.labelSmoothing,
    dropout: o.dropout,
    batchMaxTokens: o.batchMaxTokens,
    maxStepsPerImprove: o.maxStepsPerImprove,
    evalEverySteps: o.evalEverySteps,
  };
}

function isTransient(err: unknown): boolean {
  return (
    err instanceof UnavailableError ||
    err instanceof DeadlineExceededError ||
    err instanceof FailedPreconditionError ||
    (err instanceof Error && /ECONNREFUSED|MongoNetwork|topology|closed/i.test(err.message))
  );
}
