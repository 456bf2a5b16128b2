/**
 * Sentence-level reference metrics: pairs per second of @rest/text vs the sacrebleu Python package
 * on the same pairs, in one run. Pairs are Multi30k train references with deterministic perturbed
 * hypotheses (@rest/text/testing; a later issue swaps in policy samples). sacrebleu is timed inside
 * Python (one metric object, `sentence_score` per pair, after a warm-up, best of REPEATS passes with
 * its tokenizers' lru_caches cleared before each), so interpreter start-up and JSON transfer are
 * excluded; ours is timed the same way. Each metric's Python and Node timings run back to back, so
 * load from other processes skews the ratio less.
 *
 * Two ways of ours are measured: "raw", which tokenizes and counts the reference on every call as
 * sacrebleu does, and "prepared", the Grow path, where a source's N candidates share one prepared
 * reference (CANDIDATES_PER_REF hypotheses per reference).
 *
 * Usage: nice node --conditions=source --import tsx bench/reward/metrics.ts [pairs]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bleu, Chrf, Ter } from '@rest/text';
import { perturbCorpus, runSacrebleuPeer } from '@rest/text/testing';

const PAIRS = Number(process.argv[2] ?? 12_000);
const CANDIDATES_PER_REF = 8;
const REPEATS = 3;
const DATA_DIR = fileURLToPath(new URL('../../../shared/data/multi30k/', import.meta.url));

function lines(name: string, n: number): string[] {
  return readFileSync(`${DATA_DIR}${name}`, 'utf8').split('\n').slice(0, n);
}

type Pair = [hyp: string, refs: string[]];

interface Metric {
  name: string;
  py: { metric: string; options: Record<string, unknown> };
  raw: (pairs: readonly Pair[]) => number;
  prepared: (groups: readonly { ref: string; hyps: string[] }[]) => number;
}

function makeMetric<R>(
  name: string,
  py: Metric['py'],
  m: {
    sentenceScore(h: string, r: readonly string[] | R): { score: number };
    prepare(r: readonly string[]): R;
  },
): Metric {
  return {
    name,
    py,
    raw: (pairs) => {
      let sum = 0;
      for (const [hyp, refs] of pairs) sum += m.sentenceScore(hyp, refs).score;
      return sum;
    },
    prepared: (groups) => {
      let sum = 0;
      for (const g of groups) {
        const ref = m.prepare([g.ref]);
        for (const hyp of g.hyps) sum += m.sentenceScore(hyp, ref).score;
      }
      return sum;
    },
  };
}

function bestSeconds(fn: () => number): { seconds: number; checksum: number } {
  fn(); // warm-up: JIT
  let best = Infinity;
  let checksum = 0;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    checksum = fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { seconds: best, checksum };
}

const refs = lines('train.en', PAIRS);
const srcs = lines('train.de', PAIRS);
const hyps = perturbCorpus(refs, srcs, 1);
const pairs: Pair[] = refs.map((r, i) => [hyps[i]!, [r]]);
const groupRefs = refs.slice(0, Math.ceil(PAIRS / CANDIDATES_PER_REF));
const candidates = Array.from({ length: CANDIDATES_PER_REF }, (_, k) =>
  perturbCorpus(groupRefs, srcs, 100 + k),
);
const groups = groupRefs.map((ref, i) => ({ ref, hyps: candidates.map((c) => c[i]!) }));
const groupPairs: Pair[] = groups.flatMap((g) => g.hyps.map((h): Pair => [h, [g.ref]]));

const metrics: Metric[] = [
  makeMetric('chrF2', { metric: 'chrf', options: {} }, new Chrf()),
  makeMetric('chrF2++', { metric: 'chrf', options: { word_order: 2 } }, new Chrf({ wordOrder: 2 })),
  makeMetric(
    'BLEU (sentence, eff)',
    { metric: 'bleu', options: { effective_order: true } },
    new Bleu({ effectiveOrder: true }),
  ),
  makeMetric('TER', { metric: 'ter', options: {} }, new Ter()),
];

function sacrebleuSeconds(m: Metric, timed: readonly Pair[]): { seconds: number; version: string } {
  const peer = runSacrebleuPeer([{ kind: 'time', ...m.py, pairs: timed, repeats: REPEATS }]);
  return { seconds: (peer.results[0] as { seconds: number }).seconds, version: peer.version };
}

console.log(`sentence metrics, ${pairs.length} pairs (Multi30k train.en, perturbed)`);
console.log(`node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(
  '| metric | sacrebleu pairs/s | ours raw pairs/s | ratio | ours prepared pairs/s (8 cand./ref) | ratio |',
);
console.log('|---|---:|---:|---:|---:|---:|');
let version = '';
for (const m of metrics) {
  const py = sacrebleuSeconds(m, pairs);
  version = py.version;
  const raw = bestSeconds(() => m.raw(pairs));
  const pyGroupSeconds = sacrebleuSeconds(m, groupPairs).seconds;
  const prep = bestSeconds(() => m.prepared(groups));
  const pyRaw = pairs.length / py.seconds;
  const pyGroup = groupPairs.length / pyGroupSeconds;
  const oursRaw = pairs.length / raw.seconds;
  const oursPrep = groupPairs.length / prep.seconds;
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `| ${m.name} | ${fmt(pyRaw)} | ${fmt(oursRaw)} | ${(oursRaw / pyRaw).toFixed(1)}× | ${fmt(oursPrep)} | ${(oursPrep / pyGroup).toFixed(1)}× |`,
  );
}
console.log(`sacrebleu ${version}; best of ${REPEATS} passes each`);
