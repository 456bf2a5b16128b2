import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rawFp32, splitRawBytes, utf8 } from './oip-tensors.js';

describe('OIP tensors', () => {
  it('splitRawBytes: 4-byte little-endian lengths, empty elements allowed', () => {
    const raw = Buffer.from([2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0, 1, 0, 0, 0, 0x21]);
    const parts = splitRawBytes(raw);
    assert.ok(Array.isArray(parts));
    assert.deepEqual(
      parts.map((p) => utf8(p)),
      ['hi', '', '!'],
    );
    assert.deepEqual(splitRawBytes(new Uint8Array()), []);
  });

  it('splitRawBytes: names the element whose prefix or bytes are cut short', () => {
    assert.match(
      splitRawBytes(Buffer.from([1, 0, 0, 0, 0x41, 5, 0])) as string,
      /^element 1: truncated length prefix/,
    );
    assert.match(
      splitRawBytes(Buffer.from([3, 0, 0, 0, 0x41])) as string,
      /^element 0: length 3 runs past the end/,
    );
  });

  it('utf8: refuses invalid UTF-8; rawFp32 writes little-endian floats', () => {
    assert.equal(utf8(Buffer.from([0xc3, 0x28])), undefined);
    assert.equal(utf8(Buffer.from('Straße', 'utf8')), 'Straße');
    const raw = rawFp32([1.5, -2]);
    assert.deepEqual([raw.readFloatLE(0), raw.readFloatLE(4)], [1.5, -2]);
  });
});
