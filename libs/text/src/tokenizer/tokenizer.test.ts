import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe } from './bpe-trainer.js';
import { BpeModel } from './bpe-model.js';
import { TokenizerFormatError } from './errors.js';
import { tokenizerConfigJson, tokenizerJson, writeTokenizerFiles } from './hf-files.js';
import { BYTE_TOKEN_OFFSET, SPECIAL_TOKEN_IDS } from './special-tokens.js';
import { loadTokenizer, tokenizerFromJson } from './tokenizer.js';

const CORPUS = [
  'Ein Mann fährt Fahrrad.',
  'A man rides a bicycle.',
  'Zwei Hunde spielen im Schnee.',
  'Two dogs play in the snow.',
  'Eine Frau läuft über die Straße.',
  'A woman walks across the street.',
];
const TRAINED = trainBpe(CORPUS, { vocabSize: 400, minPairFrequency: 1 });
const TOKENIZER = tokenizerFromJson(tokenizerJson(TRAINED), tokenizerConfigJson());
const REFERENCE = new BpeModel(TRAINED);

test('Tokenizer: special ids and vocabSize of a trained vocabulary', () => {
  assert.deepEqual(TOKENIZER.specialIds, { pad: 0, eos: 1, unk: 2 });
  assert.equal(TOKENIZER.vocabSize, TRAINED.vocab.length);
  assert.equal(TOKENIZER.idToToken(SPECIAL_TOKEN_IDS.eos), '</s>');
});

test('Tokenizer: encode appends </s> unless addEos is false, and agrees with the reference encoder', () => {
  for (const text of [...CORPUS, 'Ein Hund fährt über den Schnee.', '  doppelt  gesetzt ']) {
    const ids = TOKENIZER.encode(text);
    assert.equal(ids.at(-1), SPECIAL_TOKEN_IDS.eos);
    assert.deepEqual(TOKENIZER.encode(text, { addEos: false }), ids.slice(0, -1));
    assert.deepEqual(ids, REFERENCE.encode(text, true), text);
  }
});

test('Tokenizer: byte fallback on unseen characters (emoji, CJK) round-trips without <unk>', () => {
  for (const text of ['Ein Hund 🐶 im Schnee', '東京の犬', 'Ω≈ç√∫', 'tab\there', 'ℌ𝔢𝔩𝔩𝔬 ﬁ']) {
    const ids = TOKENIZER.encode(text);
    assert.ok(!ids.includes(SPECIAL_TOKEN_IDS.unk), text);
    assert.equal(TOKENIZER.decode(ids), text.normalize('NFKC'));
    assert.deepEqual(ids, REFERENCE.encode(text, true), text);
  }
  const dog = [...new TextEncoder().encode('🐶')].map((b) => BYTE_TOKEN_OFFSET + b);
  assert.deepEqual(TOKENIZER.encode('🐶', { addEos: false }).slice(1), dog);
});

test('Tokenizer: decode skips special tokens and maps [] to ""', () => {
  const ids = TOKENIZER.encode('Zwei Hunde.');
  assert.equal(TOKENIZER.decode([SPECIAL_TOKEN_IDS.pad, ...ids, SPECIAL_TOKEN_IDS.pad]), 'Zwei Hunde.');
  assert.equal(TOKENIZER.decode([]), '');
  assert.equal(TOKENIZER.decode([SPECIAL_TOKEN_IDS.eos]), '');
});

test('Tokenizer: a leading space is absorbed by the Metaspace prefix (documented limit)', () => {
  assert.equal(TOKENIZER.decode(TOKENIZER.encode(' Hund')), 'Hund');
  assert.equal(TOKENIZER.decode(TOKENIZER.encode('Hund  und ')), 'Hund  und ');
});

test('loadTokenizer: reads the files writeTokenizerFiles wrote', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rest-tokenizer-'));
  try {
    await writeTokenizerFiles(dir, TRAINED, { modelMaxLength: 256 });
    const loaded = await loadTokenizer(dir);
    assert.deepEqual(loaded.encode(CORPUS[0] ?? ''), TOKENIZER.encode(CORPUS[0] ?? ''));
    await writeFile(join(dir, 'tokenizer_config.json'), '{');
    await assert.rejects(loadTokenizer(dir), TokenizerFormatError);
    await assert.rejects(loadTokenizer(join(dir, 'missing')), /tokenizer\.json: cannot read/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tokenizerFromJson: rejects configs whose eos token is not in the vocabulary', () => {
  const json = tokenizerJson(TRAINED);
  assert.throws(
    () => tokenizerFromJson(json, { eos_token: '<eos>' }),
    /eos_token: "<eos>" is not in the vocabulary/,
  );
  assert.throws(() => tokenizerFromJson(json, {}), /eos_token: missing/);
  assert.throws(() => tokenizerFromJson(null, {}), TokenizerFormatError);
  // pad falls back to eos, as in transformers; unk is optional.
  const t = tokenizerFromJson(json, { eos_token: { content: '</s>' } });
  assert.deepEqual(t.specialIds, { pad: 1, eos: 1, unk: undefined });
});
