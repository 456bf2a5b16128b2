/**
 * Input checks shared by the repositories. Each check appends a violation instead of throwing, so a
 * caller learns every problem at once (STYLE.md §5); `throwIfAny` raises one InvalidArgumentError.
 */
import { InvalidArgumentError, type FieldViolation } from '@rest/service-kit';

/** Identifiers (run ids, dataset names, owners, aliases): safe in `/`-joined keys and field paths. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Collects field violations for one call. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  /** Records `problem` for `field`. */
  add(field: string, problem: string): void {
    this.list.push({ field, problem });
  }

  /** Requires an identifier: 1-128 of `[A-Za-z0-9_.:-]`, starting alphanumeric. */
  id(field: string, value: unknown): void {
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      this.add(field, 'must be 1-128 characters of [A-Za-z0-9_.:-], starting with a letter or digit');
    }
  }

  /** Requires an integer in [min, max]. */
  int(field: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.add(field, `must be an integer in [${min}, ${max}]`);
    }
  }

  /** Requires a finite number. */
  finite(field: string, value: unknown): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.add(field, 'must be a finite number');
  }

  /** Requires a string (possibly empty when `allowEmpty`). */
  text(field: string, value: unknown, allowEmpty = false): void {
    if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
      this.add(field, allowEmpty ? 'must be a string' : 'must be a non-empty string');
    }
  }

  /** Throws one InvalidArgumentError listing every violation, if any were recorded. */
  throwIfAny(): void {
    if (this.list.length > 0) throw InvalidArgumentError.fromViolations(this.list);
  }
}

/** Throws InvalidArgumentError unless `value` is an identifier (see {@link Violations.id}). */
export function requireId(field: string, value: string): void {
  const v = new Violations();
  v.id(field, value);
  v.throwIfAny();
}
