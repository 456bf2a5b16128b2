/**
 * Parity with the `sacrebleu` Python package (the version in SACREBLEU_VERSION), run as an
 * independent peer (./sacrebleu-peer.py in a venv that ./setup-sacrebleu.sh installs from PyPI):
 * corpus BLEU, chrF, chrF++ and TER on Multi30k test2016, sentence-level scores on 1,000 hard pairs
 * under many option sets, tokenizer outputs, signatures, and the Unicode property classes that the
 * `intl` tokenizer relies on. Scores must agree to SCORE_TOLERANCE; counts and lengths exactly.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  Bleu,
  bleuTokenizer,
  Chrf,
  SACREBLEU_VERSION,
  Ter,
  type BleuOptions,
  type BleuScore,
  type ChrfOptions,
  type ChrfScore,
  type TerOptions,
  type TerScore,
} from '@rest/text';
import { runSacrebleuPeer, type PeerResponse } from '@rest/text/testing';
import { isLongLine, lightLongLines, parityCorpus, paritySentencePairs, type Pair } from './parity-cases.js';

/** Largest allowed absolute difference of any score-like float (issue 6: "equal to 1e-9"). */
const SCORE_TOLERANCE = 1e-9;

interface BleuConfig {
  ts: BleuOptions;
  py: Record<string, unknown>;
}
interface ChrfConfig {
  ts: ChrfOptions;
  py: Record<string, unknown>;
}
interface TerConfig {
  ts: TerOptions;
  py: Record<string, unknown>;
}

const BLEU_CONFIGS: BleuConfig[] = [
  { ts: { effectiveOrder: true }, py: { effective_order: true } },
  { ts: {}, py: {} },
  { ts: { tokenize: 'intl', effectiveOrder: true }, py: { tokenize: 'intl', effective_order: true } },
  { ts: { tokenize: 'char', effectiveOrder: true }, py: { tokenize: 'char', effective_order: true } },
  { ts: { tokenize: 'none', effectiveOrder: true }, py: { tokenize: 'none', effective_order: true } },
  {
    ts: { smoothMethod: 'floor', effectiveOrder: true },
    py: { smooth_method: 'floor', effective_order: true },
  },
  { ts: { smoothMethod: 'floor', smoothValue: 0.25 }, py: { smooth_method: 'floor', smooth_value: 0.25 } },
  { ts: { smoothMethod: 'add-k' }, py: { smooth_method: 'add-k' } },
  {
    ts: { smoothMethod: 'add-k', smoothValue: 2, effectiveOrder: true },
    py: { smooth_method: 'add-k', smooth_value: 2, effective_order: true },
  },
  { ts: { smoothMethod: 'none' }, py: { smooth_method: 'none' } },
  { ts: { lowercase: true, effectiveOrder: true }, py: { lowercase: true, effective_order: true } },
  { ts: { maxNgramOrder: 2, tokenize: 'intl' }, py: { max_ngram_order: 2, tokenize: 'intl' } },
];
const CHRF_CONFIGS: ChrfConfig[] = [
  { ts: {}, py: {} },
  { ts: { wordOrder: 2 }, py: { word_order: 2 } },
  { ts: { whitespace: true }, py: { whitespace: true } },
  { ts: { epsSmoothing: true }, py: { eps_smoothing: true } },
  {
    ts: { wordOrder: 2, epsSmoothing: true, lowercase: true },
    py: { word_order: 2, eps_smoothing: true, lowercase: true },
  },
  { ts: { charOrder: 4, wordOrder: 1, beta: 1 }, py: { char_order: 4, word_order: 1, beta: 1 } },
];
const TER_CONFIGS: TerConfig[] = [
  { ts: {}, py: {} },
  { ts: { normalized: true }, py: { normalized: true } },
  { ts: { normalized: true, asianSupport: true }, py: { normalized: true, asian_support: true } },
  { ts: { noPunct: true, asianSupport: true }, py: { no_punct: true, asian_support: true } },
  {
    ts: { caseSensitive: true, normalized: true, noPunct: true },
    py: { case_sensitive: true, normalized: true, no_punct: true },
  },
];

