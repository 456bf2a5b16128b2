/**
 * Checks the run-spec adapters share on top of service-kit's `Violations`: open and half-open
 * intervals, proto3's "0 means the default" numbers, and wire enums mapped onto domain strings.
 * Like `Violations`' own checks, each records a problem and returns a value that is meaningless
 * when it failed (`validate()` then throws before anyone uses it).
 */
import type { Violations } from '@rest/service-kit';

/** Which ends of an interval belong to it: `[]` closed, `()` open, and the two half-open forms. */
export type IntervalEnds = '[]' | '(]' | '[)' | '()';

/** Checks that `value` is finite and lies in the interval `min`..`max` with the given ends. */
export function interval(
  v: Violations,
  field: string,
  value: number,
  min: number,
  max: number,
  ends: IntervalEnds,
): number {
  const lowOk = ends[0] === '[' ? value >= min : value > min;
  const highOk = ends[1] === ']' ? value <= max : value < max;
  if (!Number.isFinite(value) || !lowOk || !highOk) {
    v.add(field, `must be in ${ends[0]}${min}, ${max}${ends[1]} (got ${value})`);
  }
  return value;
}

/** Checks that `value` is finite and > 0. */
export function positive(v: Violations, field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) v.add(field, `must be > 0 (got ${value})`);
  return value;
}

/** Checks that `value` is finite and ≥ 0. */
export function nonNegative(v: Violations, field: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) v.add(field, `must be >= 0 (got ${value})`);
  return value;
}

/** proto3's convention for plain scalars: 0 reads as `fallback`, anything else goes through `check`. */
export function orDefault(value: number, fallback: number, check: (value: number) => number): number {
  return value === 0 ? fallback : check(value);
}

/**
 * Maps a wire enum value onto its domain value through `table`; a value missing from it
 * (UNRECOGNIZED, or a number this build does not know) is a violation that names the accepted
 * values with `name` (the generated `xxxToJSON`).
 */
export function wireEnum<K extends number, T>(
  v: Violations,
  field: string,
  value: K,
  table: ReadonlyMap<number, T>,
  name: (value: K) => string,
): T {
  // has(), not get() === undefined: UNSPECIFIED may map to undefined ("the caller's default").
  if (!table.has(value)) {
    const accepted = [...table.keys()].map((k) => name(k as K)).join(', ');
    v.add(field, `must be one of ${accepted} (got ${value})`);
  }
  return table.get(value) as T;
}

/**
 * Checks that each entry is greater than the one before it, naming the list entry by entry:
 * `field[2]: must be greater than thresholds[1] (0.8 <= 0.8)`.
 */
export function strictlyIncreasing(v: Violations, field: string, values: readonly number[]): void {
  const name = field.slice(field.lastIndexOf('.') + 1);
  for (let k = 1; k < values.length; k++) {
    const previous = values[k - 1] as number;
    const current = values[k] as number;
    if (!(current > previous))
      v.add(`${field}[${k}]`, `must be greater than ${name}[${k - 1}] (${current} <= ${previous})`);
  }
}
