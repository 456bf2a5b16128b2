import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainBpe, type BpeTrainingProgress, type TrainedBpe } from './bpe-trainer.js';
import { BpeModel } from './bpe-model.js';
import { TokenizerTrainingError } from './errors.js';
import { metaspaceNormalize, metaspaceWords } from './pre-tokenize.js';
import { BYTE_TOKEN_OFFSET, byteToken, SPECIAL_TOKEN_IDS, SPECIAL_TOKENS } from './special-tokens.js';

const HEAD = BYTE_TOKEN_OFFSET + 256;

test('trainBpe: specials and byte tokens at fixed ids', () => {
  const { vocab } = trainBpe(['a b'], { vocabSize: 300 });
  assert.equal(vocab[SPECIAL_TOKEN_IDS.pad], '<pad>');
  assert.equal(vocab[SPECIAL_TOKEN_IDS.eos], '</s>');
  assert.equal(vocab[SPECIAL_TOKEN_IDS.unk], '<unk>');
  assert.deepEqual(SPECIAL_TOKENS, { pad: '<pad>', eos: '</s>', unk: '<unk>' });
  assert.equal(vocab[BYTE_TOKEN_OFFSET], '<0x00>');
  assert.equal(vocab[BYTE_TOKEN_OFFSET + 0xab], '<0xAB>');
  assert.equal(vocab[HEAD - 1], '<0xFF>');
  assert.equal(byteToken(0x0a), '<0x0A>');
});

test('trainBpe: alphabet by count, ties by code point', () => {
  // counts: ▁ 3, a 2, c 2, b 1
  const { vocab } = trainBpe(['c a', 'ca b'], { vocabSize: HEAD + 4 });
  assert.deepEqual(vocab.slice(HEAD), ['\u2581', 'a', 'c', 'b']);
});

test('trainBpe: merges learned in count order, ties to the smaller left id', () => {
  // Words: ▁ab ×3, ▁abc ×1. Alphabet ids: a, b, ▁ (count 4, code point order), c.
  // (a,b) and (▁,a) both occur 4 times; a's id is smaller, so (a,b) goes first.
  const trained = trainBpe(['ab ab ab abc'], { minPairFrequency: 1 });
  assert.deepEqual(trained.vocab.slice(HEAD), ['a', 'b', '\u2581', 'c', 'ab', '\u2581ab', '\u2581abc']);
  assert.deepEqual(trained.merges, [
    ['a', 'b'],
    ['\u2581', 'ab'],
    ['\u2581ab', 'c'],
  ]);
});

test('trainBpe: stops at minPairFrequency and at vocabSize', () => {
  assert.equal(trainBpe(['ab ab ab abc']).merges.length, 2);
  const capped = trainBpe(['ab ab ab abc'], { minPairFrequency: 1, vocabSize: HEAD + 5 });
  assert.deepEqual(capped.merges, [['a', 'b']]);
  assert.equal(capped.vocab.length, HEAD + 5);
});

test('trainBpe: overlapping pairs merge left to right', () => {
  const trained = trainBpe(['aaaaa aaaaa aaa'], { minPairFrequency: 1 });
  const model = new BpeModel(trained);
  assert.deepEqual(trained.merges.slice(0, 1), [['a', 'a']]);
  for (const word of ['\u2581aaaaa', '\u2581aaa', '\u2581a'])
    assert.equal(model.segment(word).join(''), word);
});

test('trainBpe: deterministic for equal input', () => {
  const corpus = ['der Hund läuft', 'the dog runs', 'ein Hund und ein Mann', 'a dog and a man'];
  assert.deepEqual(trainBpe(corpus, { minPairFrequency: 1 }), trainBpe(corpus, { minPairFrequency: 1 }));
});

test('trainBpe: rejects a vocabSize too small for specials, bytes and alphabet', () => {
  assert.throws(() => trainBpe(['abc'], { vocabSize: HEAD + 2 }), TokenizerTrainingError);
  assert.throws(
    () => trainBpe(['abc'], { vocabSize: 0, minPairFrequency: 0 }),
    /vocabSize.*minPairFrequency/,
  );
});

