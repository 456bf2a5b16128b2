/**
 * BLEU's tokenizers, reproducing sacrebleu 2.x (sacrebleu/tokenizers/):
 * - `13a`: mteval-v13a.pl as sacrebleu has it (tokenizer_13a.py + tokenizer_re.py): drop
 *   `<skipped>`, join hyphenated line breaks, unescape four XML entities, pad, split off ASCII
 *   punctuation and symbols, periods/commas unless next to a digit, and dashes after a digit.
 * - `intl`: mteval-v14.pl's international tokenization (tokenizer_intl.py): split off Unicode
 *   punctuation (`\p{P}`) unless both neighbours are numbers (`\p{N}`), and every symbol
 *   (`\p{S}`). sacrebleu uses the `regex` module's property classes; JS `u`-flag properties give
 *   the same sets when both follow the same Unicode version (the parity test compares all of them).
 * - `char`: every non-whitespace code point is a token (tokenizer_char.py).
 * - `none`: whitespace splitting only.
 * The language-specific tokenizers (zh, ja-mecab, ko-mecab, spm, flores) are not reproduced.
 *
 * Each rule is applied to the whole line in order, as the Python `re.sub` chain does, including its
 * quirks (in "a.,b" the comma stays attached in the first pass, because matches do not overlap).
 * Patterns are compiled once per module, never per call.
 */
import { UnknownTokenizerError } from './errors.js';
import { isPyWhitespace, pySplit } from './py-string.js';

/** A BLEU tokenizer. */
export interface BleuTokenizer {
  /** The name used in options and in the signature's `tok:` field. */
  readonly name: BleuTokenizerName;
  /** Tokenizes one line to sacrebleu's output string (tokens joined by single spaces). */
  tokenize(line: string): string;
  /** The tokens of `tokenize(line)`, without building the joined string. */
  tokens(line: string): string[];
}

/** Names of the BLEU tokenizers this package implements, as sacrebleu spells them. */
export const BLEU_TOKENIZER_NAMES = ['13a', 'intl', 'char', 'none'] as const;

/** One of {@link BLEU_TOKENIZER_NAMES}. */
export type BleuTokenizerName = (typeof BLEU_TOKENIZER_NAMES)[number];

// ASCII punctuation and symbols except ' , - . (tokenizer_re.py, first rule). sacrebleu's class
// also holds the space, but padding a space with spaces changes no token (the later rules consume
// a space only as the non-digit neighbour of a period/comma, and any space there matches alike).
const RE_13A_PUNCT = /[{-~[-`!-&(-+:-@/]/g;
const RE_13A_DOT_AFTER = /([^0-9])([.,])/g;
const RE_13A_DOT_BEFORE = /([.,])([^0-9])/g;
const RE_13A_DASH = /([0-9])(-)/g;

function split13a(line: string): string[] {
  let s = line;
  if (s.includes('<skipped>')) s = s.replaceAll('<skipped>', '');
  if (s.includes('\n')) s = s.replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  // each rule is skipped when it cannot match: most lines have no symbol and no dash
  s = ` ${s} `;
  RE_13A_PUNCT.lastIndex = 0;
  if (RE_13A_PUNCT.test(s)) s = s.replace(RE_13A_PUNCT, ' $& ');
  if (s.includes('.') || s.includes(','))
    s = s.replace(RE_13A_DOT_AFTER, '$1 $2 ').replace(RE_13A_DOT_BEFORE, ' $1 $2');
  if (s.includes('-')) s = s.replace(RE_13A_DASH, '$1 $2 ');
  return pySplit(s);
}

const RE_INTL_PUNCT_AFTER = /(\P{N})(\p{P})/gu;
const RE_INTL_PUNCT_BEFORE = /(\p{P})(\P{N})/gu;
const RE_INTL_SYMBOL = /\p{S}/gu;

function splitIntl(line: string): string[] {
  return pySplit(
    line
      .replace(RE_INTL_PUNCT_AFTER, '$1 $2 ')
      .replace(RE_INTL_PUNCT_BEFORE, ' $1 $2')
      .replace(RE_INTL_SYMBOL, ' $& '),
  );
}

function splitChar(line: string): string[] {
  const out: string[] = [];
  // for..of iterates code points, as Python iterates a str
  for (const ch of line) {
    if (ch.length === 1 && isPyWhitespace(ch.charCodeAt(0))) continue;
    out.push(ch);
  }
  return out;
}

function makeTokenizer(name: BleuTokenizerName, split: (line: string) => string[]): BleuTokenizer {
  return Object.freeze({
    name,
    tokens: split,
    tokenize: (line: string) => split(line).join(' '),
  });
}

const TOKENIZERS: Readonly<Record<BleuTokenizerName, BleuTokenizer>> = {
  '13a': makeTokenizer('13a', split13a),
  intl: makeTokenizer('intl', splitIntl),
  char: makeTokenizer('char', splitChar),
  none: makeTokenizer('none', pySplit),
};

/**
 * The BLEU tokenizer called `name`.
 * @throws {UnknownTokenizerError} when `name` is not one of {@link BLEU_TOKENIZER_NAMES}.
 */
export function bleuTokenizer(name: string): BleuTokenizer {
  if (!Object.hasOwn(TOKENIZERS, name)) throw new UnknownTokenizerError(name, BLEU_TOKENIZER_NAMES);
  return TOKENIZERS[name as BleuTokenizerName];
}
