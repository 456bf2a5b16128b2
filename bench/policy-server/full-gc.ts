/**
 * Full garbage collections of a policy server under load, and what `runtime.heapGrowingPercent`
 * does to them. One server in this process (nothing else loaded, as in production); `--level`
 * callers on `PolicyServing.generate`, each sending its next source when its last is answered. Each
 * round starts with a full collection (`gc()`: a server that has run for a while has had one, and
 * V8 sizes the heap's next limit from what it leaves), then counts the full collections (V8's
 * `major` GC entries) and translations/s over `--duration` seconds.
 *
 *   node --expose-gc --conditions=source --import tsx bench/policy-server/full-gc.ts \
 *     --bundle policies/bench-d256 --heap-growing-percent 0|100 [--level 8] [--duration 4] [--rounds 3]
 *
 * The factor is process-wide and V8 keeps it once set, so compare settings in separate processes.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { bundlePolicyId, startLocalServer, translateInput } from './local-server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    'heap-growing-percent': { type: 'string' },
    level: { type: 'string', default: '8' },
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'max-new': { type: 'string', default: '32' },
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'multi30k') },
  },
});
if (args.bundle === undefined) throw new Error('--bundle: a policy bundle folder is required');
if (args['heap-growing-percent'] === undefined)
  throw new Error('--heap-growing-percent: 0 (V8’s own) or a percent');
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run node with --expose-gc');
const bundle = resolve(args.bundle);
const policyId = bundlePolicyId(bundle);
const maxNew = Number(args['max-new']);
const level = Number(args.level);
const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8').split('\n').filter(Boolean);

let full = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++;
}).observe({ entryTypes: ['gc'] });

const { infra, server } = await startLocalServer(bundle, {
  POLICY_RUNTIME__INTRA_OP_THREADS: args.threads,
  POLICY_RUNTIME__HEAP_GROWING_PERCENT: args['heap-growing-percent'],
  POLICY_BATCHING__MAX_WAIT_MS: '1ms',
  POLICY_BATCHING__MAX_BATCH_SOURCES: String(Math.max(64, level)),
});
/** Translations/s of `level` callers over `seconds`. */
const load = async (seconds: number): Promise<number> => {
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: level }, async () => {
      while (performance.now() - t0 < seconds * 1000) {
        await server.serving.generate(translateInput(policyId, sources[next++ % sources.length]!, maxNew));
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
};
try {
  await load(2); // warm-up
  for (let round = 1; round <= Number(args.rounds); round++) {
    collect();
    full = 0;
    const perS = await load(Number(args.duration));
    const m = process.memoryUsage();
    console.log(
      `heapGrowingPercent ${args['heap-growing-percent']}, round ${round}: ${perS.toFixed(1)} translations/s, ` +
        `${full} full collections in ${args.duration} s (heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MiB, external ${(m.external / 2 ** 20).toFixed(0)} MiB)`,
    );
  }
} finally {
  await server.shutdown('bench done');
  await infra.stop();
}
