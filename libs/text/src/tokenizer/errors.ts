/** A `tokenizer.json` / `tokenizer_config.json` pair that cannot be used: malformed, or lacking a token we need. */
export class TokenizerFormatError extends Error {
  override readonly name = 'TokenizerFormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Trainer options that cannot produce a vocabulary (for example a vocab size below specials + bytes + alphabet). */
export class TokenizerTrainingError extends Error {
  override readonly name = 'TokenizerTrainingError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
