/**
 * A learned reward model: a folder described by `reward.json` (see ./manifest.ts), loaded by
 * {@link loadRewardModel}, the single entry point for every learned model the server serves (our
 * test models and trained QE models alike). Items are tokenized into pairs, coalesced by the
 * service-kit `Batcher` with items of other requests, padded into one `[B, S]` batch and scored by
 * one session run.
 *
 * Dimensions: B batch (pairs), S the longest pair of the batch in tokens (≤ maxLength).
 *
 * At load the session's inputs and outputs are compared with the manifest (names, order, dtypes) and
 * one warm-up batch is run, so a model that differs from its manifest fails start-up, not a request.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Batcher, type BatchInfo, type Logger } from '@rest/service-kit';
import { Graph, Session, hostTensor, type HostTensor, type SessionOptions } from '@rest/runtime';
import { loadTokenizer, type Tokenizer } from '@rest/text';
import { readCalibrationFile } from '../scoring/calibration-file.js';
import { meanStd } from '../scoring/normalize.js';
import type {
  Calibration,
  ItemProblem,
  PreparedItems,
  RewardScorer,
  ScoreItem,
  ScorerInfo,
} from '../scoring/types.js';
import { MANIFEST_FILE, parseManifest, RewardModelError, type RewardManifest } from './manifest.js';
import {
  compileTemplate,
  encodePair,
  usesReference,
  type EncodedPair,
  type TemplatePart,
} from './pair-encoder.js';

/** Dynamic-batching limits of one model (see `BatcherOptions`). */
export interface ModelBatching {
  /** @default 32 */
  readonly maxBatchItems: number;
  /** Most summed pair tokens per batch; must be ≥ the manifest's maxLength. @default 8192 */
  readonly maxBatchTokens: number;
  /** @default 5 */
  readonly maxWaitMs: number;
  /** @default 4096 */
  readonly maxQueuedItems: number;
}

/** Options of {@link loadRewardModel}. */
export interface LoadRewardModelOptions {
  /** Execution provider and threads. @default cpu, onnxruntime's thread choice */
  readonly session?: Pick<SessionOptions, 'executionProvider' | 'intraOpThreads'>;
  readonly batching?: Partial<ModelBatching>;
  /** Called with the model's name as each batch starts, e.g. to record the batch size. */
  readonly onBatch?: (model: string, info: BatchInfo) => void;
  /** Where the load is logged. @default none */
  readonly logger?: Logger;
}

const DEFAULT_BATCHING: ModelBatching = {
  maxBatchItems: 32,
  maxBatchTokens: 8192,
  maxWaitMs: 5,
  maxQueuedItems: 4096,
};

/** The `[B, S] i64` tensors of one padded batch, by role. */
interface BatchFeeds {
  readonly input_ids: HostTensor<'i64'>;
  readonly attention_mask: HostTensor<'i64'>;
  readonly token_type_ids: HostTensor<'i64'>;
}

/** A loaded learned reward model; see the module comment. */
export class LearnedRewardModel implements RewardScorer {
  private readonly batcher: Batcher<EncodedPair, number>;
  private closing: Promise<void> | undefined;
  /** Most pairs per session run. */
  private readonly batchItems: number;

  private constructor(
    private scorerInfo: ScorerInfo,
    /** The parsed manifest. */
    readonly manifest: RewardManifest,
    /** The model's folder. */
    readonly dir: string,
    private readonly session: Session,
    private readonly tokenizer: Tokenizer,
    private readonly template: readonly TemplatePart[],
    batching: ModelBatching,
    onBatch: ((model: string, info: BatchInfo) => void) | undefined,
  ) {
    this.batchItems = batching.maxBatchItems;
    this.batcher = new Batcher<EncodedPair, number>({
      run: (pairs) => this.runBatch(pairs),
      maxBatchItems: batching.maxBatchItems,
      maxBatchCost: batching.maxBatchTokens,
      cost: (pair) => pair.ids.length,
      maxWaitMs: batching.maxWaitMs,
      maxQueuedItems: batching.maxQueuedItems,
      ...(onBatch === undefined ? {} : { onBatch: (info: BatchInfo) => onBatch(this.scorerInfo.name, info) }),
    });
  }

