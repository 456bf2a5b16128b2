/**
 * `rest demo` and `rest up`: the platform end to end on one machine.
 *
 * `up` starts the local stack (`src/stack/`) and keeps it running, printing the addresses and the
 * environment other shells need. `demo` makes sure a base policy exists (the cached Multi30k policy,
 * else a small one pretrained on the spot), starts the stack, registers the base policy, creates the
 * run of `examples/demo.yaml`, follows it with progress bars, prints the validation table (base policy,
 * then every Improve step) and writes the HTML report.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { coordinatorClient } from '../clients.js';
import { defaultDataDir } from '../paths.js';
import { PRETRAIN_DEFAULTS, type PretrainOptions } from '../pretrain/run.js';
import { writeReport } from '../report/report.js';
import { REPO_ROOT } from '../stack/service-process.js';
import { registerPolicyFolder, startStack, type Stack } from '../stack/stack.js';
import { pretrainCommand } from './pretrain.js';
import { readRunSpecFile } from './run.js';
import { followRun, RunEventView } from './watch.js';
import { withoutGain } from '@rest/coordinator';
import type { MetricsDoc } from '@rest/store';

/**
 * The small policy `rest demo` pretrains when none is cached: two epochs (352 steps; valid BLEU ≈ 12),
 * a fixed amount of training, so that every machine starts the demo from the same kind of policy — a
 * time budget gave BLEU 6.7 on a loaded machine and 30.7 on a quiet one, where ReST had little left
 * to improve. About 2 minutes on 2 quiet cores, 7 loaded; `maxMinutes` only caps it.
 */
export const DEMO_PRETRAIN: Omit<PretrainOptions, 'dataDir' | 'workDir' | 'out'> = {
  ...PRETRAIN_DEFAULTS,
  vocabSize: 4000,
  dModel: 128,
  heads: 4,
  ffnDim: 512,
  layers: 2,
  lr: 2e-3,
  warmupSteps: 300,
  epochs: 2,
  maxMinutes: 20,
  evalSentences: 300,
  testBeam: 1,
};

/** Options of `rest demo`. */
export interface DemoOptions {
  readonly workDir: string;
  readonly dataDir: string;
  /** A policy bundle folder to start from instead of the cached or pretrained one. */
  readonly policy?: string;
  readonly spec: string;
  readonly pretrainMinutes: number;
  readonly growWorkers: number;
  readonly policyServers: number;
  /** Keep the stack running after the run (Ctrl-C stops it). */
  readonly keep: boolean;
}

const isBundle = (dir: string): boolean =>
  existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'onnx'));

