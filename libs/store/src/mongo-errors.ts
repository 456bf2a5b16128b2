/**
 * Recognising the driver errors the store turns into outcomes: a duplicate key (E11000) is how an
 * idempotent insert learns that its document already exists, and how a lease or version claim learns
 * that it lost; an unreachable server becomes `UnavailableError` so callers may retry.
 */
import { MongoBulkWriteError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { UnavailableError } from '@rest/service-kit';

const DUPLICATE_KEY = 11000;

/** True when `err` is a single write's duplicate key error (E11000). */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === DUPLICATE_KEY;
}

/**
 * For an unordered bulk insert: the number of documents rejected as duplicates when every write
 * error is E11000, or `undefined` when the error is anything else (the caller rethrows).
 */
export function duplicatesOnly(err: unknown): number | undefined {
  if (err instanceof MongoBulkWriteError) {
    const raw: unknown = err.writeErrors;
    const errors: unknown[] = Array.isArray(raw) ? raw : [raw];
    if (errors.length > 0 && errors.every(isDuplicateKeyError)) return errors.length;
    return undefined;
  }
  return isDuplicateKeyError(err) ? 1 : undefined;
}

/** Rethrows connection failures as `UnavailableError` (retryable), anything else unchanged. */
export function mapDriverError(err: unknown, what: string): never {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) {
    throw new UnavailableError(`${what}: database unreachable`, { cause: err });
  }
  throw err;
}
