/**
 * Generation throughput: our batched, KV-cached decoding (@rest/runtime `generate`) against
 * transformers.js' `generate` on the same policy bundle, sentences and decoding settings, in one
 * process, alternating rounds so both see the same machine load. Reports generated tokens/s of each
 * and the ratio, for greedy decoding and for sampling N candidates per source.
 *
 *   node --conditions=source --import tsx bench/generate/bench.ts --bundle policies/pretrained \
 *     [--sentences 200] [--n 8] [--batch 32] [--rounds 3] [--threads 2] [--spinning off]
 *
 * Tokens are counted the same way for both: generated ids up to and including the end token.
 * transformers.js has no batched N-samples-per-source option for encoder–decoders (its loop keeps one
 * candidate per row), so for sampling each source is repeated N times in its batch — the same rows
 * our `numReturn` decodes. Greedy outputs are compared token for token as a side check.
 */
import { basename, dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AutoModelForSeq2SeqLM, AutoTokenizer, Tensor, env } from '@huggingface/transformers';
import { Seq2SeqModel, generate, type DecodingOptions } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'policies/pretrained' },
    sentences: { type: 'string', default: '200' },
    n: { type: 'string', default: '8' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    spinning: { type: 'string', default: 'off' },
    'max-new': { type: 'string', default: '64' },
    modes: { type: 'string', default: 'greedy,sample' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
const bundle = resolve(args.bundle);
const sentences = Number(args.sentences);
const N = Number(args.n);
const batch = Number(args.batch);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
const maxNew = Number(args['max-new']);
if (args.spinning !== 'on' && args.spinning !== 'off') throw new Error('--spinning: on or off');
/** Both sides get the same intra-op pool settings (see SessionOptions.allowSpinning). */
const allowSpinning = args.spinning === 'on';

const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, sentences);
const tok = await loadTokenizer(bundle);
const ids = sources.map((s) => tok.encode(s));
const { model } = await Seq2SeqModel.load(bundle, { intraOpThreads: threads, allowSpinning });

env.allowRemoteModels = false;
env.localModelPath = dirname(bundle);
const theirs = await AutoModelForSeq2SeqLM.from_pretrained(basename(bundle), {
  dtype: 'fp32',
  session_options: {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    ...(allowSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  },
});
await AutoTokenizer.from_pretrained(basename(bundle)); // loads as a user would; ids come from ours (same, see tests)

/**
 * Where each side's time goes, per timed round: the encoder, the decoder (our `encode` / `step`,
 * transformers.js' session runs; both include the session run, ours also its feeds and buffers),
 * and everything else (JavaScript: choosing tokens, bookkeeping); decoder runs and the rows they
 * decoded.
 */
interface Breakdown {
  encoderMs: number;
  decoderMs: number;
  decoderRuns: number;
  decoderRows: number;
}
const span = { ours: newBreakdown(), theirs: newBreakdown() };
function newBreakdown(): Breakdown {
  return { encoderMs: 0, decoderMs: 0, decoderRuns: 0, decoderRows: 0 };
}
/** Wraps `obj[name]` (async) to add its wall time to `into[field]` and count rows. */
function timed<O extends object>(
  obj: O,
  name: keyof O & string,
  into: () => Breakdown,
  field: 'encoderMs' | 'decoderMs',
  rows?: (args: unknown[]) => number,
): void {
  const f = (obj[name] as (...a: unknown[]) => Promise<unknown>).bind(obj);
  Object.assign(obj, {
    [name]: async (...a: unknown[]) => {
      const t = performance.now();
      try {
        return await f(...a);
      } finally {
        const b = into();
        b[field] += performance.now() - t;
        if (rows !== undefined) {
          b.decoderRuns++;
          b.decoderRows += rows(a);
        }
      }
    },
  });
}
timed(model, 'encode', () => span.ours, 'encoderMs');
timed(
  model,
  'step',
  () => span.ours,
  'decoderMs',
  (a) => (a[0] as { rows: number }).rows,
);
const theirSessions = (theirs as unknown as { sessions: Record<string, { run: () => Promise<unknown> }> })
  .sessions;
for (const [key, session] of Object.entries(theirSessions)) {
  if (key === 'decoder_model_merged')
    timed(
      session,
      'run',
      () => span.theirs,
      'decoderMs',
      (a) => {
        const feeds = a[0] as Record<string, { dims: readonly number[] }>;
        return feeds.input_ids?.dims[0] ?? 0;
      },
    );
  else timed(session, 'run', () => span.theirs, 'encoderMs');
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Ours: returns generated tokens and the greedy/first candidate ids per row. */
async function runOurs(
  opts: DecodingOptions,
  rowsPer: number,
): Promise<{ tokens: number; seqs: number[][] }> {
  let tokens = 0;
  const seqs: number[][] = [];
  for (const c of chunks(ids, Math.max(1, Math.floor(batch / rowsPer)))) {
    const out = await generate(model, c, opts);
    for (const cands of out) for (const cand of cands) tokens += cand.tokenIds.length;
    seqs.push(...out.map((cs) => cs[0]!.tokenIds));
  }
  return { tokens, seqs };
}

/** transformers.js: rows = sources repeated `rowsPer` times, right-padded, batched. */
async function runTheirs(doSample: boolean, rowsPer: number): Promise<{ tokens: number; seqs: number[][] }> {
  let tokens = 0;
  const seqs: number[][] = [];
  const eos = 1;
  for (const c of chunks(ids, Math.max(1, Math.floor(batch / rowsPer)))) {
    const rows = c.flatMap((x) => Array.from({ length: rowsPer }, () => x));
    const L = Math.max(...rows.map((r) => r.length));
    const input = new BigInt64Array(rows.length * L);
    const mask = new BigInt64Array(rows.length * L);
    rows.forEach((r, i) => r.forEach((t, j) => ((input[i * L + j] = BigInt(t)), (mask[i * L + j] = 1n))));
    const out = (await theirs.generate({
      inputs: new Tensor('int64', input, [rows.length, L]),
      attention_mask: new Tensor('int64', mask, [rows.length, L]),
      max_new_tokens: maxNew,
      do_sample: doSample,
      num_beams: 1,
      ...(doSample ? { temperature: 0.8, top_k: 0 } : {}),
    })) as Tensor;
    const list = (out.tolist() as bigint[][]).map((r) => r.map(Number).slice(1));
    list.forEach((r, i) => {
      const end = r.indexOf(eos);
      const gen = end < 0 ? r : r.slice(0, end + 1);
      tokens += gen.length;
      if (i % rowsPer === 0) seqs.push(gen);
    });
  }
  return { tokens, seqs };
}

const results: object[] = [];
const modes = args.modes.split(',').map((m) => (m === 'sample' ? `sample N=${N}` : m));
for (const mode of modes) {
  const sample = mode !== 'greedy';
  const rowsPer = sample ? N : 1;
  const opts: DecodingOptions = sample
    ? { strategy: 'sample', numReturn: N, temperature: 0.8, seed: 1, maxNewTokens: maxNew }
    : { strategy: 'greedy', maxNewTokens: maxNew };
  let oursMs = 0;
  let theirsMs = 0;
  let oursTok = 0;
  let theirsTok = 0;
  let mismatches = 0;
  const parts = { ours: newBreakdown(), theirs: newBreakdown() };
  for (let r = 0; r < rounds + 1; r++) {
    span.ours = newBreakdown();
    span.theirs = newBreakdown();
    let t = performance.now();
    const a = await runOurs(opts, rowsPer);
    const ms1 = performance.now() - t;
    t = performance.now();
    const b = await runTheirs(sample, rowsPer);
    const ms2 = performance.now() - t;
    if (!sample) mismatches = a.seqs.filter((s, i) => JSON.stringify(s) !== JSON.stringify(b.seqs[i])).length;
    if (r === 0) continue; // warm-up round
    for (const side of ['ours', 'theirs'] as const)
      for (const k of Object.keys(parts[side]) as (keyof Breakdown)[])
        parts[side][k] += span[side][k] / rounds;
    oursMs += ms1;
    theirsMs += ms2;
    oursTok += a.tokens;
    theirsTok += b.tokens;
  }
  const perRound = (side: 'ours' | 'theirs', totalMs: number) => {
    const p = parts[side];
    const round = (x: number): number => Math.round(x);
    return {
      totalMs: round(totalMs / rounds),
      encoderMs: round(p.encoderMs),
      decoderMs: round(p.decoderMs),
      otherMs: round(totalMs / rounds - p.encoderMs - p.decoderMs),
      decoderRuns: round(p.decoderRuns),
      decoderRows: round(p.decoderRows),
    };
  };
  const row = {
    mode,
    oursTokS: (oursTok / oursMs) * 1000,
    theirsTokS: (theirsTok / theirsMs) * 1000,
    ratio: oursTok / oursMs / (theirsTok / theirsMs),
    breakdown: { ours: perRound('ours', oursMs), transformersJs: perRound('theirs', theirsMs) },
  };
  results.push(row);
  console.error(
    `${mode}: ours ${row.oursTokS.toFixed(0)} tok/s, transformers.js ${row.theirsTokS.toFixed(0)} tok/s, ratio ${row.ratio.toFixed(2)}×` +
      (sample ? '' : `, greedy outputs differing: ${mismatches}/${sources.length}`),
  );
  for (const [side, b] of Object.entries(row.breakdown))
    console.error(
      `  ${side} per round: ${b.totalMs} ms = encoder ${b.encoderMs} + decoder ${b.decoderMs} + other ${b.otherMs}; ` +
        `${b.decoderRuns} decoder runs over ${b.decoderRows} rows`,
    );
}
console.log(
  JSON.stringify(
    { bundle, sentences, N, batch, rounds, threads, spinning: args.spinning, maxNew, results },
    null,
    2,
  ),
);
await model.release();
await theirs.dispose();
