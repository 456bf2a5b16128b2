import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusBleu, corpusChrf, corpusTer } from '@rest/text';
import { corpusMetrics } from './eval-metrics.js';

const HYP = ['a man rides a horse .', 'two dogs play in the snow'];
const REF = ['a man is riding a horse .', 'two dogs are playing in the snow .'];

test('corpusMetrics: each asked-for metric equals the @rest/text corpus score', () => {
  const m = corpusMetrics(['bleu', 'chrf', 'chrf++', 'ter'], HYP, REF);
  assert.equal(m['bleu'], corpusBleu(HYP, [REF]).score);
  assert.equal(m['chrf'], corpusChrf(HYP, [REF]).score);
  assert.equal(m['chrf++'], corpusChrf(HYP, [REF], { wordOrder: 2 }).score);
  assert.equal(m['ter'], corpusTer(HYP, [REF]).score);
  assert.deepEqual(Object.keys(corpusMetrics(['chrf'], HYP, REF)), ['chrf']);
});
