/**
 * `rest train --objective NAME`: one Improve step offline, from a shard file (JSON Lines of scored
 * candidates, format in trainer/README.md) or from a run's shards in MongoDB, through the trainer
 * service's own executor (`trainOffline` in @rest/trainer). Flags, a progress bar (step, loss,
 * tokens/s, validation reward) and the closing table of validations.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import {
  IMPROVE_DEFAULTS,
  OBJECTIVE_NAMES,
  SUPPORTED_OBJECTIVES,
  rewardResolver,
  trainOffline,
  type ImproveEvent,
  type OfflineSource,
  type RewardNormalization,
  type ValidItem,
} from '@rest/trainer';
import { defaultDataDir } from '../paths.js';

/** The flags of `rest train`, as commander hands them over. */
export interface TrainFlags {
  objective: string;
  policy: string;
  reference?: string;
  shards?: string;
  threshold?: number;
  run?: string;
  grow: number;
  improve: number;
  mongoUri?: string;
  mongoDb: string;
  dataset?: string;
  validSplit: string;
  hyper?: string;
  sampling?: 'uniform' | 'priority';
  pairs?: 'best-worst' | 'min-gap';
  minRewardGap?: number;
  valueEstimate?: 'monte-carlo' | 'head';
  valueMax?: number;
  reward: string;
  normalization: RewardNormalization;
  rewardAddress: string;
  validSrc?: string;
  validRef?: string;
  maxValid: number;
  lr: number;
  schedule: 'constant' | 'inverse-sqrt' | 'linear';
  warmupSteps: number;
  steps: number;
  evalEvery: number;
  batchTokens: number;
  dropout: number;
  maxGradNorm: number;
  weightDecay: number;
  decoding: 'greedy' | 'beam';
  beam: number;
  seed: number;
  threads: number;
  workDir: string;
  out: string;
}

async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

async function validItems(f: TrainFlags): Promise<ValidItem[]> {
  let src = f.validSrc;
  let ref = f.validRef;
  if (src === undefined && f.dataset === undefined) {
    const dir = defaultDataDir();
    if (existsSync(join(dir, 'valid.de'))) {
      src = join(dir, 'valid.de');
      ref ??= join(dir, 'valid.en');
    }
  }
  if (src === undefined) return [];
  const sources = await lines(src);
  const refs = ref === undefined ? undefined : await lines(ref);
  if (refs !== undefined && refs.length !== sources.length)
    throw new Error(`--valid-ref has ${refs.length} lines, --valid-src ${sources.length}`);
  const items = sources.map((s, i) => ({
    source: s,
    ...(refs === undefined ? {} : { reference: refs[i]! }),
  }));
  return items.filter((v) => v.source.trim() !== '').slice(0, f.maxValid > 0 ? f.maxValid : undefined);
}

function sourceOf(f: TrainFlags): OfflineSource {
  const behaviour = f.reference === 'behaviour';
  if (f.shards !== undefined && f.run !== undefined) throw new Error('give --shards or --run, not both');
  if (f.shards !== undefined)
    return {
      kind: 'file',
      path: f.shards,
      ...(f.threshold === undefined ? {} : { threshold: f.threshold }),
      behaviourIsReference: behaviour,
    };
  if (f.run === undefined) throw new Error('give --shards <file.jsonl> or --run <id>');
  const uri = f.mongoUri ?? process.env['MONGODB_URI'];
  if (uri === undefined || uri === '') throw new Error('--run needs --mongo-uri or MONGODB_URI');
  return {
    kind: 'store',
    mongoUri: uri,
    mongoDb: f.mongoDb,
    runId: f.run,
    grow: f.grow,
    improve: f.improve,
    ...(f.dataset === undefined
      ? {}
      : { dataset: f.dataset, validSplit: f.validSplit, maxValid: f.maxValid }),
  };
}