interface PyBleu {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sys_len: number;
  ref_len: number;
  signature: string;
}
interface PyChrf {
  score: number;
  name: string;
  signature: string;
}
interface PyTer {
  score: number;
  num_edits: number;
  ref_length: number;
  signature: string;
}

/** Tracks the largest absolute difference per metric, for the report and the assertion. */
class Diffs {
  readonly max = new Map<string, number>();
  float(metric: string, where: string, ours: number, theirs: number): void {
    const d = Math.abs(ours - theirs);
    this.max.set(metric, Math.max(this.max.get(metric) ?? 0, d));
    assert.ok(d <= SCORE_TOLERANCE, `${metric} ${where}: ours ${ours} vs sacrebleu ${theirs} (|diff| ${d})`);
  }
  report(): string {
    return [...this.max].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
  }
}

function compareBleu(d: Diffs, where: string, ours: BleuScore, py: PyBleu): void {
  d.float('BLEU', `${where} score`, ours.score, py.score);
  d.float('BLEU', `${where} bp`, ours.bp, py.bp);
  ours.precisions.forEach((p, n) => d.float('BLEU', `${where} precisions[${n}]`, p, py.precisions[n]!));
  assert.deepEqual([...ours.counts], py.counts, `BLEU ${where} counts`);
  assert.deepEqual([...ours.totals], py.totals, `BLEU ${where} totals`);
  assert.equal(ours.sysLen, py.sys_len, `BLEU ${where} sys_len`);
  assert.equal(ours.refLen, py.ref_len, `BLEU ${where} ref_len`);
}

function compareChrf(d: Diffs, metric: string, where: string, ours: ChrfScore, py: PyChrf): void {
  d.float(metric, `${where} score`, ours.score, py.score);
  assert.equal(ours.name, py.name, `${where} name`);
}

function compareTer(d: Diffs, where: string, ours: TerScore, py: PyTer): void {
  d.float('TER', `${where} score`, ours.score, py.score);
  d.float('TER', `${where} ref_length`, ours.refLength, py.ref_length);
  assert.equal(ours.numEdits, py.num_edits, `TER ${where} num_edits`);
}

const chrfMetric = (c: ChrfConfig) => ((c.ts.wordOrder ?? 0) > 0 ? 'chrF++' : 'chrF');

