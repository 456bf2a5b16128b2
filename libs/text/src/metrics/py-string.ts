/**
 * The few pieces of Python `str` behaviour that sacrebleu's results depend on, reproduced for JS
 * strings: `str.split()` with no argument, `str.rstrip()`, and indexing by code point rather than
 * by UTF-16 unit.
 *
 * Python's whitespace (what `str.isspace()` accepts, Unicode 14 in CPython 3.11) differs from JS
 * `\s`: it includes U+001C..U+001F and U+0085 and excludes U+FEFF. A token that JS would split on
 * U+FEFF is one token to sacrebleu, so every split in this package goes through here. All Python
 * whitespace lies in the BMP, so scanning UTF-16 units is exact (a surrogate is never whitespace).
 *
 * Lower-casing is `String.prototype.toLowerCase`, which, like Python's `str.lower`, applies the
 * full Unicode mappings (İ → i̇) and the final-sigma rule; the parity test checks it on real text.
 */

/**
 * Whether a UTF-16 unit is whitespace to Python's `str.isspace()`.
 * @param code a UTF-16 code unit (0..0xFFFF).
 */
export function isPyWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x1f);
  if (code < 0x85) return false;
  if (code === 0x85 || code === 0xa0) return true;
  if (code < 0x1680) return false;
  return (
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/**
 * Python's `s.split()`: the runs of non-whitespace, with no empty strings.
 * @param s any string; `""` and all-whitespace strings give `[]`.
 */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && isPyWhitespace(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isPyWhitespace(s.charCodeAt(i))) i++;
    out.push(s.slice(start, i));
  }
  return out;
}

/**
 * Python's `s.rstrip()`: `s` without trailing Python whitespace.
 * @param s any string.
 */
export function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && isPyWhitespace(s.charCodeAt(end - 1))) end--;
  return end === s.length ? s : s.slice(0, end);
}

/**
 * Writes the code points of `s` into `out` (grown when too small) and returns the buffer and the
 * count: Python indexes strings by code point, so character n-grams must too (an emoji is one
 * character to chrF, two UTF-16 units to JS).
 * @param s the text.
 * @param skipWhitespace drop Python whitespace, as `''.join(s.split())` does.
 * @param out a reusable buffer.
 */
export function codePointsInto(
  s: string,
  skipWhitespace: boolean,
  out: Int32Array,
): { buf: Int32Array; length: number } {
  const buf = out.length >= s.length ? out : new Int32Array(Math.max(s.length, out.length * 2));
  let k = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
      }
    } else if (skipWhitespace && isPyWhitespace(c)) {
      continue;
    }
    buf[k++] = c;
  }
  return { buf, length: k };
}

/**
 * Formats `x` as Python's `f"{x:.2f}"`: like `toFixed(2)`, except that an exact tie rounds half
 * to even (Python gives `0.12` for 0.125 where `toFixed` gives `0.13`).
 * @param x a finite number.
 */
export function pyFixed2(x: number): string {
  const eighths = x * 8; // exact: a power-of-two scale
  if (Number.isInteger(eighths) && Math.abs(eighths) % 2 === 1 && Math.abs(x) < 2 ** 40) {
    // x = k + odd/8: x*100 is an exact .5 tie
    const hundredths = x * 100;
    const lo = Math.floor(hundredths);
    const even = lo % 2 === 0 ? lo : lo + 1;
    return (even / 100).toFixed(2);
  }
  return x.toFixed(2);
}
