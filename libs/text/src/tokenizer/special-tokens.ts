/**
 * The special tokens of the vocabularies we train, at fixed ids, and the 256 byte-fallback tokens that
 * follow them. The ids are part of the policy bundle contract: `<pad>` = 0 is also Marian's
 * `decoder_start_token_id`, and `</s>` ends every source and target sequence.
 */
export const SPECIAL_TOKENS = {
  pad: '<pad>',
  eos: '</s>',
  unk: '<unk>',
} as const;

/** Ids of `SPECIAL_TOKENS` in every vocabulary `trainBpe` produces. */
export const SPECIAL_TOKEN_IDS = {
  pad: 0,
  eos: 1,
  unk: 2,
} as const;

/** Id of the first byte-fallback token `<0x00>`; `<0xNN>` has id `BYTE_TOKEN_OFFSET + 0xNN`. */
export const BYTE_TOKEN_OFFSET = 3;

/** SentencePiece's spelling of a fallback byte, which the `ByteFallback` decoder turns back into bytes. */
export function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}
