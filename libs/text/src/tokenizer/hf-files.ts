/**
 * Writes a trained BPE vocabulary as the Hugging Face pair `tokenizer.json` + `tokenizer_config.json`,
 * the tokenizer half of a Marian-style policy bundle. The pipeline mirrors what SentencePiece-converted
 * tokenizers (Llama, Marian conversions) declare: NFKC normaliser, Metaspace pre-tokenizer (prepend
 * "always", split), BPE with `byte_fallback`, a decoder chain Replace("▁"→" ") → ByteFallback → Fuse →
 * Strip(one leading space), and a TemplateProcessing post-processor that appends `</s>` as Marian does.
 *
 * `tokenizer_class` is `PreTrainedTokenizerFast`: transformers.js maps it to its base
 * `PreTrainedTokenizer`, whereas `MarianTokenizer` there trims the input (breaking round trips on
 * leading or trailing spaces) and warns on load. `clean_up_tokenization_spaces` is false because the
 * clean-up rewrites " ." to "." and would break decode(encode(x)) == NFKC(x).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainedBpe } from './bpe-trainer.js';
import { METASPACE } from './pre-tokenize.js';
import { SPECIAL_TOKEN_IDS, SPECIAL_TOKENS } from './special-tokens.js';

/** Options of `tokenizerConfigJson` / `writeTokenizerFiles`. */
export interface TokenizerFileOptions {
  /** Longest input, in tokens, that consumers should feed the model. @default 512 */
  readonly modelMaxLength?: number;
}

const SPECIALS: readonly { readonly content: string; readonly id: number }[] = [
  { content: SPECIAL_TOKENS.pad, id: SPECIAL_TOKEN_IDS.pad },
  { content: SPECIAL_TOKENS.eos, id: SPECIAL_TOKEN_IDS.eos },
  { content: SPECIAL_TOKENS.unk, id: SPECIAL_TOKEN_IDS.unk },
];

function addedToken(content: string, id: number): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** The `tokenizer.json` document (format version 1.0) for `trained`. */
export function tokenizerJson(trained: TrainedBpe): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  trained.vocab.forEach((token, id) => {
    if (!Object.hasOwn(vocab, token)) vocab[token] = id;
  });
  const eos = SPECIAL_TOKENS.eos;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((s) => addedToken(s.content, s.id)),
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: { [eos]: { id: eos, ids: [SPECIAL_TOKEN_IDS.eos], tokens: [eos] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: METASPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: trained.merges.map(([a, b]) => [a, b]),
    },
  };
}

/** The `tokenizer_config.json` document that goes with `tokenizerJson`. */
export function tokenizerConfigJson(options: TokenizerFileOptions = {}): Record<string, unknown> {
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const s of SPECIALS) {
    const { id: _id, ...rest } = addedToken(s.content, s.id);
    addedTokensDecoder[String(s.id)] = rest;
  }
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: options.modelMaxLength ?? 512,
    pad_token: SPECIAL_TOKENS.pad,
    eos_token: SPECIAL_TOKENS.eos,
    unk_token: SPECIAL_TOKENS.unk,
    padding_side: 'right',
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: addedTokensDecoder,
  };
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` for `trained` into `dir` (created if missing).
 * @throws the file system's error when `dir` cannot be written.
 */
export async function writeTokenizerFiles(
  dir: string,
  trained: TrainedBpe,
  options: TokenizerFileOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(trained)) + '\n');
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify(tokenizerConfigJson(options), null, 2) + '\n',
  );
}
