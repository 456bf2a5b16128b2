/**
 * @rest/text: reference metrics exact to sacrebleu (BLEU, chrF, chrF++, TER) with their signatures,
 * built for scoring every Grow sample: `prepare` a segment's references once, then score its N
 * candidates against the prepared value.
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