test('trainBpe: minCharFrequency keeps rare characters out of the alphabet and out of merges', () => {
  const trained = trainBpe(['ab ab ab xy'], { minCharFrequency: 2, minPairFrequency: 1 });
  assert.ok(!trained.vocab.includes('x'));
  assert.ok(trained.merges.every(([a, b]) => !(a + b).includes('x')));
  const ids = new BpeModel(trained).encode('xy');
  assert.deepEqual(ids.slice(1), [BYTE_TOKEN_OFFSET + 0x78, BYTE_TOKEN_OFFSET + 0x79]);
});

test('trainBpe: reports progress through both phases', () => {
  const events: BpeTrainingProgress[] = [];
  const corpus = Array.from({ length: 25 }, (_, i) => `word${i % 7} other${i % 3}`);
  trainBpe(corpus, { progressEvery: 10, totalSentences: 25, onProgress: (p) => events.push(p) });
  const counts = events.filter((e) => e.phase === 'count');
  assert.deepEqual(
    counts.map((e) => e.sentences),
    [10, 20, 25],
  );
  const merges = events.filter((e) => e.phase === 'merge');
  assert.ok(merges.length > 0);
  const last = merges.at(-1);
  assert.ok(last !== undefined && last.phase === 'merge' && last.merges > 0 && last.merges <= last.maxMerges);
});

/** Recounts every pair before each merge: slow, obviously right, and the reference for the incremental trainer. */
function naiveTrain(sentences: string[], vocabSize: number, minPairFrequency: number): TrainedBpe {
  const counts = new Map<string, number>();
  for (const s of sentences) {
    for (const w of metaspaceWords(metaspaceNormalize(s))) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const chars = new Map<string, number>();
  for (const [w, c] of counts) for (const ch of w) chars.set(ch, (chars.get(ch) ?? 0) + c);
  const head = trainBpe([], { vocabSize: HEAD }).vocab;
  const alphabet = [...chars]
    .sort((x, y) => y[1] - x[1] || (x[0].codePointAt(0) ?? 0) - (y[0].codePointAt(0) ?? 0))
    .map(([ch]) => ch);
  const vocab = [...head, ...alphabet];
  const words = [...counts].map(([w, c]) => ({ symbols: Array.from(w), c }));
  const merges: [string, string][] = [];
  while (vocab.length < vocabSize) {
    const pairs = new Map<string, { a: string; b: string; n: number }>();
    for (const { symbols, c } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const a = symbols[i] as string;
        const b = symbols[i + 1] as string;
        const p = pairs.get(`${a} ${b}`) ?? { a, b, n: 0 };
        p.n += c;
        pairs.set(`${a} ${b}`, p);
      }
    }
    const best = [...pairs.values()].sort(
      (x, y) =>
        y.n - x.n || vocab.indexOf(x.a) - vocab.indexOf(y.a) || vocab.indexOf(x.b) - vocab.indexOf(y.b),
    )[0];
    if (best === undefined || best.n < minPairFrequency) break;
    merges.push([best.a, best.b]);
    if (!vocab.includes(best.a + best.b)) vocab.push(best.a + best.b);
    for (const word of words) {
      const out: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === best.a && word.symbols[i + 1] === best.b && i + 1 < word.symbols.length) {
          out.push(best.a + best.b);
          i++;
        } else {
          out.push(word.symbols[i] as string);
        }
      }
      word.symbols = out;
    }
  }
  return { vocab, merges };
}

test('trainBpe: incremental pair counts agree with recounting on random corpora', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 30; round++) {
    const letters = 'aabbcdeé'.slice(0, 3 + rand(6));
    const sentences = Array.from({ length: 1 + rand(8) }, () =>
      Array.from({ length: 1 + rand(6) }, () =>
        Array.from({ length: 1 + rand(7) }, () => letters[rand(letters.length)]).join(''),
      ).join(rand(5) === 0 ? '  ' : ' '),
    );
    const vocabSize = HEAD + 12 + rand(30);
    const minPairFrequency = 1 + rand(2);
    assert.deepEqual(
      trainBpe(sentences, { vocabSize, minPairFrequency }),
      naiveTrain(sentences, vocabSize, minPairFrequency),
      JSON.stringify({ sentences, vocabSize, minPairFrequency }),
    );
  }
});
