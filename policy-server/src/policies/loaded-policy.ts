/**
 * One loaded policy: its two ONNX sessions (`Seq2SeqModel`), its tokenizer, and what serving needs
 * to know about it (generation defaults, vocabulary size, cost in bytes). Loading checks that the
 * tokenizer fits the model and runs one warm-up decode (STYLE.md §8), so the first request does not
 * pay onnxruntime's lazy initialisation.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, generate, Seq2SeqModel, type BundleManifest, type SessionOptions } from '@rest/runtime';
import { loadTokenizer, type Tokenizer } from '@rest/text';

/** The ONNX files whose sizes estimate a policy's memory. */
export const ONNX_FILES = ['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx'] as const;

/** A policy ready to decode. */
export interface LoadedPolicy {
  readonly id: string;
  /** Distinguishes two loads of one policy (batches never mix them). */
  readonly instance: number;
  readonly dir: string;
  readonly model: Seq2SeqModel;
  readonly manifest: BundleManifest;
  readonly tokenizer: Tokenizer;
  /** Summed ONNX file sizes. */
  readonly bytes: number;
  /** Releases the sessions. */
  release(): Promise<void>;
}

/** Summed size in bytes of a bundle folder's ONNX files. */
export async function onnxBytes(dir: string): Promise<number> {
  let sum = 0;
  for (const file of ONNX_FILES) sum += (await stat(join(dir, file))).size;
  return sum;
}

/**
 * Loads the bundle in `dir` as policy `id`.
 * @throws BundleError when the bundle is broken, foreign, or its tokenizer does not fit the model
 * @throws TokenizerFormatError when tokenizer.json cannot be read
 */
export async function loadPolicy(
  id: string,
  instance: number,
  dir: string,
  sessionOptions: SessionOptions,
): Promise<LoadedPolicy> {
  const bytes = await onnxBytes(dir);
  const tokenizer = await loadTokenizer(dir);
  const { model, manifest } = await Seq2SeqModel.load(dir, sessionOptions);
  try {
    if (tokenizer.vocabSize > manifest.vocabSize) {
      throw new BundleError(
        `bundle ${dir}: tokenizer.json has ${tokenizer.vocabSize} ids, more than the model's vocab_size ${manifest.vocabSize}`,
      );
    }
    await generate(model, [[manifest.generation.eosTokenId]], { strategy: 'greedy', maxNewTokens: 2 });
  } catch (error) {
    await model.release();
    throw error;
  }
  return { id, instance, dir, model, manifest, tokenizer, bytes, release: () => model.release() };
}
