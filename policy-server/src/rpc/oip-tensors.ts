/**
 * The Open Inference Protocol's tensor encodings that the policy server reads and writes:
 *
 * - BYTES, typed: `contents.bytes_contents`, one entry per element.
 * - BYTES, raw: one `raw_input_contents` (or `raw_output_contents`) entry per tensor, holding every
 *   element as a 4-byte little-endian length followed by that many bytes (Triton's and KServe's
 *   layout), no padding.
 * - FP32, raw: 4-byte little-endian floats.
 *
 * Text is UTF-8; invalid UTF-8 is refused rather than replaced, so nothing is translated that the
 * caller did not send. (The reward server has the same helpers; they stay per service until a third
 * OIP server makes them worth a shared module.)
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Splits a raw BYTES tensor into its elements, or returns a problem string. */
export function splitRawBytes(raw: Uint8Array): Uint8Array[] | string {
  const elements: Uint8Array[] = [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let offset = 0;
  while (offset < raw.byteLength) {
    if (offset + 4 > raw.byteLength) {
      return `element ${elements.length}: truncated length prefix at byte ${offset} (each element is a 4-byte little-endian length, then its bytes)`;
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > raw.byteLength) {
      return `element ${elements.length}: length ${length} runs past the end of the tensor (${raw.byteLength - offset} bytes left)`;
    }
    elements.push(raw.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

/** Texts as one raw BYTES tensor: each a 4-byte little-endian length, then its UTF-8 bytes. */
export function rawBytes(texts: readonly string[]): Buffer {
  return Buffer.concat(
    texts.flatMap((t) => {
      const bytes = Buffer.from(t, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length, 0);
      return [length, bytes];
    }),
  );
}

/** Decodes one BYTES element as UTF-8 text, or returns undefined when it is not valid UTF-8. */
export function utf8(element: Uint8Array): string | undefined {
  try {
    return UTF8.decode(element);
  } catch {
    return undefined;
  }
}

/** FP32 values as raw little-endian bytes. */
export function rawFp32(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}
