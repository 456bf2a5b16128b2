/**
 * Inputs of the sacrebleu parity test: a Multi30k test2016 corpus with deterministic hypotheses,
 * and 1,000 sentence pairs that mix realistic English/German/French/Czech edits with the cases that
 * break re-implementations — empty hypotheses, empty-ish references, CJK, emoji (astral code points,
 * ZWJ sequences, flags), punctuation-only lines, unusual whitespace (NBSP, U+3000, U+FEFF, U+001C,
 * U+0085), XML entities, numbers with separators, casing traps (İ, final sigma), combining marks,
 * several references, and lines of thousands of tokens.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { perturbCorpus, perturbSentence, randomInt, seededRandom } from '@rest/text/testing';

/** Repository root: three levels above libs/text/test/. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Shared data lives beside the repository: ../shared/data from its root. */
export const DATA_DIR = `${REPO_ROOT}../shared/data/multi30k/`;

/** The lines of a Multi30k file, without the trailing empty line. */
export function readLines(name: string): string[] {
  const lines = readFileSync(`${DATA_DIR}${name}`, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** One sentence-level case: a hypothesis and its references. */
export type Pair = [hyp: string, refs: string[]];

/** The corpus of the corpus-level parity checks. */
export interface ParityCorpus {
  /** test2016 English references. */
  refs: string[];
  /** A second, synthetic reference stream (for multi-reference corpus scores). */
  refs2: string[];
  /** Hypotheses: perturbed references, with untranslated words drawn from test.de. */
  hyps: string[];
}

/**
 * Multi30k test2016 (de→en) with hypotheses. There is no trained policy yet, so the hypotheses are
 * the English references edited by a seeded RNG; a later issue swaps in the policy's outputs.
 */
export function parityCorpus(): ParityCorpus {
  const refs = readLines('test.en');
  const src = readLines('test.de');
  return { refs, refs2: perturbCorpus(refs, src, 7), hyps: perturbCorpus(refs, src, 2016) };
}

const CJK_POOL = [
  '一个男人在街上骑自行车。',
  '两只狗在草地上玩耍，天气很好。',
  '我们今天去公园散步吧！',
  '東京タワーはとても高いです。',
  '子供たちが公園でサッカーをしています。',
  'カメラを持った女性が「こんにちは」と言った。',
  '한 남자가 자전거를 타고 있습니다.',
  '아이들이 공원에서 놀고 있다',
  '他说：“我们明天见。”（大概）',
  '全角ＡＢＣ１２３，テスト．',
];

const EMOJI_POOL = ['🐕', '🏃‍♂️', '👍🏽', '🇩🇪', '❤️', '🎉', '👨‍👩‍👧‍👦', '😀', '🤖', '☕'];

const PUNCT_POOL = [
  '...',
  '!?',
  '— – -',
  '«»',
  '“”',
  '.',
  ',',
  '()',
  '¿¡',
  '…',
  '%&$',
  '* * *',
  '--',
  ';:',
  '。',
  '、',
  '!!!',
];

const SPECIAL: Pair[] = [
  ['A\u00a0man\u00a0runs.', ['A man runs.']],
  ['A\u3000man runs .', ['A man runs.']],
  ['A\ufeffman runs.', ['A man runs.']],
  ['A\u001cman\u0085runs.', ['A man runs.']],
  ['A\tman\nruns.\r\n', ['A man runs.']],
  ['Tom &amp; Jerry &quot;run&quot; &lt;fast&gt;', ['Tom & Jerry "run" <fast>']],
  ['<skipped> a man runs', ['a man runs']],
  ['a well-\nknown man', ['a well-known man']],
  ['a well\n-known man', ['a well-known man']],
  ['It costs 3.14 or 1,000.50 dollars, or 5-6.', ['It costs 3.14 or 1,000.50 dollars, or 5 - 6.']],
  ['a.b,c.,d 1.2.3 .5 5. ,5', ['a. b, c., d 1.2.3 .5 5. ,5']],
  ["John's dog's toy's", ["John 's dog's toy 's"]],
  ['İSTANBUL IS BIG', ['istanbul is big']],
  ['ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ', ['οδυσσευς σοφος']],
  ['Cafe\u0301 au lait', ['Café au lait']],
  ['straße STRASSE', ['Straße strasse']],
  ['ǅemal Ǆ ǆ', ['džemal dž DŽ']],
  ['x = 2³ ± 1 € 5 $ 10 ° ©', ['x = 2³ ± 1€ 5$ 10° ©']],
  ['1,5 Mio. (ca.) 2019/2020 10:30 100%', ['1,5 Mio. (ca.) 2019 / 2020 10:30 100 %']],
  ['end with number 2019.', ['end with number 2019 .']],
  ['"quoted" \'single\' `back`', ['" quoted " \' single \' ` back `']],
  ['e-mail x@y.com http://a.b/c?d=1', ['email x@y.com http://a.b/c?d=1']],
  ['the the the the the the the the', ['the cat']],
  ['a b c d e f g h i j', ['j i h g f e d c b a']],
  ['a b c d e f g h i j k l m n o p', ['i j k l m n o p a b c d e f g h']],
  ['word', ['word']],
  ['Word', ['word']],
  ['a', ['b']],
  ['ab', ['ab ab']],
  ['x y', ['x y', 'x', 'y x']],
  ['a man', ['a man walks', 'a man', 'man a']],
  ['', ['', '']],
  ['two refs', ['', 'two refs']],
  ['(hi) [there] {you}', ['(hi) [there] {you}']],
  ['- a -b c- -', ['-a b -c']],
  ['x\u200by \u200dz', ['xy z']],
  ['मनुष्य दौड़ता है।', ['मनुष्य दौड़ रहा है।']],
  ['رجل يركض.', ['رجل يجري.']],
  ['Мужчина бежит, быстро.', ['Мужчина быстро бежит.']],
  ['𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 𐍈', ['𝔘𝔫𝔦𝔠𝔬𝔡𝔢 123 𐍈']],
];

function cjkEdit(s: string, rand: () => number): string {
  const chars = Array.from(s);
  const edits = randomInt(rand, 4);
  for (let e = 0; e < edits && chars.length > 1; e++) {
    const i = randomInt(rand, chars.length);
    const kind = randomInt(rand, 3);
    if (kind === 0) chars.splice(i, 1);
    else if (kind === 1) chars.splice(i, 0, chars[randomInt(rand, chars.length)]!);
    else if (i + 1 < chars.length) [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
  }
  return chars.join('');
}

/** Sizes, in Multi30k sentences (about 13 tokens each), of the very long lines. */
const LONG_LINE_SIZES = [120, 160, 200, 150, 250, 180];

/**
 * Very long lines with light edits (typos, case, dropped words; no reordering): sacrebleu's TER
 * spends over a minute per heavily edited line of 2,000 tokens in its 1,000-candidate shift search,
 * so the TER jobs get these in place of the heavily edited long lines of the other metrics.
 */
export function lightLongLines(): Pair[] {
  const rand = seededRandom(4242);
  const en = readLines('test.en');
  return LONG_LINE_SIZES.map((size) => {
    const start = randomInt(rand, en.length - size);
    const ref = en.slice(start, start + size).join(' ');
    const hyp = ref
      .split(' ')
      .flatMap((w) => {
        const r = rand();
        return r < 0.03 ? [] : r < 0.08 ? [`${w.slice(0, -1)}${w.slice(-1).toUpperCase()}x`] : [w];
      })
      .join(' ');
    return [hyp, [ref]];
  });
}

/** Whether a pair is one of the heavily edited very long lines. */
export function isLongLine([hyp]: Pair): boolean {
  return hyp.length > 5000;
}

/** The 1,000 sentence pairs, deterministic. */
export function paritySentencePairs(): Pair[] {
  const rand = seededRandom(30000);
  const en = readLines('test.en');
  const de = readLines('test.de');
  const fr = readLines('test.fr');
  const cs = readLines('test.cs');
  const words = (s: string) => s.split(' ');
  const pairs: Pair[] = [];
  const pick = () => randomInt(rand, en.length);

  for (let k = 0; k < 520; k++) {
    const i = pick();
    pairs.push([perturbSentence(en[i]!, words(de[i]!), rand), [en[i]!]]);
  }
  for (const [lines, source] of [
    [de, en],
    [fr, en],
    [cs, de],
  ] as const) {
    for (let k = 0; k < 60; k++) {
      const i = pick();
      pairs.push([perturbSentence(lines[i]!, words(source[i]!), rand), [lines[i]!]]);
    }
  }
  for (let k = 0; k < 40; k++) {
    const ref =
      CJK_POOL[k % CJK_POOL.length]! + (k >= CJK_POOL.length ? CJK_POOL[(k * 7) % CJK_POOL.length]! : '');
    pairs.push([cjkEdit(ref, rand), [ref]]);
  }
  for (let k = 0; k < 30; k++) {
    const i = pick();
    const ref = en[i]!.split(' ')
      .map((w) => (rand() < 0.2 ? `${w} ${EMOJI_POOL[randomInt(rand, EMOJI_POOL.length)]!}` : w))
      .join(' ');
    const hyp = perturbSentence(ref, [], rand).replace(/ /g, () =>
      rand() < 0.1 ? EMOJI_POOL[randomInt(rand, EMOJI_POOL.length)]! : ' ',
    );
    pairs.push([hyp, [ref]]);
  }
  for (let k = 0; k < 40; k++) pairs.push([['', ' ', '\t', '\n'][k % 4]!, [en[pick()]!]]);
  const emptyish = ['', ' ', '.', 'a', '\u00a0', '\n', ' . '];
  for (let k = 0; k < 30; k++) {
    const hyp = k % 5 === 0 ? '' : k % 5 === 1 ? '.' : en[pick()]!;
    pairs.push([hyp, [emptyish[k % emptyish.length]!]]);
  }
  for (let k = 0; k < 30; k++) {
    const p = () => PUNCT_POOL[randomInt(rand, PUNCT_POOL.length)]!;
    pairs.push(
      k % 3 === 0
        ? [p(), [p()]]
        : k % 3 === 1
          ? [`${p()} ${p()}`, [en[pick()]!]]
          : [en[pick()]!, [`${p()}${p()}`]],
    );
  }
  for (const size of LONG_LINE_SIZES) {
    const start = pick() % (en.length - size);
    const ref = en.slice(start, start + size).join(' ');
    const hyp = en
      .slice(start, start + size)
      .map((s, j) => perturbSentence(s, words(de[start + j]!), rand))
      .join(' ');
    pairs.push([hyp, [ref]]);
  }
  for (let k = 0; k < 40; k++) {
    const i = pick();
    const refs = [en[i]!, perturbSentence(en[i]!, [], rand)];
    if (k % 2 === 0) refs.push(perturbSentence(en[i]!, words(de[i]!), rand));
    pairs.push([perturbSentence(en[i]!, words(de[i]!), rand), refs]);
  }
  pairs.push(...SPECIAL);
  while (pairs.length < 1000) {
    const i = pick();
    const hyp = perturbSentence(en[i]!, words(de[i]!), rand);
    pairs.push(rand() < 0.5 ? [hyp.toUpperCase(), [en[i]!]] : [hyp.replace(/ /g, '  '), [` ${en[i]!}  `]]);
  }
  return pairs;
}
