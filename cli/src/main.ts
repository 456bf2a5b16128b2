#!/usr/bin/env node
/**
 * The `rest` command: the command-line face of the platform. Each subcommand lives in
 * src/commands/; this file only wires them to commander and turns failures into exit codes.
 */
import { Command } from 'commander';
import { addStackCommands } from './commands/demo.js';
import { infraUp } from './commands/infra.js';
import { addInspectCommand } from './commands/inspect.js';
import { addInspectRewardCommand } from './commands/inspect-reward.js';
import { pretrainCommand } from './commands/pretrain.js';
import { addRunCommand } from './commands/run.js';
import { addScoreCommand } from './commands/score.js';
import { addStatusCommand } from './commands/status.js';
import { addReportCommand } from './commands/report.js';
import { addTrainRewardCommand } from './commands/train-reward.js';
import { addTrainCommand } from './commands/train.js';
import { addTranslateCommand } from './commands/translate.js';
import { addWatchCommand } from './commands/watch.js';
import { PRETRAIN_DEFAULTS } from './pretrain/run.js';
import { defaultDataDir } from './paths.js';

const program = new Command()
  .name('rest')
  .description('Reinforced Self-Training (ReST) for machine translation: local tools and clients')
  .showHelpAfterError();

const infra = program.command('infra').description('local NATS and MongoDB-compatible servers');
infra
  .command('up')
  .description(
    'start nats-server (JetStream) and FerretDB on free loopback ports, or adopt NATS_URL / MONGODB_URI; ' +
      'keeps them up until Ctrl-C',
  )
  .option('--data-dir <dir>', 'keep server data in this folder between runs (default: temporary folders)')
  .option('--check', 'start, verify that both answer, stop and exit', false)
  .action(async (opts: { dataDir?: string; check: boolean }) => {
    await infraUp({ check: opts.check, ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }) });
  });

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};
const d = PRETRAIN_DEFAULTS;
program
  .command('pretrain')
  .description(
    'supervised NLL training of a translation policy on a parallel corpus (default Multi30k de→en): ' +
      'progress bar, validation BLEU every epoch, best-checkpoint keeping, resume after interruption, ' +
      'a policy bundle at the end',
  )
  .option('--data-dir <dir>', 'folder with <split>.<lang> files (train, valid, test)', defaultDataDir())
  .option('--src-lang <lang>', 'source language', d.srcLang)
  .option('--tgt-lang <lang>', 'target language', d.tgtLang)
  .option(
    '--work-dir <dir>',
    'tokenizer, checkpoints and progress; rerun with the same folder to resume',
    '.rest/pretrain',
  )
  .option('--out <dir>', 'where the final policy bundle goes', 'policies/pretrained')
  .option('--vocab-size <n>', 'joint BPE vocabulary size', num, d.vocabSize)
  .option('--d-model <n>', 'model width', num, d.dModel)
  .option('--heads <n>', 'attention heads', num, d.heads)
  .option('--ffn-dim <n>', 'feed-forward width', num, d.ffnDim)
  .option('--layers <n>', 'encoder and decoder layers each', num, d.layers)
  .option('--dropout <p>', 'dropout', num, d.dropout)
  .option('--label-smoothing <eps>', 'label smoothing', num, d.labelSmoothing)
  .option('--lr <rate>', 'peak learning rate (AdamW, inverse-sqrt schedule)', num, d.lr)
  .option('--warmup-steps <n>', 'linear warmup steps', num, d.warmupSteps)
  .option('--batch-tokens <n>', 'rows × longest sentence per batch', num, d.batchTokens)
  .option('--max-len <n>', 'drop training pairs longer than this (tokens)', num, d.maxLen)
  .option('--epochs <n>', 'stop after this many epochs', num, d.epochs)
  .option('--max-minutes <n>', 'stop after this much wall time (across restarts)', num, d.maxMinutes)
  .option('--eval-every <steps>', 'validate every N steps (0 = every epoch)', num, d.evalEvery)
  .option('--eval-sentences <n>', 'validation sentences for BLEU (0 = all)', num, d.evalSentences)
  .option('--threads <n>', 'onnxruntime intra-op threads (0 = all cores)', num, d.threads)
  .option('--seed <n>', 'seed of initialisation and batch order', num, d.seed)
  .option('--limit-pairs <n>', 'train on the first N pairs only (0 = all)', num, d.limitPairs)
  .option('--test-beam <n>', 'beam size of the final test evaluation (1 = greedy)', num, d.testBeam)
  .action(async (opts: Record<string, unknown>) => {
    await pretrainCommand(opts as unknown as Parameters<typeof pretrainCommand>[0]);
  });

addStackCommands(program);
addTrainCommand(program);
addTrainRewardCommand(program);
addInspectRewardCommand(program);
addRunCommand(program);
addStatusCommand(program);
addWatchCommand(program);
addTranslateCommand(program);
addScoreCommand(program);
addReportCommand(program);
addInspectCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`rest: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
