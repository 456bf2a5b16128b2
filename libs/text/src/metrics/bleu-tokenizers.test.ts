import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bleuTokenizer } from './bleu-tokenizers.js';
import { MetricOptionError, UnknownTokenizerError } from './errors.js';

const t13a = bleuTokenizer('13a');
const intl = bleuTokenizer('intl');

describe('bleu tokenizers', () => {
  it('13a: splits punctuation, keeps periods and commas between digits, splits a dash after a digit', () => {
    assert.equal(
      t13a.tokenize('Hello, world! It costs $3.50 (or 1,000).'),
      'Hello , world ! It costs $ 3.50 ( or 1,000 ) .',
    );
    assert.equal(t13a.tokenize('5-6 well-known'), '5 - 6 well-known');
    assert.equal(t13a.tokenize("don't"), "don't");
  });

  it('13a: unescapes four XML entities, drops <skipped> and joins hyphenated line breaks (dropping the hyphen)', () => {
    assert.equal(
      t13a.tokenize('a &amp; b &quot;c&quot; &lt;d&gt; <skipped> well-\nknown'),
      'a & b " c " < d > wellknown',
    );
    assert.equal(t13a.tokenize('&amp;quot;'), '& quot ;');
  });

  it('13a: reproduces the non-overlapping substitution quirk on "a.,b"', () => {
    assert.equal(t13a.tokenize('a.,b'), 'a . , b');
    assert.equal(t13a.tokenize('1.,2'), '1 . , 2');
  });

  it('13a: equals the literal regex chain of tokenizer_re.py on 20,000 random lines', () => {
    // sacrebleu's patterns verbatim (its first class includes the space, which ours skips)
    const chain = (line: string) =>
      ` ${line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ').replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>')} `
        .replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ')
        .replace(/([^0-9])([.,])/g, '$1 $2 ')
        .replace(/([.,])([^0-9])/g, ' $1 $2')
        .replace(/([0-9])(-)/g, '$1 $2 ')
        .split(/[ \t\n]+/)
        .filter((t) => t.length > 0)
        .join(' ');
    const alphabet = [
      ' ',
      ' ',
      '.',
      ',',
      '-',
      '1',
      '2',
      'a',
      'b',
      '(',
      ')',
      '&',
      "'",
      '\n',
      '<',
      '$',
      '/',
      ';',
      'é',
      '😀',
      '\t',
      '&amp;',
    ];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let k = 0; k < 20000; k++) {
      let line = '';
      for (let len = rand(14); len > 0; len--) line += alphabet[rand(alphabet.length)]!;
      assert.equal(t13a.tokenize(line), chain(line), JSON.stringify(line));
    }
  });

  it('intl: splits Unicode punctuation unless between digits, and every symbol (² is a number)', () => {
    assert.equal(intl.tokenize('«Hallo», sagte er… 1.000,5 km²'), '« Hallo » , sagte er … 1.000,5 km²');
    assert.equal(intl.tokenize('year 2019.'), 'year 2019.');
    assert.equal(intl.tokenize('a€b'), 'a € b');
  });

  it('char: one token per non-whitespace code point', () => {
    assert.deepEqual(bleuTokenizer('char').tokens('a b😀'), ['a', 'b', '😀']);
  });

  it('none: whitespace splitting only', () => {
    assert.equal(bleuTokenizer('none').tokenize(' a,b  c '), 'a,b c');
  });

  it('bleuTokenizer: rejects an unknown name with UnknownTokenizerError', () => {
    assert.throws(
      () => bleuTokenizer('zh'),
      (e: unknown) =>
        e instanceof UnknownTokenizerError &&
        e instanceof MetricOptionError &&
        e.name === 'UnknownTokenizerError' &&
        e.tokenizer === 'zh',
    );
    assert.throws(() => bleuTokenizer('toString'), UnknownTokenizerError);
  });
});
