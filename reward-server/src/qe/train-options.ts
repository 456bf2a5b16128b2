/**
 * The settings of `rest train-reward` (./train-reward.ts), their defaults, what a run reports and the
 * events it emits while it runs.
 */
import type { Agreement } from './agreement.js';

/** The metrics a QE model can be trained to predict (higher is better, 0–100). */
export const QE_METRICS = ['chrf', 'chrf++', 'bleu'] as const;
/** One of {@link QE_METRICS}. */
export type QeMetric = (typeof QE_METRICS)[number];

/** Settings of a training run (the CLI's flags). */
export interface TrainRewardOptions {
  /** The policy bundle whose samples (and, by default, encoder) the model is trained on. */
  readonly policy: string;
  /** Where the reward model folder goes. */
  readonly out: string;
  /** Folder of `<split>.<lang>` files; the `train` split is used. */
  readonly dataDir: string;
  readonly srcLang: string;
  readonly tgtLang: string;
  readonly metric: QeMetric;
  /** Manifest name; "" for `qe-<metric>`. */
  readonly name: string;
  /** Train sources used, picked at random (0 = all). */
  readonly sources: number;
  /** Fraction of those held out by source, halved into dev and test. */
  readonly heldOut: number;
  /** Policy samples per source. */
  readonly samples: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  /**
   * A JSON file that keeps the policy samples: reused when it holds them for the same policy, sampling
   * settings and seed, written otherwise; "" for none.
   */
  readonly samplesFile: string;
  /** Perturbations of the reference per source (at most 6 kinds). */
  readonly perturbations: number;
  /** Include the references as candidates. */
  readonly references: boolean;
  /** `policy`: seed the encoder from the policy's trainer state (error without it); `auto`: when present. */
  readonly init: 'auto' | 'policy' | 'random';
  /** Encoder size when not seeded from the policy. */
  readonly dModel: number;
  readonly heads: number;
  readonly ffnDim: number;
  readonly layers: number;
  readonly dropout: number;
  /** Peak learning rate; 0 = 6e-4 when seeded from the policy, 1e-3 otherwise. */
  readonly lr: number;
  /** Linear warmup steps, at most a tenth of the run's steps; then cosine decay to 5 % of the peak. */
  readonly warmupSteps: number;
  readonly epochs: number;
  /** Rows × longest pair per batch. */
  readonly batchTokens: number;
  /** Most tokens of one pair (longer pairs are trimmed, here and when served). */
  readonly maxLength: number;
  /** Stop training once the run (sampling included) has taken this many minutes; the best epoch is kept. */
  readonly maxMinutes: number;
  /** onnxruntime intra-op threads (0 = onnxruntime's choice). */
  readonly threads: number;
  readonly seed: number;
}

/** Defaults sized for a Multi30k policy on a 2-core machine (about half an hour with a 3-layer policy). */
export const TRAIN_REWARD_DEFAULTS: Omit<TrainRewardOptions, 'policy' | 'out' | 'dataDir'> = {
  srcLang: 'de',
  tgtLang: 'en',
  metric: 'chrf',
  name: '',
  sources: 3000,
  heldOut: 0.1,
  samples: 4,
  temperature: 1,
  maxNewTokens: 64,
  samplesFile: '',
  perturbations: 2,
  references: true,
  init: 'auto',
  dModel: 128,
  heads: 4,
  ffnDim: 512,
  layers: 2,
  dropout: 0.1,
  lr: 0,
  warmupSteps: 200,
  epochs: 6,
  batchTokens: 2048,
  maxLength: 256,
  maxMinutes: 60,
  threads: 0,
  seed: 1,
};

/** What a run found. */
export interface TrainRewardResult {
  readonly out: string;
  readonly name: string;
  /** Test pairs scored through the loaded bundle: all, policy samples only, and by origin. */
  readonly test: Agreement;
  readonly testSamples: Agreement | undefined;
  readonly testByOrigin: Readonly<Record<string, Agreement>>;
  /** Dev agreement of the kept parameters (model selection). */
  readonly dev: Agreement;
  readonly calibration: { readonly mean: number; readonly std: number };
  readonly pairs: { readonly train: number; readonly dev: number; readonly test: number };
  readonly initFrom: 'policy' | 'random';
  readonly steps: number;
  readonly bestEpoch: number;
  readonly minutes: number;
  /** Largest |served score − training-graph score| over the test pairs (export check). */
  readonly servedMaxAbsDiff: number;
}

/** What the caller hears about. */
export type TrainRewardEvent =
  | { readonly kind: 'info'; readonly message: string }
  | { readonly kind: 'sample'; readonly done: number; readonly total: number }
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly totalSteps: number;
      readonly epoch: number;
      readonly loss: number;
      readonly pairsPerSecond: number;
    }
  | { readonly kind: 'eval'; readonly epoch: number; readonly dev: Agreement; readonly best: boolean }
  | { readonly kind: 'done'; readonly result: TrainRewardResult };

/**
 * Checks every option at once.
 * @throws RangeError listing every problem
 */
export function checkTrainRewardOptions(o: TrainRewardOptions): void {
  const problems: string[] = [];
  const int = (k: keyof TrainRewardOptions, min: number): void => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < min) problems.push(`${k}: must be an integer >= ${min}, got ${v}`);
  };
  for (const k of ['dModel', 'heads', 'ffnDim', 'layers', 'epochs', 'batchTokens', 'maxNewTokens'] as const)
    int(k, 1);
  for (const k of ['sources', 'samples', 'perturbations', 'warmupSteps', 'threads', 'seed'] as const)
    int(k, 0);
  int('maxLength', 8);
  if (!QE_METRICS.includes(o.metric)) problems.push(`metric: must be one of ${QE_METRICS.join(', ')}`);
  if (!['auto', 'policy', 'random'].includes(o.init)) problems.push('init: must be auto, policy or random');
  if (o.dModel % o.heads !== 0) problems.push(`heads: ${o.heads} does not divide dModel ${o.dModel}`);
  if (!(o.heldOut > 0 && o.heldOut <= 0.5)) problems.push(`heldOut: must be in (0, 0.5], got ${o.heldOut}`);
  if (!(o.temperature > 0)) problems.push(`temperature: must be > 0, got ${o.temperature}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) problems.push(`dropout: must be in [0, 1), got ${o.dropout}`);
  if (!(o.lr >= 0)) problems.push(`lr: must be >= 0, got ${o.lr}`);
  if (!(o.maxMinutes > 0)) problems.push(`maxMinutes: must be > 0, got ${o.maxMinutes}`);
  if (o.batchTokens < o.maxLength) problems.push(`batchTokens: must be >= maxLength (${o.maxLength})`);
  if (o.samples === 0 && o.perturbations === 0 && !o.references)
    problems.push('samples, perturbations, references: nothing to train on');
  if (problems.length > 0) throw new RangeError(problems.join('; '));
}
