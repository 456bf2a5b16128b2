/**
 * The policy samples a QE model trains on, drawn once and optionally kept in a JSON file, so a second
 * training with other model or optimiser settings skips the sampling (the slow part of a run on a
 * small machine). A kept file is reused only when it was drawn with the same policy folder, sampling
 * settings and seed, and holds every source the run needs; otherwise the run stops rather than mix
 * samples of two settings.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Seq2SeqModel } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';
import { decodeAll, type Corpus } from './corpus.js';

/** How the samples are drawn. */
export interface SamplingSettings {
  /** The policy bundle folder. */
  readonly policy: string;
  /** Samples per source. */
  readonly samples: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** onnxruntime intra-op threads. */
  readonly threads: number;
}

const FORMAT = 'rest-qe-samples/1';

interface SamplesFile {
  readonly format: typeof FORMAT;
  readonly policy: string;
  readonly samples: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Corpus index → that source's samples. */
  readonly candidates: Record<string, string[]>;
}

/**
 * The samples of each of `indices` (corpus positions): read from `file` when it holds them for the
 * same settings, else drawn from the policy (and written to `file` when one is named).
 * @throws RangeError when `file` exists but was drawn with other settings or lacks a source
 */
export async function policySamples(
  corpus: Corpus,
  indices: readonly number[],
  tokenizer: Tokenizer,
  settings: SamplingSettings,
  file: string,
  onProgress: (done: number, total: number) => void,
): Promise<Map<number, string[]>> {
  const key = {
    policy: resolve(settings.policy),
    samples: settings.samples,
    temperature: settings.temperature,
    maxNewTokens: settings.maxNewTokens,
    seed: settings.seed,
  };
  const kept = file === '' ? undefined : await readSamplesFile(file);
  if (kept !== undefined) {
    const differs = (Object.keys(key) as (keyof typeof key)[]).filter((k) => kept[k] !== key[k]);
    const missing = indices.filter((i) => kept.candidates[String(i)] === undefined);
    if (differs.length > 0 || missing.length > 0) {
      throw new RangeError(
        `samplesFile: ${file} was drawn with other ${differs.length > 0 ? differs.join(', ') : `sources (${missing.length} missing)`}; ` +
          'delete it or name another file',
      );
    }
    return new Map(indices.map((i) => [i, kept.candidates[String(i)]!]));
  }
  const { model } = await Seq2SeqModel.load(settings.policy, { intraOpThreads: settings.threads });
  let decoded: string[][];
  try {
    decoded = await decodeAll(
      model,
      tokenizer,
      indices.map((i) => corpus.sources[i]!),
      {
        strategy: 'sample',
        numReturn: settings.samples,
        temperature: settings.temperature,
        maxNewTokens: settings.maxNewTokens,
        seed: settings.seed,
      },
      { onProgress },
    );
  } finally {
    await model.release();
  }
  const samples = new Map(indices.map((i, k) => [i, decoded[k]!]));
  if (file !== '') {
    const document: SamplesFile = { format: FORMAT, ...key, candidates: Object.fromEntries(samples) };
    await writeFile(`${file}.tmp`, JSON.stringify(document));
    await rename(`${file}.tmp`, file);
  }
  return samples;
}

async function readSamplesFile(file: string): Promise<SamplesFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const document = JSON.parse(text) as Partial<SamplesFile>;
  if (document.format !== FORMAT || typeof document.candidates !== 'object')
    throw new RangeError(`samplesFile: ${file} is not a ${FORMAT} file`);
  return document as SamplesFile;
}
