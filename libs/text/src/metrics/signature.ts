/**
 * sacrebleu's reproducibility signature: `key:value` pairs joined by `|`, metric-specific keys in
 * sacrebleu's order, `nrefs` first and `version` last (sacrebleu/metrics/base.py, `Signature`).
 * The version is that of the sacrebleu release whose behaviour this package reproduces, so a
 * signature printed here can be compared with one printed by that release.
 */

/**
 * The sacrebleu version whose behaviour this package reproduces (the parity test checks the peer
 * it runs against is this version). Bump it only together with a parity run against the new one.
 */
export const SACREBLEU_VERSION = '2.6.0';

/**
 * Number of references per segment in a signature: a count, or `'var'` when it varies.
 */
export type NumRefs = number | 'var';

/** Formats a signature from `[key, value]` pairs placed between `nrefs` and `version`. */
export function formatSignature(numRefs: NumRefs, pairs: readonly (readonly [string, string])[]): string {
  let out = `nrefs:${numRefs}`;
  for (const [k, v] of pairs) out += `|${k}:${v}`;
  return `${out}|version:${SACREBLEU_VERSION}`;
}

/** sacrebleu writes booleans in signatures as yes/no. */
export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}
