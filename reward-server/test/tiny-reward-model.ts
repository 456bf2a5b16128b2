/**
 * Test fixture: a tiny but real learned reward model folder, built at test setup (nothing is
 * downloaded). A BPE tokenizer trained with @rest/text on a few hundred Multi30k lines, and an ONNX
 * cross-encoder regression graph written with @rest/runtime's graph builder:
 *
 *   score[b] = mean_s(E[input_ids[b, s]] over mask) · w + bias (+ typeWeight · mean_s(token_type_ids[b, s]))
 *
 * Dimensions: B batch, S tokens, V vocabulary, D embedding width. The same arithmetic in plain
 * JavaScript ({@link TinyRewardModel.expected}) is the independent expectation for served scores.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  add,
  cast,
  div,
  Graph,
  gather,
  matMul,
  mul,
  reduceSum,
  rng,
  squeeze,
  unsqueeze,
  type Tensor,
} from '@rest/runtime';
import { loadTokenizer, trainBpe, writeTokenizerFiles, type Tokenizer } from '@rest/text';

/** Multi30k, relative to this file: `<repo>/../shared/data/multi30k`. */
export const MULTI30K_DIR = new URL('../../../shared/data/multi30k/', import.meta.url);

/** The first `n` lines of a Multi30k file, e.g. `train.de`. */
export function multi30k(file: string, n: number): string[] {
  return readFileSync(new URL(file, MULTI30K_DIR), 'utf8').split('\n').slice(0, n);
}

/** How to build the fixture. */
export interface TinyModelOptions {
  /** @default 'rm-tiny' */
  readonly name?: string;
  /** Manifest `calibration`. @default { mean: 50, std: 2 } */
  readonly calibration?: { mean: number; std: number } | { file: string };
  /** Also write `calibration.tsv` with this many Multi30k pairs (de source, en hypothesis). @default 0 */
  readonly calibrationLines?: number;
  /** Add a `token_type_ids` input (third) whose segment mean adds `typeWeight` to the score. @default false */
  readonly tokenTypes?: boolean;
  /** Output `[B]` instead of `[B, 1]`. @default false */
  readonly rank1Output?: boolean;
  /** @default 256 */
  readonly maxLength?: number;
  /** @default 'none' */
  readonly truncation?: 'none' | 'longest_first';
  /** Override of the manifest's input list (e.g. a wrong order, to test the load check). */
  readonly manifestInputs?: readonly { name: string; role: string }[];
  /** Extra manifest keys, written over the defaults. */
  readonly manifestOverrides?: Readonly<Record<string, unknown>>;
}

/** A built fixture and its independent expectation. */
export interface TinyRewardModel {
  readonly dir: string;
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly manifest: Record<string, unknown>;
  /** The raw score the model gives a (source, hypothesis) pair, computed in JavaScript (f64). */
  expected(source: string, hypothesis: string): number;
}

const D = 8;
const BIAS = 50;
const TYPE_WEIGHT = 3;

let sharedTokenizerFiles: Promise<{ json: string; config: string }> | undefined;

/** Trains the tokenizer once per process (about a second on 600 lines) and keeps its two files. */
function tokenizerFiles(dir: string): Promise<{ json: string; config: string }> {
  sharedTokenizerFiles ??= (async () => {
    const lines = [...multi30k('train.de', 300), ...multi30k('train.en', 300)];
    await writeTokenizerFiles(dir, trainBpe(lines, { vocabSize: 600 }));
    return {
      json: readFileSync(join(dir, 'tokenizer.json'), 'utf8'),
      config: readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'),
    };
  })();
  return sharedTokenizerFiles;
}

