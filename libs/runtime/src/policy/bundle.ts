/**
 * Policy bundles: the unit that is trained, stored, served and A/B-routed (DESIGN.md). A folder laid out
 * like a Hugging Face optimum export of a Marian model, plus our lineage and the trainer's state:
 *
 * ```
 * config.json                  Marian-style model config (+ `rest_transformer`: our exact TransformerConfig,
 *                              `rest_logits_are_log_probs`: the decoder's logits are log-softmaxed)
 * generation_config.json       decoder start / eos / pad ids, banned pad, default decoding
 * tokenizer.json               Hugging Face tokenizer (+ tokenizer_config.json)
 * onnx/encoder_model.onnx
 * onnx/decoder_model_merged.onnx
 * rest.json                    lineage: parent policy, run, Grow/Improve step, metrics
 * trainer/state.safetensors    parameters + optimizer moments + step (optional; ours only)
 * ```
 *
 * `writePolicyBundle` writes every file to a temporary sibling folder and renames it into place, so a
 * reader never sees half a bundle. `readBundleManifest` validates the JSON files of any bundle (ours or
 * an optimum Marian export) with messages that name the file and the field.
 *
 * The marker `rest_logits_are_log_probs` sits in `config.json`, beside `rest_transformer`, because it
 * describes the ONNX files written with it (their `logits` output: inference-graphs.ts), not the
 * lineage, and because `config.json` is the file every loader reads. Absent means raw logits: optimum
 * exports, and our bundles written before the decoder normalised its logits.
 */
import { mkdir, readFile, rename, rm, writeFile, copyFile, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkConfig, transformerParams, type TransformerConfig } from '../models/config.js';
import { decoderGraph, encoderGraph, DECODER_FILE, ENCODER_FILE } from '../models/inference-graphs.js';
import { ParamTable } from '../params/param-table.js';
import { saveCheckpoint } from '../checkpoint/safetensors.js';
import type { TrainState } from '../optim/trainer.js';

/** A bundle that is missing a file, has a malformed one, or does not fit the runtime. */
export class BundleError extends Error {
  override name = 'BundleError';
}

/** Lineage and metrics recorded with a bundle (`rest.json`). */
export interface BundleLineage {
  /** Policy id, when registered. */
  policyId?: string;
  parentPolicyId?: string;
  runId?: string;
  growStep?: number;
  improveStep?: number;
  /** Free-form numeric metrics (validation BLEU, reward, loss, …). */
  metrics?: Record<string, number>;
  /** What produced it (e.g. `rest pretrain`). */
  producer?: string;
  createdAt?: string;
}

/** Token ids and default decoding of a bundle (from config.json and generation_config.json). */
export interface GenerationDefaults {
  decoderStartTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  /** Tokens never generated (Marian bans its pad token). */
  bannedTokenIds: number[];
  maxLength: number;
  numBeams: number;
  lengthPenalty: number;
}

/** What `readBundleManifest` returns. */
export interface BundleManifest {
  dir: string;
  /** Decoder layers, heads and head width, as the merged decoder's cache needs them. */
  decoderLayers: number;
  heads: number;
  dModel: number;
  vocabSize: number;
  generation: GenerationDefaults;
  /** Our exact model config, when the bundle is ours. */
  transformer?: TransformerConfig;
  /**
   * Whether the decoder's `logits` are already log-probabilities (`config.json`
   * `rest_logits_are_log_probs`; false when absent), so that decoding needs no normaliser.
   */
  logitsNormalized: boolean;
  lineage: BundleLineage;
  /** Whether `trainer/state.safetensors` exists. */
  hasTrainerState: boolean;
}

export const BUNDLE_FILES = {
  config: 'config.json',
  generation: 'generation_config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  encoder: `onnx/${ENCODER_FILE}`,
  decoder: `onnx/${DECODER_FILE}`,
  lineage: 'rest.json',
  trainerState: 'trainer/state.safetensors',
} as const;

/** Everything `writePolicyBundle` needs. */
export interface PolicyBundleSpec {
  config: TransformerConfig;
  /** Parameters in `transformerParams(config)` layout. */
  params: Float32Array;
  /** Folder holding `tokenizer.json` and `tokenizer_config.json` (copied). */
  tokenizerDir: string;
  lineage?: BundleLineage;
  /** Trainer state to include for resuming (parameters, optimizer moments, step). */
  trainerState?: TrainState;
  /** Default decoding written to generation_config.json. */
  generation?: Partial<Pick<GenerationDefaults, 'maxLength' | 'numBeams' | 'lengthPenalty'>>;
}

