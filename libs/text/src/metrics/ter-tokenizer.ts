/**
 * TER's tokenizer, reproducing sacrebleu's `TercomTokenizer` (sacrebleu/tokenizers/tokenizer_ter.py,
 * itself after Tercom's Normalizer.java): lower-case unless case-sensitive; with `normalized`,
 * Tercom's western normalization (join hyphenated lines, unescape XML entities, split off ASCII
 * punctuation, possessive 's, periods/commas not next to digits, dashes after digits) and, with
 * `asianSupport`, CJK ideographs split to characters and CJK/full-width punctuation split off; with
 * `noPunct`, a small set of punctuation (and with `asianSupport` CJK/full-width punctuation)
 * removed. Everything lies in the BMP, so these patterns need no `u` flag, like Python's `re` here.
 *
 * The kana rules are reproduced as written, though in sacrebleu they can never fire: their
 * `^`-anchored alternatives meet a string that the western step has already padded with a space.
 */
import { pySplit } from './py-string.js';

/** TER tokenizer options (sacrebleu's `TER()` defaults: all false). */
export interface TerTokenizerOptions {
  /** Tercom normalization. @default false */
  normalized?: boolean;
  /** Remove punctuation. @default false */
  noPunct?: boolean;
  /** CJK handling in `normalized` and `noPunct`. @default false */
  asianSupport?: boolean;
  /** Keep case. @default false */
  caseSensitive?: boolean;
}

const RE_PUNCT = /([{-~[-` -&(-+:-@/])/g;
const RE_POSSESSIVE = /'s /g;
const RE_POSSESSIVE_END = /'s$/;
const RE_DOT_AFTER = /([^0-9])([.,])/g;
const RE_DOT_BEFORE = /([.,])([^0-9])/g;
const RE_DASH = /([0-9])(-)/g;

function normalizeWestern(s: string): string {
  s = s.replaceAll('\n-', '').replaceAll('\n', ' ');
  s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  return ` ${s} `
    .replace(RE_PUNCT, ' $1 ')
    .replace(RE_POSSESSIVE, " 's ")
    .replace(RE_POSSESSIVE_END, " 's")
    .replace(RE_DOT_AFTER, '$1 $2 ')
    .replace(RE_DOT_BEFORE, ' $1 $2')
    .replace(RE_DASH, '$1 $2 ');
}

const ASIAN_PUNCT = /([\u3001\u3002\u3008-\u3011\u3014-\u301f\uff61-\uff65\u30fb])/g;
const FULL_WIDTH_PUNCT = /([\uff0e\uff0c\uff1f\uff1a\uff1b\uff01\uff02\uff08\uff09])/g;
const RE_ASIAN_SPLIT = [
  /([\u4e00-\u9fff\u3400-\u4dbf])/g, // CJK unified ideographs and extension A
  /([\u31c0-\u31ef\u2e80-\u2eff])/g, // strokes, radicals supplement
  /([\u3300-\u33ff\uf900-\ufaff\ufe30-\ufe4f])/g, // compatibility, compatibility ideographs and forms
  /([\u3200-\u3f22])/g, // enclosed letters and months, as far as sacrebleu's range goes
];
const RE_KANA = [
  /(^|^[\u3040-\u309f])([\u3040-\u309f]+)(?=$|^[\u3040-\u309f])/g,
  /(^|^[\u30a0-\u30ff])([\u30a0-\u30ff]+)(?=$|^[\u30a0-\u30ff])/g,
  /(^|^[\u31f0-\u31ff])([\u31f0-\u31ff]+)(?=$|^[\u31f0-\u31ff])/g,
];

function normalizeAsian(s: string): string {
  for (const re of RE_ASIAN_SPLIT) s = s.replace(re, ' $1 ');
  for (const re of RE_KANA) s = s.replace(re, '$1 $2 ');
  return s.replace(ASIAN_PUNCT, ' $1 ').replace(FULL_WIDTH_PUNCT, ' $1 ');
}

const RE_REMOVE_PUNCT = /[.,?:;!"()]/g;

/**
 * Tokenizes one (already right-stripped) line as sacrebleu's TercomTokenizer and returns the words.
 * Its signature name is `tercom`.
 */
export function terTokens(line: string, options: Required<TerTokenizerOptions>): string[] {
  if (line.length === 0) return [];
  let s = options.caseSensitive ? line : line.toLowerCase();
  if (options.normalized) {
    s = normalizeWestern(s);
    if (options.asianSupport) s = normalizeAsian(s);
  }
  if (options.noPunct) {
    s = s.replace(RE_REMOVE_PUNCT, '');
    if (options.asianSupport) s = s.replace(ASIAN_PUNCT, '').replace(FULL_WIDTH_PUNCT, '');
  }
  return pySplit(s);
}
