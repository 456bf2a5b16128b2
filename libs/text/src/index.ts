/**
 * @rest/text: reference metrics exact to sacrebleu (BLEU, chrF, chrF++, TER) with their signatures,
 * built for scoring every Grow sample: `prepare` a segment's references once, then score its N
 * candidates against the prepared value; and the policies' subword tokenizer: a BPE trainer that writes
 * Hugging Face `tokenizer.json` files, and a `Tokenizer` that encodes and decodes any such file.
 */
export {
  Bleu,
  BleuReference,
  BLEU_SMOOTH_DEFAULTS,
  BLEU_SMOOTH_METHODS,
  computeBleu,
  corpusBleu,
  sentenceBleu,
  type BleuOptions,
  type BleuScore,
  type BleuSmoothMethod,
} from './metrics/bleu.js';
export {
  BLEU_TOKENIZER_NAMES,
  bleuTokenizer,
  type BleuTokenizer,
  type BleuTokenizerName,
} from './metrics/bleu-tokenizers.js';
export {
  Chrf,
  ChrfReference,
  chrfWords,
  corpusChrf,
  sentenceChrf,
  type ChrfOptions,
  type ChrfScore,
} from './metrics/chrf.js';
export { MetricInputError, MetricOptionError, UnknownTokenizerError } from './metrics/errors.js';
export { SACREBLEU_VERSION, type NumRefs } from './metrics/signature.js';
export { Ter, TerReference, corpusTer, sentenceTer, type TerOptions, type TerScore } from './metrics/ter.js';
export {
  BPE_TRAINER_DEFAULTS,
  trainBpe,
  type BpeTrainerOptions,
  type BpeTrainingProgress,
  type TrainedBpe,
} from './tokenizer/bpe-trainer.js';
export { BpeModel } from './tokenizer/bpe-model.js';
export { TokenizerFormatError, TokenizerTrainingError } from './tokenizer/errors.js';
export {
  tokenizerConfigJson,
  tokenizerJson,
  writeTokenizerFiles,
  type TokenizerFileOptions,
} from './tokenizer/hf-files.js';
export { METASPACE, metaspaceNormalize, metaspaceWords } from './tokenizer/pre-tokenize.js';
export {
  BYTE_TOKEN_OFFSET,
  byteToken,
  SPECIAL_TOKEN_IDS,
  SPECIAL_TOKENS,
} from './tokenizer/special-tokens.js';
export {
  loadTokenizer,
  tokenizerFromJson,
  type EncodeOptions,
  type SpecialTokenIds,
  type Tokenizer,
} from './tokenizer/tokenizer.js';
