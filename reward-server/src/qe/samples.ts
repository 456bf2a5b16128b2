/**
 * The policy samples a QE model trains on, drawn once and optionally kept in a JSON file, so a second
 * training with other model or optimiser settings skips the sampling (the slow part of a run on a
 * small machine). A kept file is reused only when it was drawn with the same policy folder, sampling
 * settings and seed (otherwise the run stops rather than mix samples of two settings); sources it
 * lacks (a run with more `--sources`) are sampled and added to it.
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
 * same settings, else drawn from the policy (and added to `file` when one is named).
 * @throws RangeError when `file` exists but was drawn with other settings
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
  const have = new Map<number, string[]>();
  if (kept !== undefined) {
    const differs = (Object.keys(key) as (keyof typeof key)[]).filter((k) => kept[k] !== key[k]);
    if (differs.length > 0) {
      throw new RangeError(
        `samplesFile: ${file} was drawn with other ${differs.join(', ')}; delete it or name another file`,
      );
    }
    for (const [i, candidates] of Object.entries(kept.candidates)) have.set(Number(i), candidates);
  }
  const missing = indices.filter((i) => !have.has(i));
  if (missing.length > 0) {
    const { model } = await Seq2SeqModel.load(settings.policy, { intraOpThreads: settings.threads });
    try {
      const decoded = await decodeAll(
        model,
        tokenizer,
        missing.map((i) => corpus.sources[i]!),
        {
          strategy: 'sample',
          numReturn: settings.samples,
          temperature: settings.temperature,
          maxNewTokens: settings.maxNewTokens,
          // Sources added to a kept file draw from other streams than the ones it holds.
          seed: settings.seed + have.size,
        },
        { onProgress },
      );
      missing.forEach((i, k) => have.set(i, decoded[k]!));
    } finally {
      await model.release();
    }
    if (file !== '') {
      const document: SamplesFile = { format: FORMAT, ...key, candidates: Object.fromEntries(have) };
      await writeFile(`${file}.tmp`, JSON.stringify(document));
      await rename(`${file}.tmp`, file);
    }
  }
  return new Map(indices.map((i) => [i, have.get(i)!]));
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
