import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Chrf, chrfWords, corpusChrf, sentenceChrf } from './chrf.js';
import { MetricInputError, MetricOptionError } from './errors.js';

// Expected values were printed by sacrebleu 2.6.0's sentence_chrf.
describe('chrF', () => {
  it('sentenceChrf: chrF2 and chrF2++ of a truncated hypothesis', () => {
    assert.equal(sentenceChrf('the cat sat', ['the cat sat on the mat']).score, 49.59348409966008);
    assert.equal(
      sentenceChrf('the cat sat', ['the cat sat on the mat'], { wordOrder: 2 }).score,
      49.83595347043889,
    );
  });

  it('sentenceChrf: an empty hypothesis scores 0; orders the reference lacks do not count', () => {
    assert.equal(sentenceChrf('', ['abc']).score, 0);
    assert.equal(sentenceChrf('a', ['a']).score, 100);
  });

  it('sentenceChrf: eps smoothing averages per-order F-scores, unseen orders scoring ~0', () => {
    assert.equal(sentenceChrf('ab', ['ab'], { epsSmoothing: true }).score, 33.333333333333336);
  });

  it('Chrf: takes the statistics of the best-scoring reference', () => {
    const m = new Chrf();
    assert.deepEqual(m.segmentStatistics('x y', ['zz', 'x y']), m.segmentStatistics('x y', ['x y']));
  });

  it('Chrf: counts an astral character once and ignores whitespace unless asked', () => {
    assert.equal(sentenceChrf('😀 a', ['😀a']).score, 100);
    assert.ok(sentenceChrf('😀 a', ['😀a'], { whitespace: true }).score < 100);
  });

  it('chrfWords: splits one edge punctuation mark per token, the final one first', () => {
    assert.deepEqual(chrfWords('(hi) "a" b, . c!'), ['(hi', ')', '"a', '"', 'b', ',', '.', 'c', '!']);
  });

  it('Chrf.signature and name follow sacrebleu', () => {
    const m = new Chrf({ wordOrder: 2 });
    assert.equal(m.signature(1), 'nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0');
    assert.equal(m.name, 'chrF2++');
  });

  it('Chrf: rejects bad options and inputs with typed errors', () => {
    assert.throws(() => new Chrf({ charOrder: 0 }), MetricOptionError);
    assert.throws(() => new Chrf({ wordOrder: -1 }), MetricOptionError);
    assert.throws(() => sentenceChrf('a', []), MetricInputError);
    assert.throws(() => corpusChrf(['a'], [['a', 'b']]), MetricInputError);
    const ref = new Chrf().prepare(['a']);
    assert.throws(() => new Chrf().sentenceScore('a', ref), MetricInputError);
  });
});