  /** @internal the loader's constructor; use {@link loadRewardModel}. */
  static async open(dir: string, options: LoadRewardModelOptions): Promise<LearnedRewardModel> {
    const manifestPath = join(dir, MANIFEST_FILE);
    const manifest = parseManifest(await readJson(manifestPath), manifestPath);
    const where = `model "${manifest.name}" (${dir})`;
    const batching = { ...DEFAULT_BATCHING, ...options.batching };
    if (batching.maxBatchTokens < manifest.maxLength) {
      throw new RewardModelError(
        `${where}: batching.maxBatchTokens (${batching.maxBatchTokens}) is below the model's maxLength (${manifest.maxLength})`,
      );
    }
    const tokenizer = await loadTokenizer(dirname(join(dir, manifest.tokenizer))).catch((cause: unknown) => {
      throw new RewardModelError(`${where}: tokenizer: ${String(cause)}`, { cause });
    });
    const template = compileTemplate(manifest.pairing.template, tokenizer);
    const bytes = await readFile(join(dir, manifest.onnx)).catch((cause: unknown) => {
      throw new RewardModelError(`${where}: cannot read ${manifest.onnx}`, { cause });
    });
    const session = await Session.create(signatureGraph(manifest), sessionOptions(options), bytes).catch(
      (cause: unknown) => {
        throw new RewardModelError(
          `${where}: ${manifest.onnx} does not match reward.json (inputs must be listed in the graph's order): ${String(cause)}`,
          { cause },
        );
      },
    );
    try {
      const info: ScorerInfo = {
        name: manifest.name,
        kind: 'learned',
        version:
          manifest.version ?? `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`,
        description:
          manifest.description + (manifest.predicts === '' ? '' : ` (predicts ${manifest.predicts})`),
        requiresReference: usesReference(template),
        higherIsBetter: manifest.higherIsBetter,
        rawMin: manifest.range.min,
        rawMax: manifest.range.max,
        // Replaced below once the model can run; ZSCORE is not served before that.
        calibration: { mean: 0, std: 1, origin: 'pending' },
      };
      const model = new LearnedRewardModel(
        info,
        manifest,
        dir,
        session,
        tokenizer,
        template,
        batching,
        options.onBatch,
      );
      await model.warmUp();
      model.scorerInfo = { ...info, calibration: await model.calibrate(where) };
      options.logger?.info('reward model loaded', {
        model: info.name,
        version: info.version,
        dir,
        maxLength: manifest.maxLength,
        calibration: model.scorerInfo.calibration,
      });
      return model;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  get info(): ScorerInfo {
    return this.scorerInfo;
  }

  get queuedItems(): number {
    return this.batcher.queuedItems;
  }

  prepare(items: readonly ScoreItem[]): PreparedItems {
    const problems: ItemProblem[] = [];
    const pairs: EncodedPair[] = [];
    items.forEach((item, index) => {
      if (this.info.requiresReference && (item.reference === undefined || item.reference.trim() === '')) {
        problems.push({ index, field: 'reference', problem: `required by "${this.info.name}"` });
        return;
      }
      const pair = this.encode(item);
      if (typeof pair === 'string') problems.push({ index, field: undefined, problem: pair });
      else pairs.push(pair);
    });
    return { problems, score: (signal) => this.batcher.submit(pairs, signal) };
  }

  /** Finishes queued batches, then releases the session. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.batcher.close().then(() => this.session.release());
    return this.closing;
  }

  private encode(item: ScoreItem): EncodedPair | string {
    const { maxLength, pairing } = this.manifest;
    return encodePair(this.template, this.tokenizer, item, maxLength, pairing.truncation);
  }

  /** Raw scores [B] of one batch of pairs: pads to `[B, S]`, runs the session, checks the output. */
  private async runBatch(pairs: readonly EncodedPair[]): Promise<number[]> {
    const b = pairs.length;
    let s = 1;
    for (const pair of pairs) s = Math.max(s, pair.ids.length);
    const ids = new BigInt64Array(b * s).fill(BigInt(this.tokenizer.specialIds.pad)); // [B, S] i64
    const mask = new BigInt64Array(b * s); // [B, S] i64, 1 on tokens, 0 on padding
    const types = new BigInt64Array(b * s); // [B, S] i64, segment of each token
    pairs.forEach((pair, row) => {
      pair.ids.forEach((id, col) => {
        ids[row * s + col] = BigInt(id);
        mask[row * s + col] = 1n;
        types[row * s + col] = BigInt(pair.segments[col]!);
      });
    });
    const byRole: BatchFeeds = {
      input_ids: hostTensor('i64', [b, s], ids),
      attention_mask: hostTensor('i64', [b, s], mask),
      token_type_ids: hostTensor('i64', [b, s], types),
    };
    const feeds: Record<string, HostTensor> = {};
    for (const input of this.manifest.inputs) feeds[input.name] = byRole[input.role];
    const outputName = this.manifest.output;
    const out = (await this.session.run(feeds, {}, [outputName]))[outputName];
    const dims = out?.dims ?? [];
    if (
      out?.dtype !== 'f32' ||
      dims[0] !== b ||
      !(dims.length === 1 || (dims.length === 2 && dims[1] === 1))
    ) {
      throw new RewardModelError(
        `model "${this.info.name}": output ${outputName} is ${out?.dtype} [${dims.join(', ')}], expected f32 [${b}] or [${b}, 1]`,
      );
    }
    return Array.from(out.data as Float32Array);
  }

  private async warmUp(): Promise<void> {
    const pair = encodePair(
      this.template,
      this.tokenizer,
      { source: 'warm-up', hypothesis: 'warm-up', reference: 'warm-up' },
      this.manifest.maxLength,
      'longest_first',
    );
    if (typeof pair === 'string') throw new RewardModelError(`model "${this.info.name}": ${pair}`);
    await this.runBatch([pair]);
  }

  private async calibrate(where: string): Promise<Calibration> {
    const spec = this.manifest.calibration;
    if ('mean' in spec) return { mean: spec.mean, std: spec.std, origin: 'manifest' };
    const items = await readCalibrationFile(join(this.dir, spec.file)).catch((cause: unknown) => {
      throw new RewardModelError(`${where}: ${String(cause)}`, { cause });
    });
    const { problems } = this.prepare(items);
    if (problems.length > 0) {
      const lines = problems.slice(0, 5).map((p) => `line ${p.index + 1}: ${p.problem}`);
      throw new RewardModelError(`${where}: calibration file ${spec.file}: ${lines.join('; ')}`);
    }
    const pairs = items.map((item) => this.encode(item) as EncodedPair);
    const scores: number[] = [];
    const step = this.batchItems;
    for (let start = 0; start < pairs.length; start += step) {
      scores.push(...(await this.runBatch(pairs.slice(start, start + step))));
    }
    try {
      return { ...meanStd(scores), origin: `file ${spec.file} (${scores.length} items)` };
    } catch (cause) {
      throw new RewardModelError(`${where}: calibration file ${spec.file}: ${String(cause)}`, { cause });
    }
  }
}

/**
 * Loads the learned reward model in `dir` (a folder with a `reward.json`): manifest, tokenizer, ONNX
 * session (checked against the manifest), a warm-up run, and its calibration.
 * @throws RewardModelError naming the folder and the problem: a bad manifest (every problem listed),
 *   a missing file, a template token outside the vocabulary, a graph whose inputs/outputs differ from
 *   the manifest, an output of the wrong shape, or an unusable calibration file
 */
export function loadRewardModel(
  dir: string,
  options: LoadRewardModelOptions = {},
): Promise<LearnedRewardModel> {
  return LearnedRewardModel.open(dir, options);
}

/**
 * The graph the session is checked against: only the declared inputs and output. It is never
 * exported (the session runs the model file); the output's producer is a placeholder node.
 */
function signatureGraph(manifest: RewardManifest): Graph {
  const g = new Graph('signature');
  try {
    for (const input of manifest.inputs) g.input(input.name, 'i64', ['B', 'S']);
    const [score] = g.emit({ opType: 'Signature', inputs: [], outputs: [{ dtype: 'f32', dims: ['B'] }] });
    g.output(score!, manifest.output);
  } catch (cause) {
    throw new RewardModelError(`model "${manifest.name}": inputs and output: ${String(cause)}`, { cause });
  }
  return g;
}

function sessionOptions(options: LoadRewardModelOptions): SessionOptions {
  return {
    executionProvider: options.session?.executionProvider ?? 'cpu',
    intraOpThreads: options.session?.intraOpThreads ?? 0,
  };
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new RewardModelError(`${path}: cannot read it`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new RewardModelError(`${path}: not JSON: ${String(cause)}`, { cause });
  }
}
