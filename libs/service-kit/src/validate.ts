/**
 * Input validation at the edge (STYLE.md §5): collect every problem with its field path, then throw
 * one `InvalidArgumentError` that lists them all. Each check returns the value it checked (narrowed
 * where it can, e.g. `oneOf`), so an adapter parses a wire message into a domain value in one pass:
 *
 *   const request = validate((v) => ({
 *     sources: v.each('GenerateRequest.sources', wire.sources, (path, s) => v.maxLength(path, v.nonEmpty(path, s), 1024)),
 *     n: v.integer('GenerateRequest.n', wire.n, 1, 64),
 *   }));
 *
 * When a check fails its return value is meaningless; `validate()` / `throwIfAny()` make sure it is
 * never used. proto3 reads "unset" as `""` or `0`, which is why `nonEmpty` and ranges exist.
 */
import { InvalidArgumentError, type FieldViolation } from './errors.js';

/** Most violations listed in one error; the rest are counted, so a 10k-item batch cannot make a 1 MB message. */
const MAX_LISTED = 50;

/** Accumulates field violations; see the module comment. */
export class Violations {
  private readonly list: FieldViolation[] = [];
  private dropped = 0;

  /** Number of violations recorded so far. */
  get count(): number {
    return this.list.length + this.dropped;
  }

  /** Records one violation. `field` is a path such as `GenerateRequest.sources[3]`. */
  add(field: string, problem: string): void {
    if (this.list.length < MAX_LISTED) this.list.push({ field, problem });
    else this.dropped++;
  }

  /** Checks that a string is not empty (whitespace counts as empty). */
  nonEmpty(field: string, value: string): string {
    if (value.trim() === '') this.add(field, 'must be non-empty');
    return value;
  }

  /** Checks that a string has at most `max` UTF-16 code units. */
  maxLength(field: string, value: string, max: number): string {
    if (value.length > max) this.add(field, `must be at most ${max} characters (got ${value.length})`);
    return value;
  }

  /** Checks that a list has between `min` and `max` items, inclusive, and returns it. */
  items<T>(field: string, values: readonly T[], min: number, max: number): readonly T[] {
    if (values.length < min || values.length > max) {
      this.add(field, `must have ${min === max ? min : `${min} to ${max}`} items (got ${values.length})`);
    }
    return values;
  }

  /** Checks that a finite number lies in `[min, max]`, inclusive. */
  range(field: string, value: number, min: number, max: number): number {
    if (!Number.isFinite(value) || value < min || value > max)
      this.add(field, `must be in [${min}, ${max}] (got ${value})`);
    return value;
  }

  /** Checks that a number is an integer in `[min, max]`, inclusive. */
  integer(field: string, value: number, min: number, max: number): number {
    if (!Number.isInteger(value)) this.add(field, `must be an integer (got ${value})`);
    else this.range(field, value, min, max);
    return value;
  }

  /** Checks that a value is one of `allowed` and narrows it to their union. */
  oneOf<const T extends string | number>(field: string, value: string | number, allowed: readonly T[]): T {
    if (!(allowed as readonly (string | number)[]).includes(value)) {
      this.add(
        field,
        `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${JSON.stringify(value)})`,
      );
    }
    return value as T;
  }

  /** Checks that a message field is set (proto3 leaves unset messages `undefined`) and narrows it. */
  required<T>(field: string, value: T | undefined | null): T {
    if (value === undefined || value === null) this.add(field, 'is required');
    return value as T;
  }

  /** Parses each item of a list with `parse(path, item)`, where path is `field[i]`. */
  each<T, R>(field: string, values: readonly T[], parse: (path: string, item: T, index: number) => R): R[] {
    return values.map((item, index) => parse(`${field}[${index}]`, item, index));
  }

  /** The violations recorded so far (at most 50 listed). */
  get violations(): readonly FieldViolation[] {
    return this.list;
  }

  /**
   * @throws InvalidArgumentError listing every violation (and how many were left out), if any were recorded
   */
  throwIfAny(): void {
    if (this.count === 0) return;
    const listed =
      this.dropped === 0
        ? this.list
        : [...this.list, { field: '…', problem: `and ${this.dropped} more violations` }];
    throw InvalidArgumentError.fromViolations(listed);
  }
}

/**
 * Runs `parse` with a fresh collector and returns its result when nothing was violated.
 * @throws InvalidArgumentError listing every violation recorded during `parse`
 */
export function validate<T>(parse: (v: Violations) => T): T {
  const v = new Violations();
  const result = parse(v);
  v.throwIfAny();
  return result;
}
