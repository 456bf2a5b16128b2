// Training-step benchmark: our engine vs PyTorch CPU on the same Transformer, batches and initial
// weights (see README.md). Run on demand, not in CI:
//   nice -n 10 node --conditions=source --import tsx bench/train-step/bench.ts [--steps 200] [--threads 2]
//
// The two engines run in lock step (our step k, then the peer's step k, in two processes) and the MatMul
// reference is sampled between steps, so slow changes in the load of a shared machine hit all three alike.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  Graph,
  ParamTable,
  Session,
  Trainer,
  matMul,
  rng,
  saveCheckpoint,
  transformerParams,
  transformerTrainingForward,
  type HostTensor,
} from '@rest/runtime';
import { CFG, HYPER, WARMUP, makeBatches } from './setup.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const STEPS = arg('steps', 200);
const THREADS = arg('threads', 2);
const B = arg('batch', 64);
const L = arg('len', 64);
/** Sample the MatMul reference before every MATMUL_EVERY-th step. */
const MATMUL_EVERY = arg('matmul-every', 5);
/** Steps left out of the timings (session warm-up, first-touch allocations). */
const SKIP = Math.min(3, STEPS - 1);
const PYTHON = process.env.TORCH_PYTHON ?? `${process.env.HOME}/.cache/rest-tools/torch-venv/bin/python`;
// Generated files (weights, batches, results) go under node_modules/.cache, out of git and the formatters.
const OUT = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'bench-train-step');
mkdirSync(OUT, { recursive: true });

/**
 * Matrix-product FLOPs of one training step as executed: 2·m·n·k per product, backward = 2× forward
 * (every product needs both operand gradients; the first layer's too, since the embeddings are
 * trained). Encoder and decoder run on the padded `[B, L]` shapes, so pad and causally masked positions
 * are computed and count; the output projection runs on the `tokens` non-pad target rows only.
 * Elementwise ops, softmax, LayerNorm and the optimizer are not counted.
 */
function stepFlops(tokens: number): number {
  const { dModel: D, ffnDim: F, vocabSize: V } = CFG;
  const rows = B * L; // S = T = L
  const attention = 2 * (2 * B * L * L * D); // Q·Kᵀ and P·V over all heads: [B, H, L, K]·[B, H, K, L]
  const enc = 2 * rows * (4 * D * D + 2 * D * F) + attention;
  const dec = 2 * rows * (8 * D * D + 2 * D * F) + 2 * attention; // self + cross attention (q,k,v,o each)
  const out = 2 * tokens * D * V;
  return 3 * (CFG.encoderLayers * enc + CFG.decoderLayers * dec + out);
}

