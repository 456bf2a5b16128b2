/**
 * `rest watch <run-id>`: follows a run's event log through CoordinatorService.WatchRun. On a
 * terminal, live bars (cli-progress MultiBar): Grow shards done of those published, the Improve
 * step's training steps; everything else (starts, evaluation results, the end) as lines above them.
 * Otherwise one plain line per event. Exit status 0 when the run completes, 1 when it fails or is
 * cancelled (with the reason).
 *
 * The stream is resumed from the last sequence seen when the connection drops or the server ends it
 * early (a coordinator shutting down ends its watches); a stream that ends without a final event
 * on a run the store says is over ends the watch with that run's state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { coordinator, events, trainer } from '@rest/proto';
import { coordinatorClient, ServerCallError, callError, type ServiceClient } from '../clients.js';

/** How a followed run ended. */
export type RunOutcome = 'completed' | 'failed' | 'cancelled';

/** Consecutive failed (re)connections before the watch gives up. */
const MAX_RECONNECTS = 5;

/** A number for people: integers as they are, others with `digits` decimals. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

/** `name value` pairs of a metrics map, in key order, values to at most 4 decimals. */
export function formatValues(values: Readonly<Record<string, number>>): string {
  return Object.keys(values)
    .sort()
    .map((k) => {
      const x = values[k]!;
      return `${k} ${Number.isFinite(x) ? String(Number(x.toFixed(4))) : String(x)}`;
    })
    .join(' · ');
}

const stepLabel = (e: events.RunEvent): string => `${e.grow}.${e.improve}`;

function rewardLine(r: events.RewardStats | undefined): string {
  return r === undefined ? 'reward –' : `reward ${fmt(r.mean)} ± ${fmt(r.std)}`;
}

/** One line for an event, or undefined for those the bars show (shard done, training progress). */
export function describeEvent(e: events.RunEvent, tty: boolean): string | undefined {
  const ev = e.event;
  switch (ev?.$case) {
    case undefined:
      return undefined;
    case 'growStarted':
      return `grow ${e.grow}: ${ev.growStarted.numShards} shards, ${ev.growStarted.numSources} sources, sampling from ${ev.growStarted.policyId}`;
    case 'growShardDone': {
      const d = ev.growShardDone;
      return tty
        ? undefined
        : `grow ${e.grow}: shard ${d.shard} done · ${d.numSamples} samples · ${rewardLine(d.rewards)}`;
    }
    case 'growCompleted': {
      const d = ev.growCompleted;
      return `grow ${e.grow}: done · ${d.numSamples} samples over ${d.numSources} sources · ${rewardLine(d.rewards)}`;
    }
    case 'improveStarted': {
      const d = ev.improveStarted;
      return (
        `improve ${stepLabel(e)}: threshold ${fmt(d.threshold)} · ${d.numExamples} examples · ` +
        `coverage ${fmt(d.sourceCoverage * 100, 1)} % · lr ${d.learningRate.toExponential(2)} · from ${d.parentPolicyId}`
      );
    }
    case 'improveProgress': {
      const p = ev.improveProgress.progress;
      return tty || p === undefined ? undefined : `improve ${stepLabel(e)}: ${progressText(p)}`;
    }
    case 'improveCompleted': {
      const d = ev.improveCompleted;
      return d.outcome === events.ImproveOutcome.IMPROVE_OUTCOME_SKIPPED_TOO_FEW_EXAMPLES
        ? `improve ${stepLabel(e)}: skipped, too few examples passed the filter (the Improve loop of grow ${e.grow} ends)`
        : `improve ${stepLabel(e)}: trained ${d.steps} steps → policy ${d.policyId}`;
    }
    case 'evalCompleted': {
      const d = ev.evalCompleted;
      const metrics = formatValues(d.metrics);
      return `eval g${e.grow}/i${e.improve} ${d.split}: ${d.policyId} · ${d.numSources} sources · ${rewardLine(d.rewards)}${metrics === '' ? '' : ` · ${metrics}`}`;
    }
    case 'runCompleted': {
      const metrics = formatValues(ev.runCompleted.metrics);
      return `run completed: final policy ${ev.runCompleted.finalPolicyId}${metrics === '' ? '' : ` · ${metrics}`}`;
    }
    case 'runFailed':
      return `run failed (${failureName(ev.runFailed.reason)}): ${ev.runFailed.message}`;
  }
}

