/** Typed errors raised while building, differentiating or running graphs. */

/** An op was given operands whose shapes do not fit; the message names the op and the shapes. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** An op was given an operand of a dtype it does not accept. */
export class DTypeError extends Error {
  override name = 'DTypeError';
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** A graph was used inconsistently (tensors from two graphs, duplicate input names, ...). */
export class GraphError extends Error {
  override name = 'GraphError';
}

/** Differentiation reached an op that has no gradient rule for the requested input. */
export class NoGradientError extends Error {
  override name = 'NoGradientError';
}