/** Runs `rest train` with a progress bar on stderr (plain lines when stderr is not a terminal). */
export async function trainCommand(f: TrainFlags): Promise<void> {
  const rewards = rewardResolver({ address: f.rewardAddress, timeoutMs: 60_000, maxItemsPerCall: 256 });
  const tty = process.stderr.isTTY;
  const bar = new SingleBar(
    {
      format:
        'train {objective} |{bar}| {value}/{total} steps · loss {loss} · {tps} tok/s · valid reward {reward} · ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
    },
    Presets.shades_classic,
  );
  let started = false;
  let lastReward = '–';
  let lastPlain = 0;
  // A message stops the bar; the next step starts it again where it was.
  const say = (message: string): void => {
    if (started && tty) bar.stop();
    started = false;
    console.error(`rest train: ${message}`);
  };
  const onEvent = (e: ImproveEvent): void => {
    switch (e.kind) {
      case 'info':
        say(e.message);
        break;
      case 'eval':
        lastReward = Number.isFinite(e.point.reward) ? e.point.reward.toFixed(4) : '–';
        if (!tty || e.point.step === 0)
          say(
            `validation at step ${e.point.step}: reward ${lastReward}, BLEU ${e.point.bleu.toFixed(2)}${e.best ? ' (best so far)' : ''}`,
          );
        break;
      case 'step': {
        const payload = {
          objective: f.objective,
          loss: e.loss.toFixed(3),
          tps: Math.round(e.tokensPerSecond),
          reward: lastReward,
        };
        if (tty) {
          if (!started) {
            bar.start(e.totalSteps, e.step - 1, payload);
            started = true;
          }
          bar.update(e.step, payload);
        } else if (e.step === 1 || e.step === e.totalSteps || Date.now() - lastPlain > 30_000) {
          lastPlain = Date.now();
          console.error(
            `rest train: step ${e.step}/${e.totalSteps} loss ${payload.loss} ${payload.tps} tok/s valid reward ${lastReward}`,
          );
        }
        break;
      }
      case 'progress':
      case 'checkpoint':
        break;
    }
  };
  const hyper = f.hyper === undefined ? {} : (JSON.parse(f.hyper) as Record<string, unknown>);
  try {
    const result = await trainOffline(
      {
        objective: f.objective,
        hyper,
        ...(f.sampling === undefined ? {} : { sampling: f.sampling }),
        ...(f.pairs === undefined ? {} : { pairSelection: f.pairs }),
        ...(f.minRewardGap === undefined ? {} : { minRewardGap: f.minRewardGap }),
        ...(f.valueEstimate === undefined ? {} : { valueEstimate: f.valueEstimate }),
        ...(f.valueMax === undefined ? {} : { valueMax: f.valueMax }),
        policy: f.policy,
        ...(f.reference === undefined || f.reference === 'behaviour' ? {} : { reference: f.reference }),
        source: sourceOf(f),
        valid: await validItems(f),
        reward: { model: f.reward, normalization: f.normalization },
        rewardFn: rewards.resolve({ model: f.reward, normalization: f.normalization }),
        optimizer: {
          learningRate: f.lr,
          schedule: f.schedule,
          warmupSteps: f.warmupSteps,
          maxSteps: f.steps,
          evalEverySteps: f.evalEvery,
          batchMaxTokens: f.batchTokens,
          dropout: f.dropout,
          maxGradNorm: f.maxGradNorm > 0 ? f.maxGradNorm : undefined,
          weightDecay: f.weightDecay,
        },
        evalDecoding:
          f.decoding === 'beam'
            ? { strategy: 'beam', beamSize: f.beam, lengthPenalty: 0.6 }
            : { strategy: 'greedy' },
        seed: f.seed,
        threads: f.threads,
        workDir: resolve(f.workDir),
        outDir: resolve(f.out),
      },
      onEvent,
    );
    if (started && tty) bar.stop();
    console.log('step\tvalid reward\tvalid BLEU\ttrain loss');
    for (const p of result.history)
      console.log(
        `${p.step}\t${p.reward.toFixed(4)}\t${p.bleu.toFixed(2)}\t${Number.isFinite(p.loss) ? p.loss.toFixed(4) : '–'}`,
      );
    console.log(
      `best: step ${result.best.step}, valid reward ${result.best.reward.toFixed(4)}, BLEU ${result.best.bleu.toFixed(2)}; ` +
        `${result.steps} steps, ${Math.round(result.tokensPerSecond)} training tokens/s; bundle: ${result.bundleDir}`,
    );
  } finally {
    if (started && tty) bar.stop();
    rewards.close();
  }
}

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};