function failureName(reason: events.RunFailureReason): string {
  return events.runFailureReasonToJSON(reason).replace('RUN_FAILURE_REASON_', '').toLowerCase();
}

function progressText(p: trainer.JobProgress): string {
  return (
    `step ${p.step}/${p.totalSteps} · loss ${fmt(p.loss, 4)} · ` +
    `${Math.round(p.tokensPerSecond)} tok/s · lr ${p.learningRate.toExponential(2)}`
  );
}

/** Renders events: bars and lines on a terminal, plain lines otherwise. */
export class RunEventView {
  private readonly bars: MultiBar | undefined;
  private grow: { key: number; bar: SingleBar | undefined; total: number; done: Set<number> } | undefined;
  private improve: { key: string; bar: SingleBar } | undefined;

  constructor(
    private readonly out: Writable & { isTTY?: boolean },
    readonly tty: boolean = out.isTTY === true,
  ) {
    this.bars = tty
      ? new MultiBar(
          {
            stream: out,
            format: '{label} |{bar}| {value}/{total} {unit} {detail}',
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
          },
          Presets.shades_classic,
        )
      : undefined;
  }

  /** Prints one line (above the bars on a terminal). */
  line(text: string): void {
    if (this.bars?.isActive === true) {
      // log() only queues the line for the next redraw, and stop() drops the queue: redraw now.
      this.bars.log(`${text}\n`);
      this.bars.update();
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Shows one event. */
  event(e: events.RunEvent): void {
    const ev = e.event;
    const text = describeEvent(e, this.tty);
    if (text !== undefined) this.line(text);
    switch (ev?.$case) {
      case 'growStarted':
        this.growBar(e.grow, ev.growStarted.numShards);
        break;
      case 'growShardDone': {
        const g = this.growBar(e.grow, 0);
        g.done.add(ev.growShardDone.shard);
        g.bar?.update(g.done.size);
        break;
      }
      case 'improveStarted':
        this.improveBar(e, 0, 0, '');
        break;
      case 'improveProgress': {
        const p = ev.improveProgress.progress;
        if (p !== undefined) this.improveBar(e, p.step, p.totalSteps, `· loss ${fmt(p.loss, 4)}`);
        break;
      }
      case 'improveCompleted':
        if (this.improve?.key === stepLabel(e)) {
          const total = this.improve.bar.getTotal();
          this.improve.bar.update(total, { detail: '· done' });
        }
        break;
      default:
        break;
    }
  }

  private growBar(grow: number, total: number): NonNullable<RunEventView['grow']> {
    if (this.grow?.key !== grow) {
      this.grow = { key: grow, bar: undefined, total, done: new Set() };
    }
    const g = this.grow;
    if (total > 0) g.total = total;
    if (this.bars !== undefined && g.total > 0) {
      g.bar ??= this.bars.create(g.total, g.done.size, {
        label: `grow ${grow}`.padEnd(12),
        unit: 'shards',
        detail: '',
      });
      g.bar.setTotal(g.total);
    }
    return g;
  }

  private improveBar(e: events.RunEvent, step: number, total: number, detail: string): void {
    if (this.bars === undefined) return;
    const key = stepLabel(e);
    if (this.improve?.key !== key) {
      const bar = this.bars.create(Math.max(total, 1), step, {
        label: `improve ${key}`.padEnd(12),
        unit: 'steps',
        detail,
      });
      this.improve = { key, bar };
    }
    if (total > 0) this.improve.bar.setTotal(total);
    this.improve.bar.update(step, { detail });
  }

  /** Stops the bars (leaving them on screen). */
  stop(): void {
    this.bars?.stop();
  }
}

function outcomeOfState(state: coordinator.RunState): RunOutcome | undefined {
  switch (state) {
    case coordinator.RunState.RUN_STATE_COMPLETED:
      return 'completed';
    case coordinator.RunState.RUN_STATE_FAILED:
      return 'failed';
    case coordinator.RunState.RUN_STATE_CANCELLED:
      return 'cancelled';
    default:
      return undefined;
  }
}

/** Reads one WatchRun stream to its end; resolves with the final event's outcome, if one came. */
function readStream(
  client: ServiceClient<coordinator.CoordinatorServiceClient>,
  request: coordinator.WatchRunRequest,
  onEvent: (response: coordinator.WatchRunResponse) => void,
): Promise<RunOutcome | undefined> {
  return new Promise((resolve, reject) => {
    let outcome: RunOutcome | undefined;
    const stream = client.client.watchRun(request);
    stream.on('data', (response: coordinator.WatchRunResponse) => {
      onEvent(response);
      const ev = response.event?.event;
      if (ev?.$case === 'runCompleted') outcome = 'completed';
      else if (ev?.$case === 'runFailed')
        outcome =
          ev.runFailed.reason === events.RunFailureReason.RUN_FAILURE_REASON_CANCELLED
            ? 'cancelled'
            : 'failed';
    });
    stream.on('error', (error: grpc.ServiceError) => reject(callError(client.target, error)));
    stream.on('end', () => resolve(outcome));
  });
}

/**
 * Follows `runId` until it ends, rendering with `view`.
 * @returns how the run ended
 * @throws ServerCallError when the run does not exist or the coordinator stays unreachable
 */
export async function followRun(
  client: ServiceClient<coordinator.CoordinatorServiceClient>,
  runId: string,
  view: RunEventView,
): Promise<RunOutcome> {
  let after = 0n;
  let failures = 0;
  try {
    for (;;) {
      let outcome: RunOutcome | undefined;
      try {
        outcome = await readStream(client, { runId, afterSequence: after }, (response) => {
          after = response.sequence;
          failures = 0;
          if (response.event !== undefined) view.event(response.event);
        });
      } catch (err) {
        if (!(err instanceof ServerCallError) || err.code !== grpc.status.UNAVAILABLE) throw err;
        if (++failures > MAX_RECONNECTS) throw err;
        view.line(`(${err.message}; retrying, attempt ${failures} of ${MAX_RECONNECTS})`);
        await sleep(500 * 2 ** failures);
        continue;
      }
      if (outcome !== undefined) return outcome;
      // Ended without a final event: the server is going away, or the run's log no longer has one.
      const run = (await client.call('getRun', { runId })).run;
      const ended = run === undefined ? undefined : outcomeOfState(run.state);
      if (ended !== undefined) {
        view.line(`run ${ended}${run?.error === '' || run === undefined ? '' : `: ${run.error}`}`);
        return ended;
      }
    }
  } finally {
    view.stop();
  }
}

/** Registers `rest watch`. */
export function addWatchCommand(program: Command): void {
  program
    .command('watch')
    .description(
      'follow a run: progress bars for Grow shards and Improve steps, evaluation results as lines; ' +
        'exit 0 when the run completes, 1 when it fails or is cancelled',
    )
    .argument('<run-id>', 'the run')
    .option(
      '--coordinator <host:port>',
      'CoordinatorService address (else REST_COORDINATOR, else 127.0.0.1:50054)',
    )
    .action(async (runId: string, opts: { coordinator?: string }) => {
      const client = coordinatorClient(opts.coordinator);
      try {
        const outcome = await followRun(client, runId, new RunEventView(process.stdout));
        if (outcome !== 'completed') process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
