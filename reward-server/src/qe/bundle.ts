/**
 * Writes a QE model as a learned-reward folder in the `reward.json` format that `loadRewardModel` reads
 * (README, "Learned models"): `model.onnx` (the inference graph, parameters baked in), the policy's
 * `tokenizer.json` + `tokenizer_config.json`, `reward.json`, and `qe.json` (the architecture and
 * whatever the trainer reports; informational, the loader does not read it). The manifest is checked
 * with the loader's own parser before anything is written.
 */
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Tokenizer } from '@rest/text';
import { MANIFEST_FILE, parseManifest, type RewardManifest } from '../learned/manifest.js';
import { QE_IO, qeInferenceGraph, type QeModelConfig } from './qe-model.js';

/** The ONNX file's name inside the folder. */
export const QE_ONNX_FILE = 'model.onnx';
/** The informational file with the architecture and training report. */
export const QE_INFO_FILE = 'qe.json';

/** What {@link writeQeRewardBundle} needs. */
export interface QeBundleSpec {
  readonly config: QeModelConfig;
  /** Parameters in `qeParams(config)` layout. */
  readonly params: Float32Array;
  /** The tokenizer the model was trained with (its end-of-sequence token separates the pair). */
  readonly tokenizer: Tokenizer;
  /** Folder holding that tokenizer's `tokenizer.json` and `tokenizer_config.json` (copied). */
  readonly tokenizerDir: string;
  /** Manifest `name`. */
  readonly name: string;
  /** Manifest `version`. @default `sha256:<12 hex>` of the ONNX file, computed by the loader */
  readonly version?: string;
  readonly description: string;
  /** The metric the model predicts (`chrf`, `bleu`, …). */
  readonly predicts: string;
  /** Most tokens of one pair; longer pairs are trimmed (`longest_first`). */
  readonly maxLength: number;
  /** Mean and std of the model's scores on held-out pairs (ZSCORE). */
  readonly calibration: { readonly mean: number; readonly std: number };
  /** Written to `qe.json` beside the architecture. */
  readonly report?: Readonly<Record<string, unknown>>;
}

/** The pairing template of QE models: `source </s> hypothesis </s>`, with the tokenizer's end token. */
export function qeTemplate(tokenizer: Tokenizer): string[] {
  const eos = tokenizer.idToToken(tokenizer.specialIds.eos);
  if (eos === undefined) throw new RangeError('the tokenizer has no end-of-sequence token');
  return ['{source}', eos, '{hypothesis}', eos];
}

/** The manifest of a QE bundle, parsed (so it is exactly what the loader accepts). */
export function qeManifest(spec: Omit<QeBundleSpec, 'params' | 'tokenizerDir' | 'report'>): RewardManifest {
  return parseManifest(
    {
      formatVersion: 1,
      name: spec.name,
      ...(spec.version === undefined ? {} : { version: spec.version }),
      description: spec.description,
      kind: 'cross-encoder-regression',
      onnx: QE_ONNX_FILE,
      tokenizer: 'tokenizer.json',
      inputs: [
        { name: QE_IO.inputIds, role: 'input_ids' },
        { name: QE_IO.attentionMask, role: 'attention_mask' },
        { name: QE_IO.tokenTypeIds, role: 'token_type_ids' },
      ],
      output: QE_IO.score,
      maxLength: spec.maxLength,
      pairing: { template: qeTemplate(spec.tokenizer), truncation: 'longest_first' },
      predicts: spec.predicts,
      higherIsBetter: true,
      range: spec.config.range,
      calibration: spec.calibration,
    },
    `${spec.name}/${MANIFEST_FILE}`,
  );
}

/**
 * Writes the folder `dir` atomically (built in a hidden sibling, then renamed over any previous one).
 * Returns `dir`.
 * @throws RewardModelError for a manifest the loader would refuse (a bad name, a non-positive std);
 *   ParamTableError for parameters of the wrong size; the file system's errors
 */
export async function writeQeRewardBundle(dir: string, spec: QeBundleSpec): Promise<string> {
  const manifest = qeManifest(spec);
  const graph = qeInferenceGraph(spec.config, spec.params);
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, QE_ONNX_FILE), graph.toBytes());
    for (const file of ['tokenizer.json', 'tokenizer_config.json'])
      await copyFile(join(spec.tokenizerDir, file), join(tmp, file));
    await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(
      join(tmp, QE_INFO_FILE),
      `${JSON.stringify({ architecture: spec.config, ...spec.report }, null, 2)}\n`,
    );
    const had = await stat(dir).then(
      () => true,
      () => false,
    );
    const old = `${tmp}.old`;
    if (had) await rename(dir, old);
    await rename(tmp, dir);
    if (had) await rm(old, { recursive: true, force: true });
    return dir;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