/** Picks the base policy folder: `--policy`, the cached pretrained policy, or a demo one (pretrained now). */
async function basePolicy(o: DemoOptions): Promise<string> {
  if (o.policy !== undefined) {
    if (!isBundle(o.policy))
      throw new Error(`--policy ${o.policy}: not a policy bundle folder (no config.json/onnx)`);
    return resolve(o.policy);
  }
  for (const dir of ['policies/pretrained', 'policies/demo-base'].map((d) => resolve(REPO_ROOT, d))) {
    if (isBundle(dir)) return dir;
  }
  const out = resolve(REPO_ROOT, 'policies/demo-base');
  console.log(
    `no cached base policy: pretraining a small one for ${DEMO_PRETRAIN.epochs} epochs (at most ${o.pretrainMinutes} min) into ${out} ` +
      '(kept for later demos; `rest pretrain` makes the full-size one)',
  );
  await pretrainCommand({
    ...DEMO_PRETRAIN,
    maxMinutes: o.pretrainMinutes,
    dataDir: o.dataDir,
    workDir: join(resolve(o.workDir), 'pretrain'),
    out,
  });
  return out;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

/**
 * The validation table: the base policy, then each Improve step, with the reward's change against
 * the base and against the step before. A step that ended its Grow's Improve loop without gain (not
 * evaluated; the coordinator's stop rule) is listed with the trainer's validation of it, its change
 * taken against its parent in the same job, and marked `stop`.
 * @returns the table's lines, whether the reward rose at every evaluated Improve step of the first
 *   Grow, and the steps that stopped a loop (`g<g>/i<i>`)
 */
export function validationTable(points: readonly MetricsDoc[]): {
  lines: string[];
  rose: boolean;
  stopped: string[];
} {
  const byKey = new Map(points.map((p) => [p.key, p.values]));
  const base = byKey.get('g0/i0/eval');
  const evals = points.filter((p) => /^g\d+\/i\d+\/eval$/.test(p.key) && p.grow > 0 && p.improve > 0);
  const stops = points.filter(
    (p) =>
      /^g\d+\/i\d+\/train$/.test(p.key) &&
      withoutGain(p.values) &&
      !byKey.has(`g${p.grow}/i${p.improve}/eval`),
  );
  const steps = [...evals, ...stops].sort((a, b) => a.grow - b.grow || a.improve - b.improve);
  const f = (x: number | undefined, d = 4): string => (x === undefined ? '—' : x.toFixed(d));
  const signed = (x: number | undefined): string => (x === undefined ? '—' : `${x >= 0 ? '+' : ''}${f(x)}`);
  const header = ['policy', 'τ', 'kept', 'valid reward', 'Δ base', 'Δ prev', 'BLEU', 'chrF'];
  const rows: string[][] = [];
  rows.push(['base', '', '', f(base?.['reward_mean']), '', '', f(base?.['bleu'], 2), f(base?.['chrf'], 2)]);
  let prev = base?.['reward_mean'];
  let rose = base !== undefined && evals.some((p) => p.grow === 1);
  const stopped: string[] = [];
  for (const p of steps) {
    const name = `g${p.grow}/i${p.improve}`;
    const stop = p.key.endsWith('/train');
    const r = p.values[stop ? 'valid_reward_mean' : 'reward_mean'];
    const filter = byKey.get(`g${p.grow}/i${p.improve}/filter`);
    const up = stop
      ? r === undefined
        ? undefined
        : r - p.values['valid_reward_initial']!
      : r !== undefined && prev !== undefined
        ? r - prev
        : undefined;
    if (!stop && p.grow === 1 && (up === undefined || up <= 0)) rose = false;
    if (stop) stopped.push(name);
    rows.push([
      stop ? `${name} stop` : name,
      f(filter?.['threshold'], 3),
      filter?.['num_examples'] === undefined ? '—' : String(filter['num_examples']),
      f(r),
      signed(r !== undefined && base?.['reward_mean'] !== undefined ? r - base['reward_mean'] : undefined),
      signed(up),
      f(p.values[stop ? 'valid_bleu' : 'bleu'], 2),
      f(stop ? undefined : p.values['chrf'], 2),
    ]);
    // A stopped step's parent carries on: the next step is compared with it.
    if (!stop) prev = r;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return {
    lines: [
      pad(header, widths),
      widths.map((w) => '─'.repeat(w)).join('  '),
      ...rows.map((r) => pad(r, widths)),
    ],
    rose,
    stopped,
  };
}

/** Waits for SIGINT/SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise((done) => {
    const on = (): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      done();
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function printStack(stack: Stack): void {
  const a = stack.addresses;
  console.log(`  coordinator  ${a.coordinator}`);
  console.log(`  policy       ${a.policy.join(', ')}`);
  console.log(`  reward       ${a.reward}`);
  console.log(`  trainer      ${a.trainer}`);
  console.log(`  logs         ${stack.logDir}`);
  console.log('Point other shells at it with:');
  console.log(
    `  export REST_COORDINATOR=${a.coordinator} REST_POLICY_SERVER=${a.policy[0]} REST_REWARD_SERVER=${a.reward} ` +
      `NATS_URL=${stack.infra.natsUrl} MONGODB_URI=${stack.infra.mongoUri}`,
  );
}

/** Runs `rest demo`. Exit status 0 when the run completed and the reward rose at every step of Grow 1. */
export async function demoCommand(o: DemoOptions): Promise<void> {
  const t0 = Date.now();
  const minutes = (): string => ((Date.now() - t0) / 60_000).toFixed(1);
  const baseDir = await basePolicy(o);
  const spec = await readRunSpecFile(o.spec);
  console.log(`[${minutes()} min] base policy ${baseDir}; starting NATS, FerretDB and the services …`);
  const stack = await startStack({
    workDir: o.workDir,
    dataDir: o.dataDir,
    growWorkers: o.growWorkers,
    policyServers: o.policyServers,
    ...(spec.dataset?.name === undefined || spec.dataset.name === '' ? {} : { dataset: spec.dataset.name }),
    // The run reads only the first max_train_sources sources; importing the rest would cost minutes.
    ...(spec.dataset?.maxTrainSources ? { datasetLimits: { train: spec.dataset.maxTrainSources } } : {}),
    onNotice: (m) => console.log(`  ! ${m}`),
  });
  const client = coordinatorClient(stack.addresses.coordinator);
  try {
    printStack(stack);
    await registerPolicyFolder(stack.store, spec.basePolicyId, baseDir);
    const { run } = await client.call('createRun', { spec, runId: '' });
    if (run === undefined) throw new Error('CreateRun answered without a run');
    console.log(`[${minutes()} min] run ${run.runId} created (${o.spec}); following it …`);
    const outcome = await followRun(client, run.runId, new RunEventView(process.stdout));
    const points = await stack.store.runs.metrics(run.runId);
    const { lines, rose, stopped } = validationTable(points);
    console.log(
      `\nValidation (${spec.eval?.maxSources || 'all'} ${spec.dataset?.validSplit || 'valid'} sentences, reward ${spec.reward?.model}):`,
    );
    for (const l of lines) console.log(`  ${l}`);
    if (stopped.length > 0)
      console.log(
        `  (stop: a step whose best checkpoint was not above its parent on the trainer's validation; ` +
          `it ended its Grow's Improve loop and the parent carried on: ${stopped.join(', ')})`,
      );
    const test = points.find((p) => p.key === 'test/eval')?.values;
    if (test !== undefined)
      console.log(
        `\nTest (${test['num_sources']} ${spec.dataset?.testSplit || 'test'} sentences, no choice made on them): ` +
          `final policy reward ${test['reward_mean']?.toFixed(4)}` +
          (test['bleu'] === undefined ? '' : `, BLEU ${test['bleu'].toFixed(2)}`) +
          (test['chrf'] === undefined ? '' : `, chrF ${test['chrf'].toFixed(2)}`),
      );
    const report = await writeReport(stack.store, {
      runId: run.runId,
      outPath: join(resolve(o.workDir), 'report.html'),
    });
    console.log(`\nrun ${outcome} in ${minutes()} min; report: ${report.outPath}`);
    console.log(
      rose
        ? `the validation reward rose over the base policy at every ${stopped.length > 0 ? 'kept ' : ''}Improve step of Grow 1`
        : 'the validation reward did NOT rise at every Improve step of Grow 1',
    );
    // The exit code says whether the run completed; whether ReST improved the policy is a result,
    // printed above, not an error.
    if (outcome !== 'completed') process.exitCode = 1;
    if (o.keep) {
      console.log('\nThe stack stays up (Ctrl-C stops it).');
      await untilInterrupted();
    }
  } finally {
    client.close();
    await stack.stop();
  }
}

/** Options of `rest up`. */
export interface UpOptions {
  readonly workDir: string;
  readonly dataDir: string;
  readonly policy: readonly string[];
  readonly growWorkers: number;
  readonly policyServers: number;
  readonly rewardModels: readonly string[];
}

/** Runs `rest up`: the stack until Ctrl-C. */
export async function upCommand(o: UpOptions): Promise<void> {
  const stack = await startStack({
    workDir: o.workDir,
    dataDir: o.dataDir,
    growWorkers: o.growWorkers,
    policyServers: o.policyServers,
    rewardModelDirs: o.rewardModels,
    onNotice: (m) => console.log(`  ! ${m}`),
  });
  try {
    for (const spec of o.policy) {
      const [id, dir] = spec.includes('=')
        ? (spec.split('=', 2) as [string, string])
        : [spec.split('/').filter(Boolean).at(-1)!, spec];
      const added = await registerPolicyFolder(stack.store, id, dir);
      console.log(`policy ${id}: ${added ? 'registered from' : 'already registered;'} ${dir}`);
    }
    console.log('platform up:');
    printStack(stack);
    console.log('Press Ctrl-C to stop.');
    await untilInterrupted();
  } finally {
    await stack.stop();
  }
}

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
};

/** Registers `rest demo` and `rest up`. */
export function addStackCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole platform locally: NATS, FerretDB and every service, a base policy (cached, or pretrained ' +
        'for a few minutes), a short ReST run with live progress, the validation table and an HTML report',
    )
    .option(
      '--spec <file>',
      'the run spec (its base_policy_id names the base policy)',
      join(REPO_ROOT, 'examples/demo.yaml'),
    )
    .option(
      '--policy <dir>',
      'start from this policy bundle folder (default: policies/pretrained or policies/demo-base, else pretrain one)',
    )
    .option(
      '--pretrain-minutes <n>',
      'time cap of the base policy pretraining (two epochs) when none is cached',
      int,
      DEMO_PRETRAIN.maxMinutes,
    )
    .option('--data-dir <dir>', 'folder with <split>.<lang> files', defaultDataDir())
    .option('--work-dir <dir>', 'logs, scratch and the report', '.rest/demo')
    .option('--grow-workers <n>', 'grow-worker processes (0: inside the coordinator)', int, 1)
    .option('--policy-servers <n>', 'policy server processes', int, 1)
    .option('--keep', 'keep the platform running after the run (Ctrl-C stops it)', false)
    .action(async (opts: Omit<DemoOptions, never>) => {
      await demoCommand(opts);
    });
  program
    .command('up')
    .description(
      'start NATS and FerretDB (or adopt NATS_URL / MONGODB_URI) and every service on loopback, import the ' +
        'dataset, register policy folders; print the addresses; run until Ctrl-C',
    )
    .option(
      '--policy <[id=]dir...>',
      'policy bundle folders to register (id defaults to the folder name)',
      [],
    )
    .option('--reward-model <dir...>', 'learned reward model folders for the reward server', [])
    .option('--data-dir <dir>', 'folder with <split>.<lang> files', defaultDataDir())
    .option('--work-dir <dir>', 'logs and scratch', '.rest/up')
    .option('--grow-workers <n>', 'grow-worker processes (0: inside the coordinator)', int, 1)
    .option('--policy-servers <n>', 'policy server processes', int, 1)
    .action(
      async (opts: {
        policy: string[];
        rewardModel: string[];
        dataDir: string;
        workDir: string;
        growWorkers: number;
        policyServers: number;
      }) => {
        await upCommand({ ...opts, rewardModels: opts.rewardModel });
      },
    );
}
