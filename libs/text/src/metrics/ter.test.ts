import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricInputError } from './errors.js';
import { corpusTer, sentenceTer, Ter } from './ter.js';

// Expected values were printed by sacrebleu 2.6.0's sentence_ter.
describe('TER', () => {
  it('sentenceTer: a block shift costs one edit', () => {
    const s = sentenceTer('a b c d e f', ['a b d e c f']);
    assert.equal(s.numEdits, 1);
    assert.equal(s.score, 16.666666666666664);
  });

  it('sentenceTer: empty reference scores 100 against words and 0 against nothing', () => {
    assert.deepEqual(sentenceTer('the cat', ['']), { score: 100, numEdits: 2, refLength: 0 });
    assert.equal(sentenceTer('', ['']).score, 0);
  });

  it('sentenceTer: case-insensitive unless caseSensitive', () => {
    assert.equal(sentenceTer('A B', ['a b']).score, 0);
    assert.equal(sentenceTer('A B', ['a b'], { caseSensitive: true }).score, 100);
  });

  it('sentenceTer: best edits over references, divided by their mean length', () => {
    const s = sentenceTer('x', ['a b', 'x y z']);
    assert.equal(s.score, 80);
    assert.equal(s.refLength, 2.5);
  });

  it('Ter.tokens: normalization splits punctuation and possessives, noPunct removes some', () => {
    assert.deepEqual(new Ter({ normalized: true }).tokens("John's car, 3.5 km."), [
      'john',
      "'s",
      'car',
      ',',
      '3.5',
      'km',
      '.',
    ]);
    assert.deepEqual(new Ter({ noPunct: true }).tokens('Hi, (you)!'), ['hi', 'you']);
    assert.deepEqual(new Ter({ normalized: true, asianSupport: true }).tokens('我们走。'), [
      '我',
      '们',
      '走',
      '。',
    ]);
  });

  it('Ter.signature follows sacrebleu', () => {
    assert.equal(
      new Ter().signature(2),
      'nrefs:2|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0',
    );
  });

  it('Ter: rejects missing references and foreign prepared references', () => {
    assert.throws(() => sentenceTer('a', []), MetricInputError);
    assert.throws(() => corpusTer([], []), MetricInputError);
    const ref = new Ter().prepare(['a']);
    assert.throws(() => new Ter().sentenceScore('a', ref), MetricInputError);
    const m = new Ter();
    assert.deepEqual(m.sentenceScore('b a', m.prepare(['a b'])), m.sentenceScore('b a', ['a b']));
  });
});
