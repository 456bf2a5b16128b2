/**
 * `rest train-reward`: the command face of `trainRewardModel` (@rest/reward-server) — flags, progress
 * bars (sampling, then training with loss, pairs/s and dev Pearson) and the closing agreement table.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import {
  QE_METRICS,
  TRAIN_REWARD_DEFAULTS,
  trainRewardModel,
  type Agreement,
  type QeMetric,
  type TrainRewardEvent,
  type TrainRewardOptions,
  type TrainRewardResult,
} from '@rest/reward-server';
import { defaultDataDir } from '../paths.js';

/** The flags as commander hands them over. */
type TrainRewardFlags = Omit<TrainRewardOptions, 'out'> & { out?: string };

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};

function row(label: string, a: Agreement | undefined): string {
  if (a === undefined) return `  ${label.padEnd(18)} –`;
  const f = (v: number): string => (Number.isNaN(v) ? '  –  ' : v.toFixed(3));
  return (
    `  ${label.padEnd(18)} ${String(a.pairs).padStart(6)}  Pearson ${f(a.pearson)}  Kendall τ-b ${f(a.kendallTauB)}` +
    `  RMSE ${a.rmse.toFixed(2).padStart(6)}  mean score ${a.meanScore.toFixed(2).padStart(6)} / metric ${a.meanTarget.toFixed(2).padStart(6)}`
  );
}

/** The closing summary printed on stdout. */
export function formatTrainRewardResult(r: TrainRewardResult, metric: QeMetric): string {
  return [
    `reward model "${r.name}" (predicts ${metric}) written to ${r.out}`,
    `held-out test pairs (sources never trained on), scored by the written folder through loadRewardModel:`,
    row('all', r.test),
    row('policy samples', r.testSamples),
    ...Object.entries(r.testByOrigin)
      .filter(([origin]) => origin !== 'sample')
      .map(([origin, a]) => row(`  ${origin}`, a)),
    `dev (model selection, epoch ${r.bestEpoch}): Pearson ${r.dev.pearson.toFixed(3)}, Kendall τ-b ${r.dev.kendallTauB.toFixed(3)}`,
    `calibration (held-out scores): mean ${r.calibration.mean.toFixed(2)}, std ${r.calibration.std.toFixed(2)}`,
    `pairs: train ${r.pairs.train}, dev ${r.pairs.dev}, test ${r.pairs.test}; encoder from ${r.initFrom}; ` +
      `${r.steps} steps in ${r.minutes.toFixed(1)} min; served vs training graph max |Δ| ${r.servedMaxAbsDiff.toExponential(1)}`,
    `target Pearson ≥ 0.6 on all test pairs: ${r.test.pearson >= 0.6 ? 'met' : 'NOT met'}` +
      (r.testSamples === undefined ? '' : ` (policy samples alone: ${r.testSamples.pearson.toFixed(3)})`),
  ].join('\n');
}