/** Adds `rest train` to the program. */
export function addTrainCommand(program: Command): void {
  const d = IMPROVE_DEFAULTS;
  const objectives = OBJECTIVE_NAMES.filter((n) => SUPPORTED_OBJECTIVES.has(n)).join(', ');
  program
    .command('train')
    .description(
      'one Improve step offline with an offline-RL objective, from a shard file or a run in the store, ' +
        'through the trainer service’s executor: progress bar, validation, best checkpoint, resume, a policy bundle',
    )
    .requiredOption('--objective <name>', `the objective: ${objectives}`)
    .requiredOption(
      '--policy <dir|id>',
      'the starting policy: a bundle folder (or, with --run, a registered policy id)',
    )
    .option(
      '--reference <dir|id|behaviour>',
      'π_ref (default: the starting policy); "behaviour": the shard file’s behaviour log-probs are π_ref’s',
    )
    .option(
      '--shards <file>',
      'shard file: JSON Lines of {source, hypothesis, reward, …} (trainer/README.md)',
    )
    .option('--threshold <tau>', 'train on candidates with reward > tau (shard file; default: all)', num)
    .option('--run <id>', 'train on this run’s shards in MongoDB instead')
    .option('--grow <g>', 'with --run: the Grow step', num, 1)
    .option('--improve <i>', 'with --run: the Improve step', num, 1)
    .option('--mongo-uri <uri>', 'with --run: MongoDB (default: $MONGODB_URI)')
    .option('--mongo-db <name>', 'with --run: database', 'rest')
    .option('--dataset <name>', 'with --run: validate on this dataset’s split in the store')
    .option('--valid-split <split>', 'with --dataset: the split', 'valid')
    .option('--hyper <json>', 'objective hyperparameters as JSON, e.g. \'{"beta":0.1}\'')
    .option('--sampling <how>', 'uniform | priority (default: uniform)')
    .option('--pairs <how>', 'dpo/hypo pairs: best-worst | min-gap')
    .option('--min-reward-gap <delta>', 'min-gap pairs: smallest reward gap', num)
    .option(
      '--value-estimate <how>',
      "A-LoL's V(x): monte-carlo (mean reward of the source's samples) | head (fitted to π_ref's validation outputs)",
    )
    .option('--value-max <x>', 'upper bound of the value head (default 1)', num)
    .option(
      '--reward <name>',
      'reward of validation outputs: bleu, chrf, chrf++, ter, or a RewardService model',
      'chrf',
    )
    .option('--normalization <scale>', 'raw | clipped01 | zscore', 'clipped01')
    .option('--reward-address <host:port>', 'RewardService for non-metric rewards', '')
    .option('--valid-src <file>', 'validation sources, one per line (default: Multi30k valid.de)')
    .option('--valid-ref <file>', 'their references (default: Multi30k valid.en)')
    .option('--max-valid <n>', 'validation sentences (0 = all)', num, 200)
    .option('--lr <rate>', 'peak learning rate (AdamW)', num, d.learningRate)
    .option('--schedule <shape>', 'constant | inverse-sqrt | linear', d.schedule)
    .option('--warmup-steps <n>', 'linear warm-up steps', num, d.warmupSteps)
    .option('--steps <n>', 'optimizer steps', num, 1000)
    .option('--eval-every <n>', 'validate and checkpoint every n steps', num, 200)
    .option('--batch-tokens <n>', 'rows × longest sequence per batch', num, d.batchMaxTokens)
    .option('--dropout <p>', 'dropout while training', num, d.dropout)
    .option('--max-grad-norm <x>', 'gradient-norm clip (0 = none)', num, 1)
    .option('--weight-decay <x>', 'decoupled weight decay', num, d.weightDecay)
    .option('--decoding <how>', 'validation decoding: greedy | beam', 'greedy')
    .option('--beam <n>', 'beam size of --decoding beam', num, 4)
    .option('--seed <n>', 'seed of batching, dropout and online samples', num, 1)
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = all cores)', num, 0)
    .option('--work-dir <dir>', 'checkpoints; rerun with the same folder to resume', '.rest/train')
    .option('--out <dir>', 'where the new policy bundle goes', 'policies/trained')
    .action(async (opts: TrainFlags) => {
      await trainCommand(opts);
    });
}
