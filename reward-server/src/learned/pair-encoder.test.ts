import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizerConfigJson, tokenizerFromJson, tokenizerJson, trainBpe } from '@rest/text';
import { RewardModelError } from './manifest.js';
import { compileTemplate, encodePair, usesReference, type EncodedPair } from './pair-encoder.js';

const TOKENIZER = tokenizerFromJson(
  tokenizerJson(
    trainBpe(['a dog runs', 'ein hund läuft', 'two dogs run', 'zwei hunde laufen'], { vocabSize: 300 }),
  ),
  tokenizerConfigJson(),
);
const EOS = TOKENIZER.specialIds.eos;
const ids = (text: string): number[] => TOKENIZER.encode(text, { addEos: false });
const ITEM = { source: 'ein hund', hypothesis: 'a dog runs', reference: undefined };

describe('pair encoder', () => {
  it('encodePair: source · </s> · hypothesis · </s>, segments 0 then 1', () => {
    const parts = compileTemplate(['{source}', '</s>', '{hypothesis}', '</s>'], TOKENIZER);
    const pair = encodePair(parts, TOKENIZER, ITEM, 100, 'none') as EncodedPair;
    const src = ids('ein hund');
    const hyp = ids('a dog runs');
    assert.deepEqual(pair.ids, [...src, EOS, ...hyp, EOS]);
    assert.deepEqual(pair.segments, [...src.map(() => 0), 0, ...hyp.map(() => 1), 1]);
    assert.equal(usesReference(parts), false);
  });

  it('encodePair: refuses an over-long pair with none; longest_first trims the longest text', () => {
    const parts = compileTemplate(['{source}', '</s>', '{hypothesis}', '</s>'], TOKENIZER);
    const src = ids('ein hund');
    const hyp = ids('a dog runs');
    const max = src.length + hyp.length; // two tokens short
    assert.match(
      encodePair(parts, TOKENIZER, ITEM, max, 'none') as string,
      /more than the model's maxLength/,
    );
    const trimmed = encodePair(parts, TOKENIZER, ITEM, max, 'longest_first') as EncodedPair;
    assert.equal(trimmed.ids.length, max);
    assert.equal(trimmed.ids.at(-1), EOS);
    assert.match(encodePair(parts, TOKENIZER, ITEM, 1, 'longest_first') as string, /template alone/);
  });

  it('compileTemplate: a reference slot opens segment 2; unknown tokens are named', () => {
    const parts = compileTemplate(['</s>', '{source}', '{hypothesis}', '{reference}', '</s>'], TOKENIZER);
    assert.deepEqual(
      parts.map((p) => p.segment),
      [0, 0, 1, 2, 2],
    );
    assert.equal(usesReference(parts), true);
    assert.throws(
      () => compileTemplate(['[CLS]', '{source}', '{hypothesis}'], TOKENIZER),
      (e: unknown) => e instanceof RewardModelError && e.message.includes('"[CLS]"'),
    );
  });
});
