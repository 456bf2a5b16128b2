import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codePointsInto, isPyWhitespace, pyFixed2, pyRstrip, pySplit } from './py-string.js';

describe('py-string', () => {
  it('pySplit: splits on Python whitespace, which includes U+001C and U+0085 but not U+FEFF', () => {
    assert.deepEqual(pySplit('  a\u001cb\u0085c\u00a0d\u3000e\tf\n'), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(pySplit('a\ufeffb'), ['a\ufeffb']);
    assert.deepEqual(pySplit(''), []);
    assert.deepEqual(pySplit(' \n\t '), []);
  });

  it('isPyWhitespace: agrees with str.isspace() on the BMP boundaries', () => {
    for (const c of [
      0x09, 0x0d, 0x1c, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f,
      0x3000,
    ]) {
      assert.ok(isPyWhitespace(c), c.toString(16));
    }
    for (const c of [0x08, 0x0e, 0x1b, 0x21, 0x84, 0x180e, 0x200b, 0xfeff])
      assert.ok(!isPyWhitespace(c), c.toString(16));
  });

  it('pyRstrip: strips trailing Python whitespace only', () => {
    assert.equal(pyRstrip(' a b \u0085\n'), ' a b');
    assert.equal(pyRstrip('a\ufeff'), 'a\ufeff');
  });

  it('codePointsInto: counts an emoji as one character and can drop whitespace', () => {
    const { buf, length } = codePointsInto('a 😀b', true, new Int32Array(1));
    assert.deepEqual([...buf.subarray(0, length)], [0x61, 0x1f600, 0x62]);
    assert.equal(codePointsInto('a 😀b', false, new Int32Array(8)).length, 4);
  });

  it('pyFixed2: rounds exact ties to even as Python does', () => {
    assert.equal(pyFixed2(0.125), '0.12');
    assert.equal(pyFixed2(0.375), '0.38');
    assert.equal(pyFixed2(0.1), '0.10');
    assert.equal(pyFixed2(1), '1.00');
    assert.equal(pyFixed2(2.675), '2.67'); // 2.67499999... in binary: not a tie
  });
});