/** The `config.json` key that marks a decoder whose `logits` are log-probabilities (module comment). */
export const LOG_PROBS_KEY = 'rest_logits_are_log_probs';

function marianConfig(c: TransformerConfig): Record<string, unknown> {
  const pad = c.padId ?? 0;
  return {
    architectures: ['MarianMTModel'],
    model_type: 'marian',
    is_encoder_decoder: true,
    vocab_size: c.vocabSize,
    d_model: c.dModel,
    encoder_layers: c.encoderLayers,
    decoder_layers: c.decoderLayers,
    encoder_attention_heads: c.heads,
    decoder_attention_heads: c.heads,
    encoder_ffn_dim: c.ffnDim,
    decoder_ffn_dim: c.ffnDim,
    activation_function: c.activation ?? 'relu',
    max_position_embeddings: c.maxPositions ?? 512,
    scale_embedding: c.scaleEmbedding ?? true,
    normalize_before: c.preNorm ?? true,
    share_encoder_decoder_embeddings: true,
    tie_word_embeddings: true,
    pad_token_id: pad,
    eos_token_id: 1,
    decoder_start_token_id: pad,
    forced_eos_token_id: null,
    torch_dtype: 'float32',
    rest_transformer: c,
    [LOG_PROBS_KEY]: true,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a complete bundle to `dir` (replacing an existing one atomically: the new bundle is built in a
 * sibling temporary folder and renamed over). Returns `dir`.
 */
export async function writePolicyBundle(dir: string, spec: PolicyBundleSpec): Promise<string> {
  checkConfig(spec.config);
  const table = new ParamTable(transformerParams(spec.config));
  if (spec.params.length !== table.size)
    throw new BundleError(`params: ${spec.params.length} values, the config needs ${table.size}`);
  for (const f of [BUNDLE_FILES.tokenizer, BUNDLE_FILES.tokenizerConfig])
    if (!(await exists(join(spec.tokenizerDir, f))))
      throw new BundleError(`tokenizerDir: ${join(spec.tokenizerDir, f)} does not exist`);
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(join(tmp, 'onnx'), { recursive: true });
    const pad = spec.config.padId ?? 0;
    const gen = spec.generation ?? {};
    await writeFile(
      join(tmp, BUNDLE_FILES.config),
      JSON.stringify(marianConfig(spec.config), null, 2) + '\n',
    );
    await writeFile(
      join(tmp, BUNDLE_FILES.generation),
      JSON.stringify(
        {
          decoder_start_token_id: pad,
          eos_token_id: 1,
          pad_token_id: pad,
          bad_words_ids: [[pad]],
          forced_eos_token_id: null,
          max_length: gen.maxLength ?? 256,
          num_beams: gen.numBeams ?? 4,
          length_penalty: gen.lengthPenalty ?? 1.0,
        },
        null,
        2,
      ) + '\n',
    );
    for (const f of [BUNDLE_FILES.tokenizer, BUNDLE_FILES.tokenizerConfig])
      await copyFile(join(spec.tokenizerDir, f), join(tmp, f));
    await writeFile(join(tmp, BUNDLE_FILES.encoder), encoderGraph(spec.config, spec.params).toBytes());
    await writeFile(join(tmp, BUNDLE_FILES.decoder), decoderGraph(spec.config, spec.params).toBytes());
    const lineage: BundleLineage = { createdAt: new Date().toISOString(), ...spec.lineage };
    await writeFile(join(tmp, BUNDLE_FILES.lineage), JSON.stringify(lineage, null, 2) + '\n');
    if (spec.trainerState !== undefined) {
      await mkdir(join(tmp, 'trainer'), { recursive: true });
      await saveCheckpoint(join(tmp, BUNDLE_FILES.trainerState), table, spec.trainerState);
    }
    const old = `${tmp}.old`;
    const had = await exists(dir);
    if (had) await rename(dir, old);
    await rename(tmp, dir);
    if (had) await rm(old, { recursive: true, force: true });
    return dir;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function readJson(dir: string, file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch {
    throw new BundleError(`bundle ${dir}: ${file} is missing`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new BundleError(`bundle ${dir}: ${file} is not a JSON object (${(e as Error).message})`);
  }
}

function int(doc: Record<string, unknown>, file: string, dir: string, ...keys: string[]): number {
  for (const k of keys) {
    const v = doc[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new BundleError(
        `bundle ${dir}: ${file}: ${k} must be a non-negative integer, got ${JSON.stringify(v)}`,
      );
    return v;
  }
  throw new BundleError(`bundle ${dir}: ${file}: ${keys.join(' or ')} is missing`);
}

/**
 * Reads and validates a bundle's JSON files and checks that its ONNX files exist. Works for our bundles
 * and for optimum exports of Marian-family models (`model_type` marian, bart, mbart, m2m_100 …
 * with a merged decoder); throws BundleError naming the file and field otherwise.
 */
export async function readBundleManifest(dir: string): Promise<BundleManifest> {
  const config = await readJson(dir, BUNDLE_FILES.config);
  if (config.is_encoder_decoder === false)
    throw new BundleError(
      `bundle ${dir}: config.json: is_encoder_decoder is false; a policy is an encoder–decoder`,
    );
  const cfgFile = BUNDLE_FILES.config;
  const decoderLayers = int(config, cfgFile, dir, 'decoder_layers', 'num_hidden_layers');
  const heads = int(config, cfgFile, dir, 'decoder_attention_heads', 'num_attention_heads');
  const dModel = int(config, cfgFile, dir, 'd_model', 'hidden_size');
  const vocabSize = int(config, cfgFile, dir, 'vocab_size');
  if (heads === 0 || dModel % heads !== 0)
    throw new BundleError(
      `bundle ${dir}: config.json: decoder_attention_heads ${heads} does not divide d_model ${dModel}`,
    );
  const gen = (await exists(join(dir, BUNDLE_FILES.generation)))
    ? await readJson(dir, BUNDLE_FILES.generation)
    : {};
  const pick = (k: string): number | undefined => {
    const v = gen[k] ?? config[k];
    return typeof v === 'number' ? v : undefined;
  };
  const padTokenId = pick('pad_token_id') ?? 0;
  const eos = gen.eos_token_id ?? config.eos_token_id;
  const eosTokenId = Array.isArray(eos) ? (eos[0] as number) : (eos as number);
  if (!Number.isInteger(eosTokenId)) throw new BundleError(`bundle ${dir}: eos_token_id is missing`);
  const bad = gen.bad_words_ids ?? config.bad_words_ids;
  const bannedTokenIds = Array.isArray(bad)
    ? bad.filter((w): w is number[] => Array.isArray(w) && w.length === 1).map((w) => w[0]!)
    : [];
  for (const f of [BUNDLE_FILES.encoder, BUNDLE_FILES.decoder, BUNDLE_FILES.tokenizer])
    if (!(await exists(join(dir, f)))) throw new BundleError(`bundle ${dir}: ${f} is missing`);
  let transformer: TransformerConfig | undefined;
  if (config.rest_transformer !== undefined) {
    transformer = config.rest_transformer as TransformerConfig;
    try {
      checkConfig(transformer);
    } catch (e) {
      throw new BundleError(`bundle ${dir}: config.json: rest_transformer: ${(e as Error).message}`);
    }
  }
  const normalized = config[LOG_PROBS_KEY] ?? false;
  if (typeof normalized !== 'boolean')
    throw new BundleError(
      `bundle ${dir}: config.json: ${LOG_PROBS_KEY} must be true or false, got ${JSON.stringify(normalized)}`,
    );
  const lineage = (await exists(join(dir, BUNDLE_FILES.lineage)))
    ? ((await readJson(dir, BUNDLE_FILES.lineage)) as BundleLineage)
    : {};
  return {
    dir,
    decoderLayers,
    heads,
    dModel,
    vocabSize,
    transformer,
    logitsNormalized: normalized,
    lineage,
    hasTrainerState: await exists(join(dir, BUNDLE_FILES.trainerState)),
    generation: {
      decoderStartTokenId: pick('decoder_start_token_id') ?? padTokenId,
      eosTokenId,
      padTokenId,
      bannedTokenIds,
      maxLength: pick('max_length') ?? 256,
      numBeams: pick('num_beams') ?? 1,
      lengthPenalty: pick('length_penalty') ?? 1,
    },
  };
}
