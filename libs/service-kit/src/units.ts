/**
 * Parsers for the human-written quantities in config: durations ("30s", "500ms", "1m30s") and byte
 * sizes ("64MiB", "512KiB", "100MB"). Each is parsed once, at config load, into an integer number of
 * milliseconds or bytes; nothing downstream sees the strings.
 *
 * Bare numbers are rejected on purpose: `timeout: 30` could mean seconds or milliseconds, and a
 * config that guesses is a config that is wrong in production.
 */

const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/**
 * Parses a duration such as `"30s"`, `"500ms"`, `"2m"`, `"1h"` or `"1m30s"` into milliseconds.
 * Units: `ms`, `s`, `m`, `h`; parts may be chained from largest to smallest and may carry decimals.
 *
 * @returns the duration in whole milliseconds (≥ 0)
 * @throws RangeError when the text is not a duration, has no unit, or is not a whole number of ms
 */
export function parseDurationMs(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '') throw new RangeError('expected a duration such as "30s" or "500ms", got ""');
  let totalMs = 0;
  let consumed = 0;
  DURATION_PART.lastIndex = 0;
  for (let match = DURATION_PART.exec(trimmed); match !== null; match = DURATION_PART.exec(trimmed)) {
    const amount = Number(match[1]);
    const unit = match[2] as keyof typeof DURATION_UNIT_MS;
    totalMs += amount * DURATION_UNIT_MS[unit];
    consumed = DURATION_PART.lastIndex;
  }
  if (consumed !== trimmed.length) {
    throw new RangeError(
      `expected a duration with a unit (ms, s, m, h) such as "30s" or "500ms", got "${text}"`,
    );
  }
  const rounded = Math.round(totalMs);
  if (Math.abs(rounded - totalMs) > 1e-9 || !Number.isSafeInteger(rounded)) {
    throw new RangeError(`duration "${text}" is not a whole number of milliseconds`);
  }
  return rounded;
}

const BYTE_UNITS = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
} as const;
const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;

/**
 * Parses a byte size such as `"64MiB"`, `"512KiB"`, `"100MB"` or `"4096B"` into bytes.
 * `KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`MB`/`GB` powers of 1000; the unit is required and
 * case-sensitive (so `"mb"` — millibits? — is an error, not a guess).
 *
 * @returns the size in whole bytes (≥ 0)
 * @throws RangeError when the text is not a size with a unit or is not a whole number of bytes
 */
export function parseBytes(text: string): number {
  const match = BYTE_SIZE.exec(text.trim());
  if (match === null) {
    throw new RangeError(
      `expected a byte size with a unit (B, KB, MB, GB, KiB, MiB, GiB) such as "64MiB", got "${text}"`,
    );
  }
  const bytes = Number(match[1]) * BYTE_UNITS[match[2] as keyof typeof BYTE_UNITS];
  if (!Number.isSafeInteger(bytes))
    throw new RangeError(`byte size "${text}" is not a whole number of bytes`);
  return bytes;
}
