/**
 * Encoding and decoding of any Hugging Face `tokenizer.json` (ours or a bundle made elsewhere) behind a
 * small interface of ours.
 *
 * Library: `@huggingface/tokenizers` (tokenizers.js), Hugging Face's pure-JS implementation of the
 * `tokenizer.json` pipelines. It is the engine transformers.js v4 itself tokenizes with, so bundles encode
 * exactly as transformers.js encodes them, yet it has no dependencies: no onnxruntime, no sharp, nothing
 * native, which keeps `@rest/text` light for the reward server and the CLI. transformers.js is only a
 * dev dependency here, for the test that loads our files through `AutoTokenizer`.
 *
 * The end-of-sequence id is appended by us rather than by the file's post-processor, so that `addEos`
 * means the same for foreign tokenizers whose post-processor adds nothing or adds more.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizerClass } from '@huggingface/tokenizers';
import { TokenizerFormatError } from './errors.js';

/**
 * The part of tokenizers.js' `Tokenizer` we call. Its published `.d.ts` files import each other without
 * file extensions, which NodeNext resolution cannot follow, so the class arrives untyped; this is the
 * signature of its 0.2 API.
 */
interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(
    ids: number[],
    options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean },
  ): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}
const HfTokenizerCtor = HfTokenizerClass as unknown as new (json: object, config: object) => HfTokenizer;

/** Ids of the special tokens a seq2seq policy needs; `unk` is absent when the vocabulary has none. */
export interface SpecialTokenIds {
  readonly pad: number;
  readonly eos: number;
  readonly unk: number | undefined;
}

/** Options of `Tokenizer.encode`. */
export interface EncodeOptions {
  /** Append the end-of-sequence id. @default true */
  readonly addEos?: boolean;
}

/** A loaded subword tokenizer. Ids index the model's vocabulary: `0 <= id < vocabSize`. */
export interface Tokenizer {
  /** Number of ids, added tokens included (the model's V). */
  readonly vocabSize: number;
  readonly specialIds: SpecialTokenIds;
  /** Token ids of `text` after the file's normaliser (NFKC for ours). */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text of `ids`, special tokens skipped; `[]` gives `""`. */
  decode(ids: readonly number[]): string;
  /** Token string of one id, or `undefined` outside the vocabulary. */
  idToToken(id: number): string | undefined;
}

function tokenName(config: Record<string, unknown>, key: string): string | undefined {
  const value = config[key];
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Builds a `Tokenizer` from parsed `tokenizer.json` and `tokenizer_config.json` documents. The end of
 * sequence is `eos_token` (config), the padding token `pad_token`, falling back to `eos_token`.
 * @throws TokenizerFormatError when the documents are not objects, the library rejects them, or the
 *   eos/pad tokens are missing from the vocabulary.
 */
export function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig: unknown): Tokenizer {
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null) {
    throw new TokenizerFormatError('tokenizer.json: must be a JSON object');
  }
  if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null) {
    throw new TokenizerFormatError('tokenizer_config.json: must be a JSON object');
  }
  const config = tokenizerConfig as Record<string, unknown>;
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizerCtor(tokenizerJson, config);
  } catch (cause) {
    throw new TokenizerFormatError(`tokenizer.json: rejected by tokenizers.js: ${String(cause)}`, { cause });
  }
  const problems: string[] = [];
  const idOf = (key: string, fallback?: string): number | undefined => {
    const name = tokenName(config, key) ?? (fallback === undefined ? undefined : tokenName(config, fallback));
    const id = name === undefined ? undefined : hf.token_to_id(name);
    if (id === undefined && key !== 'unk_token') {
      problems.push(
        `tokenizer_config.json: ${key}: ${name === undefined ? 'missing' : `"${name}" is not in the vocabulary`}`,
      );
    }
    return id;
  };
  const eos = idOf('eos_token');
  const pad = idOf('pad_token', 'eos_token');
  const unk = idOf('unk_token');
  if (eos === undefined || pad === undefined) throw new TokenizerFormatError(problems.join('; '));

  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const specialIds: SpecialTokenIds = { pad, eos, unk };

  return {
    vocabSize,
    specialIds,
    encode(text: string, options: EncodeOptions = {}): number[] {
      const ids = hf.encode(text, { add_special_tokens: false }).ids;
      if (options.addEos ?? true) ids.push(eos);
      return ids;
    },
    decode(ids: readonly number[]): string {
      if (ids.length === 0) return '';
      return hf.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
    },
    idToToken(id: number): string | undefined {
      return hf.id_to_token(id);
    },
  };
}

/**
 * Loads `tokenizer.json` and `tokenizer_config.json` from `dir` (a policy bundle or a tokenizer folder).
 * @throws TokenizerFormatError when a file is missing, is not JSON, or `tokenizerFromJson` rejects it.
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const read = async (name: string): Promise<unknown> => {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (cause) {
      throw new TokenizerFormatError(`${name}: cannot read from ${dir}`, { cause });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new TokenizerFormatError(`${name}: not JSON`, { cause });
    }
  };
  // Both read at once; when both fail, the error names tokenizer.json whichever failed first.
  const [json, config] = await Promise.allSettled([read('tokenizer.json'), read('tokenizer_config.json')]);
  if (json.status === 'rejected') throw json.reason;
  if (config.status === 'rejected') throw config.reason;
  return tokenizerFromJson(json.value, config.value);
}
