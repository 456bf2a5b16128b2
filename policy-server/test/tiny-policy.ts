/**
 * Test fixture: tiny but real policy bundles, built at test setup (nothing is downloaded). A BPE
 * tokenizer trained with @rest/text on a few hundred Multi30k lines (once per process), and an
 * encoder–decoder Transformer with random parameters written by @rest/runtime's `writePolicyBundle`.
 * Different seeds give different policies, so answers show which one served.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ParamTable, transformerParams, writePolicyBundle, type TransformerConfig } from '@rest/runtime';
import { trainBpe, writeTokenizerFiles } from '@rest/text';

/** Multi30k, relative to this file: `<repo>/../shared/data/multi30k`. */
export const MULTI30K_DIR = new URL('../../../shared/data/multi30k/', import.meta.url);

/** The first `n` lines of a Multi30k file, e.g. `test.de`. */
export function multi30k(file: string, n: number): string[] {
  return readFileSync(new URL(file, MULTI30K_DIR), 'utf8').split('\n').slice(0, n);
}

/** The vocabulary the fixture's tokenizer is trained to. */
export const VOCAB_SIZE = 600;

/** A tiny model: fast enough that a test decodes thousands of sentences in seconds. */
export const TINY: TransformerConfig = {
  vocabSize: VOCAB_SIZE,
  dModel: 16,
  heads: 2,
  ffnDim: 32,
  encoderLayers: 1,
  decoderLayers: 1,
};

let tokenizerDir: Promise<string> | undefined;

/** Trains the shared tokenizer into `<root>/tokenizer` once per process. */
function sharedTokenizer(root: string): Promise<string> {
  tokenizerDir ??= (async () => {
    const dir = join(root, 'tokenizer');
    const lines = [...multi30k('train.de', 300), ...multi30k('train.en', 300)];
    await writeTokenizerFiles(dir, trainBpe(lines, { vocabSize: VOCAB_SIZE }));
    return dir;
  })();
  return tokenizerDir;
}

/** Options of {@link buildPolicy}. */
export interface TinyPolicyOptions {
  /** Parameter seed: different seeds, different policies. */
  readonly seed: number;
  /** Recorded as rest.json's policyId. */
  readonly policyId?: string;
  /** generation_config.json max_length. @default 12 */
  readonly maxLength?: number;
  /** generation_config.json num_beams. @default 2 */
  readonly numBeams?: number;
  /** Model config. @default TINY */
  readonly config?: TransformerConfig;
}

/**
 * Writes a bundle into `<root>/<name>` and returns its folder. Parameters are scaled up so that
 * the random model's distributions are peaked (generation then ends at EOS for some sources).
 */
export async function buildPolicy(root: string, name: string, options: TinyPolicyOptions): Promise<string> {
  const config = options.config ?? TINY;
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), options.seed);
  for (let i = 0; i < params.length; i++) params[i] = params[i]! * 3;
  const dir = join(root, name);
  await writePolicyBundle(dir, {
    config,
    params,
    // As trained bundles carry it: the server builds its row-wise (continuous) decoder from it.
    trainerState: { step: 0, params, slots: {} },
    tokenizerDir: await sharedTokenizer(root),
    lineage: {
      ...(options.policyId === undefined ? {} : { policyId: options.policyId }),
      producer: 'policy-server tests',
    },
    generation: { maxLength: options.maxLength ?? 12, numBeams: options.numBeams ?? 2 },
  });
  return dir;
}

/** Every file of a bundle folder, as bundle-storage inputs (`name` relative, `/`-separated). */
export async function bundleFiles(dir: string): Promise<{ name: string; data: Buffer }[]> {
  const out: { name: string; data: Buffer }[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push({ name: relative(dir, path).split('\\').join('/'), data: await readFile(path) });
    }
  };
  await walk(dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Makes `dir` a copy of `from` with one file replaced (broken bundles for error tests). */
export async function brokenCopy(from: string, dir: string, file: string, content: string): Promise<string> {
  for (const f of await bundleFiles(from)) {
    await mkdir(join(dir, f.name, '..'), { recursive: true });
    await writeFile(join(dir, f.name), f.name === file ? content : f.data);
  }
  return dir;
}