/** Runs `trainRewardModel` with progress on stderr (plain lines when stderr is not a terminal). */
export async function trainRewardCommand(flags: TrainRewardFlags): Promise<TrainRewardResult> {
  const options: TrainRewardOptions = {
    ...flags,
    out: flags.out ?? resolve('rewards', flags.name === '' ? `qe-${flags.metric}` : flags.name),
  };
  const tty = process.stderr.isTTY;
  const bar = new SingleBar(
    {
      format: '{phase} |{bar}| {value}/{total} {unit} · {detail} · ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let phase: 'sample' | 'step' | undefined;
  let devPearson = '–';
  let lastPlain = 0;
  const say = (message: string): void => {
    if (phase !== undefined && tty) bar.stop();
    phase = undefined;
    console.error(`rest train-reward: ${message}`);
  };
  const show = (
    kind: 'sample' | 'step',
    value: number,
    total: number,
    payload: Record<string, string>,
  ): void => {
    if (!tty) {
      if (Date.now() - lastPlain > 30_000 || value === total) {
        lastPlain = Date.now();
        console.error(
          `rest train-reward: ${payload.phase} ${value}/${total} ${payload.unit} · ${payload.detail}`,
        );
      }
      return;
    }
    if (phase !== kind) {
      if (phase !== undefined) bar.stop();
      bar.start(total, value, payload);
      phase = kind;
    }
    bar.update(value, payload);
  };
  const onEvent = (e: TrainRewardEvent): void => {
    switch (e.kind) {
      case 'info':
        say(e.message);
        break;
      case 'sample':
        show('sample', e.done, e.total, {
          phase: 'sampling',
          unit: 'sources',
          detail: `${options.samples} each`,
        });
        break;
      case 'step':
        show('step', e.step, e.totalSteps, {
          phase: 'training',
          unit: 'steps',
          detail: `epoch ${e.epoch} · loss ${e.loss.toFixed(4)} · ${Math.round(e.pairsPerSecond)} pairs/s · dev Pearson ${devPearson}`,
        });
        break;
      case 'eval':
        devPearson = e.dev.pearson.toFixed(3);
        if (!tty)
          say(
            `epoch ${e.epoch}: dev Pearson ${devPearson}, Kendall τ-b ${e.dev.kendallTauB.toFixed(3)}${e.best ? ' (best so far)' : ''}`,
          );
        break;
      case 'done':
        if (phase !== undefined && tty) bar.stop();
        phase = undefined;
        break;
    }
  };
  try {
    const result = await trainRewardModel(options, onEvent);
    console.log(formatTrainRewardResult(result, options.metric));
    return result;
  } finally {
    if (phase !== undefined && tty) bar.stop();
  }
}

/** Registers `rest train-reward`. */
export function addTrainRewardCommand(program: Command): void {
  const d = TRAIN_REWARD_DEFAULTS;
  program
    .command('train-reward')
    .description(
      'train a reference-free quality-estimation reward model that predicts a metric (chrF by default) of a ' +
        'candidate from (source, candidate), on samples of a policy bundle for Multi30k train sources; ' +
        'reports Pearson and Kendall τ-b on held-out sources and writes a reward.json folder the reward server loads',
    )
    .requiredOption(
      '--policy <bundleDir>',
      'policy bundle whose samples (and encoder) the model is trained on',
    )
    .option('--out <dir>', 'where the reward model folder goes (default rewards/<name>)')
    .option('--data-dir <dir>', 'folder with train.<lang> files', defaultDataDir())
    .option('--src-lang <lang>', 'source language', d.srcLang)
    .option('--tgt-lang <lang>', 'target language', d.tgtLang)
    .option('--metric <name>', `metric to predict: ${QE_METRICS.join(', ')}`, d.metric)
    .option('--name <name>', 'model name in reward.json (default qe-<metric>)', d.name)
    .option('--sources <n>', 'train sources used, picked at random (0 = all)', num, d.sources)
    .option('--held-out <fraction>', 'fraction of sources held out (half dev, half test)', num, d.heldOut)
    .option('--samples <n>', 'policy samples per source', num, d.samples)
    .option('--temperature <t>', 'sampling temperature', num, d.temperature)
    .option('--max-new-tokens <n>', 'longest sample, in tokens', num, d.maxNewTokens)
    .option(
      '--samples-file <file.json>',
      'keep the policy samples here; a later run with the same policy, sampling flags and seed reuses them',
      d.samplesFile,
    )
    .option('--perturbations <n>', 'perturbations of the reference per source (0-6)', num, d.perturbations)
    .option('--no-references', 'leave the references out of the candidates')
    .option(
      '--init <how>',
      'encoder start: auto (policy encoder when the bundle has trainer state), policy, random',
      d.init,
    )
    .option('--d-model <n>', 'encoder width when not seeded from the policy', num, d.dModel)
    .option('--heads <n>', 'attention heads (fresh encoder)', num, d.heads)
    .option('--ffn-dim <n>', 'feed-forward width (fresh encoder)', num, d.ffnDim)
    .option('--layers <n>', 'encoder layers (fresh encoder)', num, d.layers)
    .option('--dropout <p>', 'dropout', num, d.dropout)
    .option(
      '--lr <rate>',
      'peak learning rate (0 = 6e-4 for a policy encoder, 1e-3 for a fresh one)',
      num,
      d.lr,
    )
    .option(
      '--warmup-steps <n>',
      'linear warmup steps, at most a tenth of all steps (then cosine decay)',
      num,
      d.warmupSteps,
    )
    .option('--epochs <n>', 'passes over the training pairs', num, d.epochs)
    .option('--batch-tokens <n>', 'rows × longest pair per batch', num, d.batchTokens)
    .option('--max-length <n>', 'most tokens of one pair (longer pairs are trimmed)', num, d.maxLength)
    .option(
      '--max-minutes <n>',
      'stop training after this much wall time, keeping the best epoch',
      num,
      d.maxMinutes,
    )
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = all cores)', num, d.threads)
    .option('--seed <n>', 'seed of the source pick, samples, perturbations and initialisation', num, d.seed)
    .action(async (opts: TrainRewardFlags) => {
      await trainRewardCommand(opts);
    });
}
