/**
 * Our decoding on two sides in one process, rounds alternating (A B, then B A), so that both see the
 * same machine load. A side is a bundle loaded with or without the cached decoder
 * (`--a-cached`, `--b-cached`; `Seq2SeqModel.load`'s `cachedDecoder`), and with or without the
 * cached decoder's greedy head (`--a-head`, `--b-head`; `greedyHead`). Meant for:
 *
 * - a bundle whose decoder emits raw logits (normalised per row in JavaScript) against its re-export
 *   whose decoder emits log-probabilities (`bench/generate/rebundle.ts`);
 * - one bundle of ours with the merged decoder throughout (`--a-cached off`) against the cached
 *   decoder for the steps after the first (`--b` the same bundle).
 *
 * Reports per side the median round, generated tokens/s, where the time goes (encoder, decoder,
 * other = JavaScript) and the B/A speed ratio; greedy outputs are compared token for token.
 *
 *   node --conditions=source --import tsx bench/generate/ab.ts --a policies/pretrained \
 *     --b policies/pretrained-v2 [--a-cached on|off] [--b-cached on|off] [--a-head on|off] \
 *     [--b-head on|off] [--sentences 200] \
 *     [--rounds 6] [--threads 2] [--modes greedy,sample] [--batch 32]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Seq2SeqModel, generate, type Candidate, type DecodingOptions } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string', default: 'policies/pretrained' },
    b: { type: 'string', default: 'policies/pretrained-v2' },
    'a-cached': { type: 'string', default: 'on' },
    'b-cached': { type: 'string', default: 'on' },
    'a-head': { type: 'string', default: 'on' },
    'b-head': { type: 'string', default: 'on' },
    sentences: { type: 'string', default: '200' },
    n: { type: 'string', default: '8' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '6' },
    threads: { type: 'string', default: '2' },
    'max-new': { type: 'string', default: '64' },
    modes: { type: 'string', default: 'greedy,sample' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
const N = Number(args.n);
const batch = Number(args.batch);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
const maxNew = Number(args['max-new']);
const onOff = (flag: 'a-cached' | 'b-cached' | 'a-head' | 'b-head'): boolean => {
  if (args[flag] !== 'on' && args[flag] !== 'off') throw new Error(`--${flag} must be on or off`);
  return args[flag] === 'on';
};
const cached = [onOff('a-cached'), onOff('b-cached')] as const;
const head = [onOff('a-head'), onOff('b-head')] as const;

const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, Number(args.sentences));
const tok = await loadTokenizer(resolve(args.a));
const sourceIds = sources.map((s) => tok.encode(s));

interface Round {
  totalMs: number;
  encoderMs: number;
  decoderMs: number;
  tokens: number;
}
interface Side {
  name: string;
  model: Seq2SeqModel;
  /** The round being timed. */
  now: Round;
}

/** Wraps the model's `encode` and `step` to add their wall time to the side's current round. */
function instrument(side: Side): void {
  for (const [name, field] of [
    ['encode', 'encoderMs'],
    ['step', 'decoderMs'],
    ['stepGreedy', 'decoderMs'],
  ] as const) {
    const m = side.model as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const f = m[name]!.bind(side.model);
    m[name] = async (...a: unknown[]) => {
      const t = performance.now();
      try {
        return await f(...a);
      } finally {
        side.now[field] += performance.now() - t;
      }
    };
  }
}

async function load(dir: string, cachedDecoder: boolean, greedyHead: boolean): Promise<Side> {
  const { model } = await Seq2SeqModel.load(
    resolve(dir),
    { intraOpThreads: threads, allowSpinning: false },
    { cachedDecoder, greedyHead },
  );
  const decoder = model.hasCachedDecoder ? 'cached decoder' : 'merged decoder only';
  const name = `${dir} (${decoder}${model.hasGreedyHead ? ', greedy head' : ''})`;
  const side: Side = { name, model, now: { totalMs: 0, encoderMs: 0, decoderMs: 0, tokens: 0 } };
  instrument(side);
  return side;
}

/** One round over every source; returns the first candidate of each. */
async function round(side: Side, opts: DecodingOptions, perBatch: number): Promise<Candidate[]> {
  side.now = { totalMs: 0, encoderMs: 0, decoderMs: 0, tokens: 0 };
  const firsts: Candidate[] = [];
  const t = performance.now();
  for (let i = 0; i < sourceIds.length; i += perBatch)
    for (const cs of await generate(side.model, sourceIds.slice(i, i + perBatch), opts)) {
      firsts.push(cs[0]!);
      for (const c of cs) side.now.tokens += c.tokenIds.length;
    }
  side.now.totalMs = performance.now() - t;
  return firsts;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const sides = [await load(args.a, cached[0], head[0]), await load(args.b, cached[1], head[1])] as const;
const results: object[] = [];
for (const mode of args.modes.split(',')) {
  const sample = mode === 'sample';
  const opts: DecodingOptions = sample
    ? { strategy: 'sample', numReturn: N, temperature: 0.8, seed: 1, maxNewTokens: maxNew }
    : { strategy: 'greedy', maxNewTokens: maxNew };
  const perBatch = Math.max(1, Math.floor(batch / (sample ? N : 1)));
  const kept: Round[][] = [[], []];
  let differing = 0;
  for (let r = 0; r <= rounds; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    const outs: Candidate[][] = [];
    for (const k of order) {
      outs[k] = await round(sides[k]!, opts, perBatch);
      if (r > 0) kept[k]!.push(sides[k]!.now); // round 0 warms up
    }
    if (!sample)
      differing = outs[0]!.filter(
        (c, i) => JSON.stringify(c.tokenIds) !== JSON.stringify(outs[1]![i]!.tokenIds),
      ).length;
  }
  const summary = kept.map((rs, k) => {
    const ms = rs.reduce((a, x) => a + x.totalMs, 0);
    const tokens = rs.reduce((a, x) => a + x.tokens, 0);
    return {
      bundle: sides[k]!.name,
      logitsNormalized: sides[k]!.model.logitsNormalized,
      cachedDecoder: sides[k]!.model.hasCachedDecoder,
      greedyHead: sides[k]!.model.hasGreedyHead,
      tokS: (tokens / ms) * 1000,
      medianMs: Math.round(median(rs.map((x) => x.totalMs))),
      encoderMs: Math.round(median(rs.map((x) => x.encoderMs))),
      decoderMs: Math.round(median(rs.map((x) => x.decoderMs))),
      otherMs: Math.round(median(rs.map((x) => x.totalMs - x.encoderMs - x.decoderMs))),
    };
  });
  const ratio = summary[1]!.tokS / summary[0]!.tokS;
  results.push({
    mode,
    sides: summary,
    ratioBOverA: ratio,
    ...(sample ? {} : { greedyDiffering: differing }),
  });
  console.error(
    `${mode}: B/A ${ratio.toFixed(3)}×` +
      (sample ? '' : `, greedy outputs differing ${differing}/${sources.length}`),
  );
  for (const s of summary)
    console.error(
      `  ${s.bundle} (normalised ${s.logitsNormalized}): ${s.tokS.toFixed(0)} tok/s, median round ${s.medianMs} ms = encoder ${s.encoderMs} + decoder ${s.decoderMs} + other ${s.otherMs}`,
    );
}
console.log(
  JSON.stringify({ a: args.a, b: args.b, sentences: sources.length, rounds, threads, results }, null, 2),
);
for (const s of sides) await s.model.release();
