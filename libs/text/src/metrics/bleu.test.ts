import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bleu, computeBleu, corpusBleu, sentenceBleu } from './bleu.js';
import { MetricInputError, MetricOptionError, UnknownTokenizerError } from './errors.js';

// Expected values were printed by sacrebleu 2.6.0's BLEU.compute_bleu / sentence_bleu.
describe('computeBleu', () => {
  it('computeBleu: no matches at all gives 0 before smoothing, leaving counts untouched (even add-k)', () => {
    const s = computeBleu([0, 0, 0, 0], [4, 3, 2, 1], 4, 5, { smoothMethod: 'add-k' });
    assert.equal(s.score, 0);
    assert.deepEqual(s.counts, [0, 0, 0, 0]);
    assert.deepEqual(s.precisions, [0, 0, 0, 0]);
    assert.equal(s.bp, 0.7788007830714049);
  });

  it('computeBleu: exp halves the pseudo-count for each further order without matches', () => {
    const s = computeBleu([3, 1, 0, 0], [4, 3, 2, 1], 4, 4, { smoothMethod: 'exp' });
    assert.deepEqual(s.precisions, [75, 33.333333333333336, 25, 25]);
    assert.equal(s.score, 35.35533905932737);
  });

  it('computeBleu: floor uses smoothValue (default 0.1) as the zero count', () => {
    const s = computeBleu([3, 1, 0, 0], [4, 3, 2, 1], 4, 4, { smoothMethod: 'floor' });
    assert.deepEqual(s.precisions, [75, 33.333333333333336, 5, 10]);
    assert.equal(s.score, 18.803015465431972);
  });

  it('computeBleu: add-k adds k (default 1) to counts and totals of orders above 1, and reports them', () => {
    const s = computeBleu([3, 1, 0, 0], [4, 3, 2, 1], 4, 4, { smoothMethod: 'add-k' });
    assert.deepEqual(s.counts, [3, 2, 1, 1]);
    assert.deepEqual(s.totals, [4, 4, 3, 2]);
    assert.equal(s.score, 50.000000000000014);
  });

  it('computeBleu: none lets a zero precision zero the score', () => {
    assert.equal(computeBleu([3, 1, 0, 0], [4, 3, 2, 1], 4, 4, { smoothMethod: 'none' }).score, 0);
  });

  it('computeBleu: effective order averages only over orders with hypothesis n-grams', () => {
    assert.equal(
      computeBleu([3, 2, 1, 0], [3, 2, 1, 0], 3, 5, { effectiveOrder: true }).score,
      51.341711903259224,
    );
    assert.equal(computeBleu([3, 2, 1, 0], [3, 2, 1, 0], 3, 5, { effectiveOrder: false }).score, 0);
  });

  it('computeBleu: an empty hypothesis has brevity penalty 0', () => {
    assert.equal(computeBleu([0, 0, 0, 0], [0, 0, 0, 0], 0, 3).bp, 0);
  });
});

describe('Bleu', () => {
  it('sentenceBleu: defaults to effective order, as sacrebleu.sentence_bleu', () => {
    const s = sentenceBleu('the cat sat', ['the cat sat on the mat']);
    assert.equal(s.score, 36.78794411714425);
    assert.deepEqual(s.counts, [3, 2, 1, 0]);
  });

  it('Bleu: picks the closest reference length, the shorter on ties', () => {
    const m = new Bleu();
    assert.equal(m.segmentStatistics('a b c', ['a b', 'a b c d'])[1], 2);
    assert.equal(m.segmentStatistics('a b c', ['a b c d e f', 'a b c d'])[1], 4);
  });

  it('Bleu: clips each n-gram by its maximum count over references', () => {
    const stats = new Bleu().segmentStatistics('the the the', ['the cat', 'the the dog']);
    assert.deepEqual(stats.slice(2, 6), [2, 1, 0, 0]);
  });

  it('Bleu.prepare: scoring against a prepared reference equals scoring against the strings', () => {
    const m = new Bleu({ effectiveOrder: true });
    const ref = m.prepare(['A man rides a bike.', 'Someone cycles.']);
    for (const hyp of ['A man rides a bike .', 'a bike', '', 'Someone cycles, a man rides.']) {
      assert.deepEqual(
        m.sentenceScore(hyp, ref),
        m.sentenceScore(hyp, ['A man rides a bike.', 'Someone cycles.']),
      );
    }
    assert.throws(() => new Bleu().sentenceScore('x', ref), MetricInputError);
  });

  it('Bleu.signature: formats smoothing values as sacrebleu does', () => {
    assert.equal(
      new Bleu({ smoothMethod: 'floor', smoothValue: 0.125 }).signature(1),
      'nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.12]|version:2.6.0',
    );
    assert.equal(
      new Bleu({ smoothMethod: 'add-k' }).signature('var'),
      'nrefs:var|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0',
    );
  });

  it('Bleu: rejects bad options and inputs with typed errors', () => {
    assert.throws(() => new Bleu({ tokenize: 'zh' }), UnknownTokenizerError);
    assert.throws(
      () => new Bleu({ smoothMethod: 'nope' as 'exp' }),
      (e: unknown) => e instanceof MetricOptionError && e.option === 'smoothMethod',
    );
    assert.throws(() => new Bleu({ maxNgramOrder: 0 }), MetricOptionError);
    assert.throws(() => new Bleu({ smoothValue: Number.NaN }), MetricOptionError);
    assert.throws(() => sentenceBleu('a', []), MetricInputError);
    assert.throws(() => corpusBleu([], [[]]), MetricInputError);
    assert.throws(() => corpusBleu(['a', 'b'], [['a']]), /references\[0\] has 1 segments/);
  });
});
