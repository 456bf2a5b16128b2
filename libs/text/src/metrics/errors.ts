/**
 * Typed errors of the metrics. Options are checked once, when a metric is constructed, so a bad
 * name or range fails before any scoring; inputs are checked per call. Neither is retried: both
 * map to INVALID_ARGUMENT at a service boundary.
 */

/** A metric option is out of its domain (e.g. `charOrder: 0`). `option` names the field. */
export class MetricOptionError extends Error {
  override readonly name: string = 'MetricOptionError';
  /** The option's field name, e.g. `smoothMethod`. */
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, options);
    this.option = option;
  }
}

/** The BLEU `tokenize` option names no tokenizer this package implements. */
export class UnknownTokenizerError extends MetricOptionError {
  override readonly name: string = 'UnknownTokenizerError';
  /** The rejected name. */
  readonly tokenizer: string;
  constructor(tokenizer: string, known: readonly string[]) {
    super('tokenize', `unknown tokenizer ${JSON.stringify(tokenizer)} (known: ${known.join(', ')})`);
    this.tokenizer = tokenizer;
  }
}

/**
 * Inputs cannot be scored: no references, reference streams whose length differs from the
 * hypotheses', an empty corpus, or a prepared reference used with a metric configured differently.
 */
export class MetricInputError extends Error {
  override readonly name: string = 'MetricInputError';
}
