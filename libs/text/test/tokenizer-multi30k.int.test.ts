// Multi30k through the whole tokenizer path: an 8k joint de+en BPE trained on the training split, written
// as tokenizer.json, read back by tokenizers.js (our `Tokenizer`) and by transformers.js' AutoTokenizer,
// and checked against the trainer's own merge application (`BpeModel`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env } from '@huggingface/transformers';
import {
  BpeModel,
  loadTokenizer,
  trainBpe,
  writeTokenizerFiles,
  type Tokenizer,
  type TrainedBpe,
} from '../src/index.js';

// libs/text/test → repository root → ../shared/data/multi30k
const DATA_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'shared',
  'data',
  'multi30k',
);
const SPLITS = ['train', 'valid', 'test'] as const;
const LANGS = ['de', 'en'] as const;

function readLines(split: string, lang: string): string[] {
  return readFileSync(join(DATA_DIR, `${split}.${lang}`), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0);
}

let dir = '';
let trained: TrainedBpe;
let trainMs = 0;
let tokenizer: Tokenizer;

before(async () => {
  const corpus = [...readLines('train', 'de'), ...readLines('train', 'en')];
  const start = performance.now();
  trained = trainBpe(corpus, { vocabSize: 8000, totalSentences: corpus.length });
  trainMs = performance.now() - start;
  dir = await mkdtemp(join(tmpdir(), 'rest-tokenizer-multi30k-'));
  await writeTokenizerFiles(dir, trained);
  tokenizer = await loadTokenizer(dir);
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('trainBpe: 8k joint vocabulary on Multi30k train de+en (58k sentences) within 30 s', (t) => {
  t.diagnostic(`trained in ${(trainMs / 1000).toFixed(2)} s, ${trained.merges.length} merges`);
  assert.equal(trained.vocab.length, 8000);
  assert.equal(tokenizer.vocabSize, 8000);
  assert.ok(trainMs < 30_000, `training took ${trainMs} ms`);
});

for (const split of SPLITS) {
  for (const lang of LANGS) {
    test(`Tokenizer: decode(encode(x)) == NFKC(x) and ids == BpeModel's on Multi30k ${split}.${lang}`, () => {
      const reference = new BpeModel(trained);
      const lines = readLines(split, lang);
      let unknown = 0;
      for (const line of lines) {
        const ids = tokenizer.encode(line);
        if (ids.includes(tokenizer.specialIds.unk ?? -1)) unknown++;
        assert.equal(tokenizer.decode(ids), line.normalize('NFKC'));
        assert.deepEqual(ids, reference.encode(line, true), line);
      }
      assert.equal(unknown, 0);
    });
  }
}

test('AutoTokenizer (transformers.js) loads our files and gives our ids on all Multi30k validation sentences', async () => {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(dir);
  const hf = await AutoTokenizer.from_pretrained(basename(dir), { local_files_only: true });
  assert.equal(hf.eos_token_id, tokenizer.specialIds.eos);
  assert.equal(hf.pad_token_id, tokenizer.specialIds.pad);
  const lines = [...readLines('valid', 'de'), ...readLines('valid', 'en')];
  for (const line of lines) {
    const ours = tokenizer.encode(line);
    const theirs = hf.encode(line);
    assert.deepEqual(theirs, ours, line);
    assert.equal(hf.decode(theirs, { skip_special_tokens: true }), tokenizer.decode(ours));
  }
});
