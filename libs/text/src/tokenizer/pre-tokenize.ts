/**
 * The normalisation and pre-tokenisation our BPE vocabularies are trained under, written out once so
 * that the trainer and its reference encoder agree with the `tokenizer.json` they describe:
 * NFKC, then SentencePiece's Metaspace (every " " becomes "▁", one "▁" is prepended unless the text
 * already starts with one) and a split before each "▁". Neither tokenizers.js nor the Rust crate needs
 * the split to be explicit: no learned merge can join across a "▁" boundary, so BPE over the whole
 * string and BPE per word give the same tokens.
 */

/** SentencePiece's word-boundary mark (U+2581), which stands for a space inside tokens. */
export const METASPACE = '\u2581';

/** NFKC, then spaces to "▁" with one "▁" prepended unless already there (Metaspace, prepend "always"). */
export function metaspaceNormalize(text: string): string {
  const replaced = text.normalize('NFKC').replaceAll(' ', METASPACE);
  return replaced.startsWith(METASPACE) ? replaced : METASPACE + replaced;
}

/** Splits a `metaspaceNormalize`d string before every "▁"; each word keeps its leading "▁". */
export function metaspaceWords(normalized: string): string[] {
  const words: string[] = [];
  let start = 0;
  for (let i = 1; i < normalized.length; i++) {
    if (normalized.charCodeAt(i) === 0x2581) {
      words.push(normalized.slice(start, i));
      start = i;
    }
  }
  if (normalized.length > 0) words.push(normalized.slice(start));
  return words;
}
