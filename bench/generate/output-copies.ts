/**
 * What onnxruntime-node allocates per decoder step and what that costs in garbage collections.
 * Its `run` returns every fetched output as a new `ArrayBuffer`, also the outputs bound to the
 * caller's buffers (which it fills in place as well), so each cached step of `Seq2SeqModel.step`
 * allocates about the size of its logits and self-attention presents.
 *
 * For each row count: the `ArrayBuffer` bytes one cached step leaves behind (after a forced
 * collection, 8 steps on one state), fetching the logits (`step`) and fetching the greedy head
 * (`stepGreedy`, what greedy `generate` runs); then the mark-compact and scavenge collections
 * during `--calls` greedy `generate` calls of that many sources, against the same number of
 * `encode` calls (the encoder's one output per call) as a baseline. Needs `--expose-gc`:
 *
 *   node --expose-gc --conditions=source --import tsx bench/generate/output-copies.ts \
 *     --bundle policies/bench-d256 [--rows 1,64] [--calls 100] [--threads 2]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Seq2SeqModel, generate } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    rows: { type: 'string', default: '1,64' },
    calls: { type: 'string', default: '100' },
    threads: { type: 'string', default: '2' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
if (args.bundle === undefined) throw new Error('--bundle: a policy bundle folder is required');
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run node with --expose-gc');

const tok = await loadTokenizer(args.bundle);
const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((s) => tok.encode(s));
const { model } = await Seq2SeqModel.load(args.bundle, {
  intraOpThreads: Number(args.threads),
  allowSpinning: false,
});

let majors = 0;
let minors = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minors++;
  }
});
gcs.observe({ entryTypes: ['gc'] });
const collections = async (f: () => Promise<unknown>): Promise<string> => {
  majors = 0;
  minors = 0;
  await f();
  await new Promise((r) => setImmediate(r)); // let the observer see the last entries
  return `${majors} mark-compact, ${minors} scavenge`;
};

let next = 0;
const batch = (rows: number) => Array.from({ length: rows }, () => sources[next++ % sources.length]!);
const calls = Number(args.calls);
try {
  for (const rows of args.rows.split(',').map(Number)) {
    const { hidden, mask } = await model.encode(batch(rows));
    const state = model.start(hidden, mask);
    await model.step(state, new BigInt64Array(rows)); // the first step (merged decoder)
    for (let i = 0; i < 5; i++) await model.step(state, new BigInt64Array(rows).fill(5n));
    // Collect twice, a turn apart: backing stores are freed after the collection that finds them dead.
    const perStep = async (step: () => Promise<unknown>): Promise<number> => {
      collect();
      await new Promise((r) => setImmediate(r));
      collect();
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 8; i++) await step();
      return (process.memoryUsage().arrayBuffers - before) / 8;
    };
    const tokens = () => new BigInt64Array(rows).fill(5n);
    const withLogits = await perStep(() => model.step(state, tokens()));
    const withHead = await perStep(() => model.stepGreedy(state, tokens()));
    const logits = rows * model.vocabSize * 4;
    const decoding = await collections(async () => {
      for (let i = 0; i < calls; i++)
        await generate(model, batch(rows), { strategy: 'greedy', maxNewTokens: 32 });
    });
    const encoding = await collections(async () => {
      for (let i = 0; i < calls; i++) await model.encode(batch(rows));
    });
    console.log(
      `${rows} rows: ArrayBuffers left per cached step ${(withLogits / 1024).toFixed(0)} KiB fetching the logits (${(logits / 1024).toFixed(0)} KiB of them), ` +
        `${(withHead / 1024).toFixed(0)} KiB fetching the greedy head; ` +
        `${calls} generate calls: ${decoding}; ${calls} encode calls: ${encoding}`,
    );
  }
} finally {
  gcs.disconnect();
  await model.release();
}
