/**
 * One loaded policy: its two ONNX sessions (`Seq2SeqModel`), its tokenizer, and what serving needs
 * to know about it (generation defaults, vocabulary size, cost in bytes). Loading checks that the
 * tokenizer fits the model and runs one warm-up decode (STYLE.md §8), so the first request does not
 * pay onnxruntime's lazy initialisation.
 *
 * Our own bundles (those whose config.json carries the transformer config and which hold their
 * parameters in `trainer/state.safetensors`) also get the cached decoder built from those parameters
 * (`Seq2SeqModel.load`), and with continuous batching on a row-wise decoder (`ContinuousBatch`):
 * sessions about the size of the decoder each, counted in `bytes`. Foreign bundles (optimum exports)
 * run the merged decoder only and decode with the batcher only.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BundleError,
  ContinuousBatch,
  generate,
  Seq2SeqModel,
  type BundleManifest,
  type ContinuousOptions,
  type SessionOptions,
} from '@rest/runtime';
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
  /** The row-wise decoding loop, when continuous batching is on and the bundle is one of ours. */
  readonly continuous: ContinuousBatch | undefined;
  /** Summed ONNX file sizes, the decoder's once more for each decoder built at load. */
  readonly bytes: number;
  /** Releases the sessions. */
  release(): Promise<void>;
}

/**
 * Summed size in bytes of a bundle folder's ONNX files, the decoder's counted `extraDecoders` more
 * times (the decoders a bundle of ours gets at load: the cached one, and the row-wise one with
 * continuous batching).
 */
export async function onnxBytes(dir: string, extraDecoders = 0): Promise<number> {
  let sum = 0;
  for (const file of ONNX_FILES) sum += (await stat(join(dir, file))).size;
  return sum + extraDecoders * (await stat(join(dir, ONNX_FILES[1]))).size;
}

/**
 * Loads the bundle in `dir` as policy `id`, with a row-wise decoder when `continuous` is given and the
 * bundle is one of ours (module comment).
 * @throws BundleError when the bundle is broken, foreign, or its tokenizer does not fit the model
 * @throws TokenizerFormatError when tokenizer.json cannot be read
 */
export async function loadPolicy(
  id: string,
  instance: number,
  dir: string,
  sessionOptions: SessionOptions,
  continuous?: ContinuousOptions,
): Promise<LoadedPolicy> {
  const tokenizer = await loadTokenizer(dir);
  const { model, manifest } = await Seq2SeqModel.load(dir, sessionOptions);
  let batch: ContinuousBatch | undefined;
  try {
    if (tokenizer.vocabSize > manifest.vocabSize) {
      throw new BundleError(
        `bundle ${dir}: tokenizer.json has ${tokenizer.vocabSize} ids, more than the model's vocab_size ${manifest.vocabSize}`,
      );
    }
    const warm = [manifest.generation.eosTokenId];
    await generate(model, [warm], { strategy: 'greedy', maxNewTokens: 2 });
    if (continuous !== undefined)
      batch = await ContinuousBatch.fromBundle(model, manifest, sessionOptions, continuous);
    if (batch !== undefined) {
      const { result } = batch.add(warm, { strategy: 'greedy', maxNewTokens: 3 });
      while (batch.busy) await batch.step();
      await result;
    }
  } catch (error) {
    await batch?.release();
    await model.release();
    throw error;
  }
  const bytes = await onnxBytes(dir, (model.hasCachedDecoder ? 1 : 0) + (batch === undefined ? 0 : 1));
  const release = async (): Promise<void> => {
    await batch?.release(new Error(`policy ${id} was unloaded`));
    await model.release();
  };
  return { id, instance, dir, model, manifest, tokenizer, continuous: batch, bytes, release };
}