describe('sacrebleu parity', () => {
  const corpus = parityCorpus();
  const pairs: Pair[] = paritySentencePairs();
  // TER's shift search makes sacrebleu take minutes on heavily edited 2,000-token lines
  const terPairs: Pair[] = [...pairs.filter((p) => !isLongLine(p)), ...lightLongLines()];
  const streams2 = [corpus.refs, corpus.refs2];
  const allLines = [...new Set([...pairs, ...terPairs].flatMap(([h, r]) => [h, ...r]))];
  const jobs: object[] = [];
  const add = (job: object) => jobs.push(job) - 1;

  const corpusJobs = {
    bleu: BLEU_CONFIGS.map((c) =>
      add({ kind: 'corpus', metric: 'bleu', options: c.py, hyps: corpus.hyps, refs: [corpus.refs] }),
    ),
    chrf: CHRF_CONFIGS.map((c) =>
      add({ kind: 'corpus', metric: 'chrf', options: c.py, hyps: corpus.hyps, refs: [corpus.refs] }),
    ),
    ter: TER_CONFIGS.map((c) =>
      add({ kind: 'corpus', metric: 'ter', options: c.py, hyps: corpus.hyps, refs: [corpus.refs] }),
    ),
    bleu2: add({ kind: 'corpus', metric: 'bleu', options: {}, hyps: corpus.hyps, refs: streams2 }),
    chrf2: add({
      kind: 'corpus',
      metric: 'chrf',
      options: { word_order: 2 },
      hyps: corpus.hyps,
      refs: streams2,
    }),
    ter2: add({ kind: 'corpus', metric: 'ter', options: {}, hyps: corpus.hyps, refs: streams2 }),
  };
  const sentenceJobs = {
    bleu: BLEU_CONFIGS.map((c) => add({ kind: 'sentence', metric: 'bleu', options: c.py, pairs })),
    chrf: CHRF_CONFIGS.map((c) => add({ kind: 'sentence', metric: 'chrf', options: c.py, pairs })),
    ter: TER_CONFIGS.map((c) => add({ kind: 'sentence', metric: 'ter', options: c.py, pairs: terPairs })),
  };
  const tokenizeJobs = {
    bleu: (['13a', 'intl', 'char', 'none'] as const).map(
      (t) => [t, add({ kind: 'tokenize', tokenizer: t, options: {}, lines: allLines })] as const,
    ),
    ter: TER_CONFIGS.map((c) => add({ kind: 'tokenize', tokenizer: 'ter', options: c.py, lines: allLines })),
  };
  const classesJob = add({ kind: 'unicode-classes', classes: ['P', 'S', 'N'] });

  let peer: PeerResponse;
  before(() => {
    peer = runSacrebleuPeer(jobs);
  });
  const result = <T>(i: number): T => peer.results[i] as T;

  it('peer: is the sacrebleu version this package reproduces', () => {
    assert.equal(peer.version, SACREBLEU_VERSION);
  });

  it('sentence pairs: 1,000 cases, including empty hypotheses and lines of thousands of tokens', () => {
    assert.equal(pairs.length, 1000);
    assert.ok(pairs.some(([h]) => h === ''));
    assert.ok(pairs.some(([h]) => h.split(' ').length > 2000));
    assert.equal(terPairs.length, 1000);
    assert.ok(terPairs.some(([h]) => h.split(' ').length > 2000));
  });

  it('intl tokenizer: \\p{P}, \\p{S} and \\p{N} match the regex module on every code point Node has assigned', (t) => {
    // The `regex` module (unpinned by sacrebleu) may know a newer Unicode than Node's ICU: code
    // points that Node still treats as unassigned (\p{Cn}) may differ, nothing else.
    const py = result<Record<string, [number, number][]>>(classesJob);
    const unassigned = /^\p{Cn}$/u;
    for (const cls of ['P', 'S', 'N']) {
      const theirs = new Set<number>();
      for (const [a, b] of py[cls]!) for (let c = a; c <= b; c++) theirs.add(c);
      const re = new RegExp(`^\\p{${cls}}$`, 'u');
      const newer: number[] = [];
      for (let c = 0; c <= 0x10ffff; c++) {
        if (c >= 0xd800 && c <= 0xdfff) continue;
        const ch = String.fromCodePoint(c);
        if (re.test(ch) === theirs.has(c)) continue;
        assert.ok(unassigned.test(ch), `\\p{${cls}} differs on assigned U+${c.toString(16).toUpperCase()}`);
        newer.push(c);
      }
      t.diagnostic(
        `\\p{${cls}}: ${theirs.size} code points in regex; ${newer.length} differ, all unassigned in Node's Unicode ${process.versions.unicode}`,
      );
    }
  });

  it('tokenizers: 13a, intl, char, none and tercom outputs equal sacrebleu on every test line', () => {
    for (const [name, job] of tokenizeJobs.bleu) {
      const py = result<string[]>(job);
      const tok = bleuTokenizer(name);
      allLines.forEach((line, i) =>
        assert.equal(tok.tokenize(line), py[i], `${name}: ${JSON.stringify(line)}`),
      );
    }
    TER_CONFIGS.forEach((c, k) => {
      const py = result<string[]>(tokenizeJobs.ter[k]!);
      const ter = new Ter(c.ts);
      allLines.forEach((line, i) =>
        assert.equal(
          ter.tokens(line).join(' '),
          py[i],
          `tercom ${JSON.stringify(c.py)}: ${JSON.stringify(line)}`,
        ),
      );
    });
  });

  it('corpus: BLEU, chrF, chrF++ and TER on Multi30k test2016 equal sacrebleu, signatures too', (t) => {
    const d = new Diffs();
    BLEU_CONFIGS.forEach((c, k) => {
      const py = result<PyBleu>(corpusJobs.bleu[k]!);
      const m = new Bleu(c.ts);
      compareBleu(d, `corpus ${JSON.stringify(c.py)}`, m.corpusScore(corpus.hyps, [corpus.refs]), py);
      assert.equal(m.signature(1), py.signature);
    });
    CHRF_CONFIGS.forEach((c, k) => {
      const py = result<PyChrf>(corpusJobs.chrf[k]!);
      const m = new Chrf(c.ts);
      compareChrf(
        d,
        chrfMetric(c),
        `corpus ${JSON.stringify(c.py)}`,
        m.corpusScore(corpus.hyps, [corpus.refs]),
        py,
      );
      assert.equal(m.signature(1), py.signature);
    });
    TER_CONFIGS.forEach((c, k) => {
      const py = result<PyTer>(corpusJobs.ter[k]!);
      const m = new Ter(c.ts);
      compareTer(d, `corpus ${JSON.stringify(c.py)}`, m.corpusScore(corpus.hyps, [corpus.refs]), py);
      assert.equal(m.signature(1), py.signature);
    });
    compareBleu(
      d,
      'corpus 2 refs',
      new Bleu().corpusScore(corpus.hyps, streams2),
      result<PyBleu>(corpusJobs.bleu2),
    );
    compareChrf(
      d,
      'chrF++',
      'corpus 2 refs',
      new Chrf({ wordOrder: 2 }).corpusScore(corpus.hyps, streams2),
      result<PyChrf>(corpusJobs.chrf2),
    );
    compareTer(
      d,
      'corpus 2 refs',
      new Ter().corpusScore(corpus.hyps, streams2),
      result<PyTer>(corpusJobs.ter2),
    );
    assert.equal(new Bleu().signature(2), result<PyBleu>(corpusJobs.bleu2).signature);
    const [bleu, chrf, chrfpp, ter] = [
      corpusJobs.bleu[1]!,
      corpusJobs.chrf[0]!,
      corpusJobs.chrf[1]!,
      corpusJobs.ter[0]!,
    ];
    t.diagnostic(
      `Multi30k test2016 (1,000 segments, default options): BLEU ${result<PyBleu>(bleu).score.toFixed(2)}, ` +
        `chrF2 ${result<PyChrf>(chrf).score.toFixed(2)}, chrF2++ ${result<PyChrf>(chrfpp).score.toFixed(2)}, ` +
        `TER ${result<PyTer>(ter).score.toFixed(2)}`,
    );
    t.diagnostic(`corpus max |ours - sacrebleu|: ${d.report()}`);
  });

  it('sentence: 1,000 pairs under every option set equal sacrebleu, signatures too', (t) => {
    const d = new Diffs();
    BLEU_CONFIGS.forEach((c, k) => {
      const py = result<PyBleu[]>(sentenceJobs.bleu[k]!);
      const m = new Bleu(c.ts);
      pairs.forEach(([hyp, refs], i) => {
        const where = `sentence ${JSON.stringify(c.py)} #${i}`;
        compareBleu(d, where, m.sentenceScore(hyp, refs), py[i]!);
        assert.equal(m.signature(refs.length), py[i]!.signature, where);
        // the prepared-reference path (Grow) must give the same statistics
        assert.deepEqual(m.sentenceScore(hyp, m.prepare(refs)), m.sentenceScore(hyp, refs), where);
      });
    });
    CHRF_CONFIGS.forEach((c, k) => {
      const py = result<PyChrf[]>(sentenceJobs.chrf[k]!);
      const m = new Chrf(c.ts);
      pairs.forEach(([hyp, refs], i) => {
        const where = `sentence ${JSON.stringify(c.py)} #${i}`;
        compareChrf(d, chrfMetric(c), where, m.sentenceScore(hyp, refs), py[i]!);
        assert.equal(m.signature(refs.length), py[i]!.signature, where);
        assert.deepEqual(m.sentenceScore(hyp, m.prepare(refs)), m.sentenceScore(hyp, refs), where);
      });
    });
    TER_CONFIGS.forEach((c, k) => {
      const py = result<PyTer[]>(sentenceJobs.ter[k]!);
      const m = new Ter(c.ts);
      terPairs.forEach(([hyp, refs], i) => {
        const where = `sentence ${JSON.stringify(c.py)} #${i}`;
        compareTer(d, where, m.sentenceScore(hyp, refs), py[i]!);
        assert.equal(m.signature(refs.length), py[i]!.signature, where);
      });
    });
    t.diagnostic(`sentence max |ours - sacrebleu|: ${d.report()}`);
  });
});
