// Training-step benchmark: our engine vs PyTorch CPU on the same Transformer, batches and initial
// weights (see README.md). Run on demand, not in CI:
//   nice -n 10 node --conditions=source --import tsx bench/train-step/bench.ts [--steps 200] [--threads 2]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Graph, ParamTable, Session, Trainer, matMul, rng, saveCheckpoint, transformerParams, transformerTrainingForward,
  type HostTensor, type TransformerConfig,
} from '@rest/runtime';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const STEPS = arg('steps', 200);
const THREADS = arg('threads', 2);
const B = arg('batch', 64);
const L = arg('len', 64);
const PYTHON = process.env.TORCH_PYTHON ?? `${process.env.HOME}/.cache/rest-tools/torch-venv/bin/python`;
const OUT = join(import.meta.dirname, 'out');
mkdirSync(OUT, { recursive: true });

const CFG: TransformerConfig = {
  vocabSize: 8000, dModel: 256, heads: 8, ffnDim: 1024, encoderLayers: 3, decoderLayers: 3,
  maxPositions: 256, preNorm: true, activation: 'relu', dropout: 0, labelSmoothing: 0.1, padId: 0,
};
const HYPER = { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
const WARMUP = 20;

// Batches: B sentences, lengths in [L*3/4, L], ids in [3, V), pad 0, BOS 1, EOS 2.
function makeBatches(): { src: BigInt64Array; tgtIn: BigInt64Array; tgtOut: BigInt64Array }[] {
  const r = rng(1234);
  return Array.from({ length: STEPS }, () => {
    const src = new BigInt64Array(B * L);
    const tgtIn = new BigInt64Array(B * L);
    const tgtOut = new BigInt64Array(B * L);
    for (let b = 0; b < B; b++) {
      const ls = L - Math.floor(r() * (L / 4));
      const lt = L - Math.floor(r() * (L / 4));
      for (let i = 0; i < ls; i++) src[b * L + i] = BigInt(3 + Math.floor(r() * (CFG.vocabSize - 3)));
      // A learnable target: a fixed permutation-ish function of the source.
      const y = Array.from({ length: lt }, (_, i) => 3 + ((Number(src[b * L + (i % ls)]!) * 7 + i) % (CFG.vocabSize - 3)));
      for (let i = 0; i < lt; i++) {
        tgtIn[b * L + i] = BigInt(i === 0 ? 1 : y[i - 1]!);
        tgtOut[b * L + i] = BigInt(i === lt - 1 ? 2 : y[i]!);
      }
    }
    return { src, tgtIn, tgtOut };
  });
}

/** Matmul FLOPs of one training step (forward ×3 for backward), counted from the architecture. */
function stepFlops(tokensSrc: number, tokensTgt: number): number {
  const { dModel: D, ffnDim: F, vocabSize: V } = CFG;
  const enc = tokensSrc * 2 * (4 * D * D + 2 * D * F) + 2 * 2 * B * L * L * D;
  const dec = tokensTgt * 2 * (4 * D * D + 2 * D * F) + 2 * 2 * B * L * L * D // self-attn + ffn
    + tokensTgt * 2 * 2 * D * D + tokensSrc * 2 * 2 * D * D + 2 * 2 * B * L * L * D; // cross-attn
  const out = tokensTgt * 2 * D * V;
  return 3 * (CFG.encoderLayers * enc + CFG.decoderLayers * dec + out);
}

async function matmulGflops(): Promise<number> {
  const n = 2048;
  const g = new Graph('matmul');
  const a = g.input('a', 'f32', [n, n]);
  const b = g.input('b', 'f32', [n, n]);
  g.output(matMul(a, b), 'c');
  const s = await Session.create(g, { intraOpThreads: THREADS, interOpThreads: 1 });
  const r = rng(5);
  const data = Float32Array.from({ length: n * n }, () => r() - 0.5);
  const feeds: Record<string, HostTensor> = { a: { dtype: 'f32', dims: [n, n], data }, b: { dtype: 'f32', dims: [n, n], data } };
  const into: Record<string, HostTensor> = { c: { dtype: 'f32', dims: [n, n], data: new Float32Array(n * n) } };
  await s.run(feeds, into);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await s.run(feeds, into);
    best = Math.min(best, performance.now() - t0);
  }
  await s.release();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

async function main(): Promise<void> {
  const table = new ParamTable(transformerParams(CFG));
  const batches = makeBatches();
  const trainer = await Trainer.create(
    { table, dtype: 'f32', forward: transformerTrainingForward(CFG), optimizer: 'adamw', schedule: { kind: 'inverse-sqrt', warmupSteps: WARMUP } },
    HYPER,
    { intraOpThreads: THREADS, interOpThreads: 1, seed: 42 },
  );
  // Hand the peer the same initial weights and batches.
  await saveCheckpoint(join(OUT, 'init.safetensors'), table, { step: 0, params: trainer.parameters, slots: {} });
  writeFileSync(join(OUT, 'batches.bin'), Buffer.concat(batches.flatMap((x) => [x.src, x.tgtIn, x.tgtOut].map((a) => Buffer.from(a.buffer)))));
  writeFileSync(join(OUT, 'config.json'), JSON.stringify({ ...CFG, ...HYPER, warmup: WARMUP, steps: STEPS, batch: B, len: L, threads: THREADS }));

  const gflopsPeak = await matmulGflops();
  const losses: number[] = [];
  let tokens = 0;
  let flops = 0;
  let timed = 0;
  const skip = Math.min(3, STEPS - 1);
  for (let k = 0; k < STEPS; k++) {
    const x = batches[k]!;
    const t = (d: BigInt64Array): HostTensor => ({ dtype: 'i64', dims: [B, L], data: d });
    const t0 = performance.now();
    const res = await trainer.trainStep({ src: t(x.src), tgt_in: t(x.tgtIn), tgt_out: t(x.tgtOut) });
    const ms = performance.now() - t0;
    losses.push(res.loss);
    const ntok = res.metrics.tokens ?? 0;
    if (k >= skip) {
      timed += ms;
      tokens += ntok;
      flops += stepFlops(x.src.filter((v) => v !== 0n).length, ntok);
    }
    if (k % 10 === 0) console.error(`ours step ${k} loss ${res.loss.toFixed(4)} ${ms.toFixed(0)} ms`);
  }
  await trainer.release();
  const ours = {
    tokensPerSec: tokens / (timed / 1000),
    gflops: flops / (timed / 1000) / 1e9,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    losses,
  };
  const py = spawnSync(PYTHON, [join(import.meta.dirname, 'peer.py'), OUT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (py.status !== 0) throw new Error(`peer failed with ${py.status}`);
  const peer = JSON.parse(py.stdout) as { tokensPerSec: number; peakRssMb: number; losses: number[]; torch: string };
  const diffs = losses.map((l, i) => Math.abs(l - peer.losses[i]!));
  const result = {
    date: new Date().toISOString(), steps: STEPS, threads: THREADS, batch: `${B}x${L}`,
    matmulGflops: gflopsPeak, ours: { ...ours, losses: undefined }, peer: { ...peer, losses: undefined },
    ratio: ours.tokensPerSec / peer.tokensPerSec, fractionOfMatmul: ours.gflops / gflopsPeak,
    maxLossDiff: Math.max(...diffs), lossDiffAt: [0, 9, 49, 99, 199].filter((i) => i < STEPS).map((i) => [i + 1, losses[i], peer.losses[i]]),
  };
  writeFileSync(join(OUT, 'result.json'), JSON.stringify({ ...result, oursLosses: losses, peerLosses: peer.losses }, null, 1));
  console.log(JSON.stringify(result, null, 1));
}

await main();