/** A 2048³ fp32 MatMul through onnxruntime-node at the benchmark's thread count; `sample()` times one run. */
async function matmulReference(): Promise<{ sample: () => Promise<number>; release: () => Promise<void> }> {
  const n = 2048;
  const g = new Graph('matmul');
  g.output(matMul(g.input('a', 'f32', [n, n]), g.input('b', 'f32', [n, n])), 'c');
  const s = await Session.create(g, { intraOpThreads: THREADS, interOpThreads: 1 });
  const r = rng(5);
  const data = Float32Array.from({ length: n * n }, () => r() - 0.5);
  const feeds: Record<string, HostTensor> = {
    a: { dtype: 'f32', dims: [n, n], data },
    b: { dtype: 'f32', dims: [n, n], data },
  };
  const into: Record<string, HostTensor> = {
    c: { dtype: 'f32', dims: [n, n], data: new Float32Array(n * n) },
  };
  await s.run(feeds, into);
  return {
    sample: async () => {
      const t0 = performance.now();
      await s.run(feeds, into);
      return (2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9;
    },
    release: () => s.release(),
  };
}

/** The PyTorch peer as a child process answering one JSON line per command line. */
function startPeer(): {
  ask: (line: string) => Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const child = spawn(PYTHON, [join(import.meta.dirname, 'peer.py'), OUT], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done === true) throw new Error(`peer exited with ${await exited}`);
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  let first: Promise<Record<string, unknown>> | undefined = next(); // the "ready" line
  return {
    ask: async (line) => {
      if (first !== undefined) {
        await first;
        first = undefined;
      }
      child.stdin.write(`${line}\n`);
      return next();
    },
    exited,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const table = new ParamTable(transformerParams(CFG));
  const batches = makeBatches(STEPS, B, L);
  const trainer = await Trainer.create(
    {
      table,
      dtype: 'f32',
      forward: transformerTrainingForward(CFG),
      optimizer: 'adamw',
      schedule: { kind: 'inverse-sqrt', warmupSteps: WARMUP },
    },
    HYPER,
    { intraOpThreads: THREADS, interOpThreads: 1, seed: 42 },
  );
  // Hand the peer the same initial weights and batches.
  await saveCheckpoint(join(OUT, 'init.safetensors'), table, {
    step: 0,
    params: trainer.parameters,
    slots: {},
  });
  writeFileSync(
    join(OUT, 'batches.bin'),
    Buffer.concat(batches.flatMap((x) => [x.src, x.tgtIn, x.tgtOut].map((a) => Buffer.from(a.buffer)))),
  );
  writeFileSync(
    join(OUT, 'config.json'),
    JSON.stringify({ ...CFG, ...HYPER, warmup: WARMUP, steps: STEPS, batch: B, len: L, threads: THREADS }),
  );
  const peer = startPeer();
  const reference = await matmulReference();

  const ours = { losses: [] as number[], ms: [] as number[], tokens: [] as number[] };
  const theirs = { losses: [] as number[], ms: [] as number[], tokens: [] as number[] };
  const matmul: number[] = [];
  // One line per step as it happens, so a run cut short still leaves its figures.
  const progress = join(OUT, 'progress.jsonl');
  writeFileSync(progress, '');
  for (let k = 0; k < STEPS; k++) {
    if (k >= SKIP && (k - SKIP) % MATMUL_EVERY === 0) matmul.push(await reference.sample());
    const x = batches[k]!;
    const t = (d: BigInt64Array): HostTensor => ({ dtype: 'i64', dims: [B, L], data: d });
    const t0 = performance.now();
    const res = await trainer.trainStep({ src: t(x.src), tgt_in: t(x.tgtIn), tgt_out: t(x.tgtOut) });
    ours.ms.push(performance.now() - t0);
    ours.losses.push(res.loss);
    ours.tokens.push(res.metrics.tokens ?? 0);
    const p = (await peer.ask(`step ${k}`)) as { loss: number; ms: number; tokens: number };
    theirs.losses.push(p.loss);
    theirs.ms.push(p.ms);
    theirs.tokens.push(p.tokens);
    appendFileSync(
      progress,
      `${JSON.stringify({ step: k + 1, ours: { loss: res.loss, ms: ours.ms[k], tokens: ours.tokens[k] }, torch: p, matmul: matmul.at(-1) })}\n`,
    );
    if (k % 10 === 0 || k === STEPS - 1)
      console.error(
        `step ${k}: ours loss ${res.loss.toFixed(6)} ${ours.ms[k]!.toFixed(0)} ms | torch loss ${p.loss.toFixed(6)} ${p.ms.toFixed(0)} ms`,
      );
  }
  const peerEnd = (await peer.ask('done')) as { torch: string; peakRssMb: number };
  await peer.exited;
  await trainer.release();
  await reference.release();

  const sum = (xs: readonly number[]): number => xs.slice(SKIP).reduce((a, b) => a + b, 0);
  const summary = (e: typeof ours) => ({
    tokensPerSec: sum(e.tokens) / (sum(e.ms) / 1000),
    medianStepMs: median(e.ms.slice(SKIP)),
  });
  const a = summary(ours);
  const b = summary(theirs);
  const flops = sum(ours.tokens.map(stepFlops));
  const gflops = flops / (sum(ours.ms) / 1000) / 1e9;
  const matmulMedian = median(matmul);
  const diffs = ours.losses.map((l, i) => Math.abs(l - theirs.losses[i]!));
  const result = {
    date: new Date().toISOString(),
    steps: STEPS,
    timedSteps: STEPS - SKIP,
    threads: THREADS,
    batch: `${B}x${L}`,
    gflopPerStep: flops / (STEPS - SKIP) / 1e9,
    ours: { ...a, gflops, peakRssMb: process.resourceUsage().maxRSS / 1024 },
    peer: { torch: peerEnd.torch, ...b, peakRssMb: peerEnd.peakRssMb },
    ratio: a.tokensPerSec / b.tokensPerSec,
    medianStepRatio: median(theirs.ms.slice(SKIP).map((m, i) => m / ours.ms[SKIP + i]!)),
    matmul: {
      medianGflops: matmulMedian,
      min: Math.min(...matmul),
      max: Math.max(...matmul),
      samples: matmul.length,
    },
    fractionOfMatmul: gflops / matmulMedian,
    maxLossDiff: Math.max(...diffs),
    maxLossDiffAtStep: diffs.indexOf(Math.max(...diffs)) + 1,
    lossAt: [0, 9, 49, 99, 199]
      .filter((i) => i < STEPS)
      .map((i) => ({ step: i + 1, ours: ours.losses[i], torch: theirs.losses[i] })),
  };
  writeFileSync(
    join(OUT, 'result.json'),
    JSON.stringify(
      { ...result, oursMs: ours.ms, peerMs: theirs.ms, oursLosses: ours.losses, peerLosses: theirs.losses },
      null,
      1,
    ),
  );
  console.log(JSON.stringify(result, null, 1));
}

await main();