/** Builds the fixture into `dir` (which must exist); see the module comment. */
export async function buildTinyRewardModel(
  dir: string,
  options: TinyModelOptions = {},
): Promise<TinyRewardModel> {
  const name = options.name ?? 'rm-tiny';
  const files = await tokenizerFiles(dir);
  await writeFile(join(dir, 'tokenizer.json'), files.json);
  await writeFile(join(dir, 'tokenizer_config.json'), files.config);
  const tokenizer = await loadTokenizer(dir);
  const v = tokenizer.vocabSize;

  const random = rng(7);
  const embedding = Float32Array.from({ length: v * D }, () => random() * 20 - 10); // [V, D]
  const weight = Float32Array.from({ length: D }, () => random() * 2 - 1); // [D, 1]

  const g = new Graph('rm_tiny');
  const ids = g.input('input_ids', 'i64', ['B', 'S']);
  const mask = g.input('attention_mask', 'i64', ['B', 'S']);
  const types = options.tokenTypes === true ? g.input('token_type_ids', 'i64', ['B', 'S']) : undefined;
  const maskF = unsqueeze(cast(mask, 'f32'), [2]); // [B, S, 1]
  const tokens = reduceSum(maskF, [1]); // [B, 1]
  const mean = (x: Tensor): Tensor => div(reduceSum(mul(x, maskF), [1]), tokens); // [B, S, K] → [B, K]
  const pooled = mean(gather(g.constant('f32', [v, D], embedding, 'embedding'), ids, 0)); // [B, D]
  let score = add(matMul(pooled, g.constant('f32', [D, 1], weight, 'weight')), BIAS); // [B, 1]
  if (types !== undefined) score = add(score, mul(mean(unsqueeze(cast(types, 'f32'), [2])), TYPE_WEIGHT));
  g.output(options.rank1Output === true ? squeeze(score, [1]) : score, 'score');
  await writeFile(join(dir, 'model.onnx'), g.toBytes());

  const inputs = options.manifestInputs ?? [
    { name: 'input_ids', role: 'input_ids' },
    { name: 'attention_mask', role: 'attention_mask' },
    ...(types === undefined ? [] : [{ name: 'token_type_ids', role: 'token_type_ids' }]),
  ];
  const calibrationLines = options.calibrationLines ?? 0;
  if (calibrationLines > 0) {
    const de = multi30k('valid.de', calibrationLines);
    const en = multi30k('valid.en', calibrationLines);
    await writeFile(join(dir, 'calibration.tsv'), de.map((s, i) => `${s}\t${en[i]}\n`).join(''));
  }
  const manifest: Record<string, unknown> = {
    formatVersion: 1,
    name,
    version: `${name}-v1`,
    description: 'test model: mean-pooled embeddings and a linear head',
    kind: 'cross-encoder-regression',
    onnx: 'model.onnx',
    tokenizer: 'tokenizer.json',
    inputs,
    output: 'score',
    maxLength: options.maxLength ?? 256,
    pairing: {
      template: ['{source}', '</s>', '{hypothesis}', '</s>'],
      truncation: options.truncation ?? 'none',
    },
    predicts: 'chrf',
    higherIsBetter: true,
    range: { min: 0, max: 100 },
    calibration: options.calibration ?? { mean: 50, std: 2 },
    ...options.manifestOverrides,
  };
  await writeFile(join(dir, 'reward.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const eos = tokenizer.specialIds.eos;
  return {
    dir,
    name,
    tokenizer,
    manifest,
    expected(source, hypothesis) {
      const src = tokenizer.encode(source, { addEos: false });
      const hyp = tokenizer.encode(hypothesis, { addEos: false });
      const pair = [...src, eos, ...hyp, eos];
      const segments = [...src.map(() => 0), 0, ...hyp.map(() => 1), 1];
      let total = BIAS;
      for (let d = 0; d < D; d++) {
        let sum = 0;
        for (const id of pair) sum += embedding[id * D + d]!;
        total += (sum / pair.length) * weight[d]!;
      }
      if (types !== undefined) total += (TYPE_WEIGHT * segments.reduce((a, b) => a + b, 0)) / pair.length;
      return total;
    },
  };
}
