// Per-node profile of the benchmark's training step (onnxruntime session profiling), aggregated by op
// type and by node. Run on demand:
//   nice -n 10 node --conditions=source --import tsx bench/train-step/profile.ts [--steps 4] [--threads 2]
import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ParamTable,
  Trainer,
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
const STEPS = arg('steps', 4);
const THREADS = arg('threads', 2);
const B = 64;
const L = 64;
const OUT = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'bench-train-step', 'profile');
mkdirSync(OUT, { recursive: true });
const prefix = join(OUT, `step_${Date.now()}`);

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

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
    { intraOpThreads: THREADS, interOpThreads: 1, seed: 42, profileFilePrefix: prefix },
  );
  const wall: number[] = [];
  for (const x of batches) {
    const t = (d: BigInt64Array): HostTensor => ({ dtype: 'i64', dims: [B, L], data: d });
    const t0 = performance.now();
    await trainer.trainStep({ src: t(x.src), tgt_in: t(x.tgtIn), tgt_out: t(x.tgtOut) });
    wall.push(performance.now() - t0);
  }
  await trainer.release();
  const file = readdirSync(OUT)
    .filter((f) => f.startsWith(prefix.split('/').pop()!))
    .map((f) => join(OUT, f))[0];
  if (file === undefined) throw new Error('no profile written');
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  // Node events of the runs after the first (warm-up).
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const perRun = nodes.length / runs.length;
  const timed = nodes.slice(perRun);
  const n = runs.length - 1;
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  for (const e of timed) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / n);
    const name = `${op} ${e.name.replace(/_kernel_time$/, '')}`;
    byNode.set(name, (byNode.get(name) ?? 0) + e.dur / n);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  const runMs = runs.slice(1).map((r) => r.dur / 1000);
  console.log(
    `steps ${STEPS}, wall ms ${wall.map((w) => w.toFixed(0)).join(' ')}; model_run ms ${runMs.map((r) => r.toFixed(0)).join(' ')}`,
  );
  console.log(`kernel time per step ${(total / 1000).toFixed(1)} ms over ${perRun} kernels`);
  const top = (m: Map<string, number>, k: number): void => {
    for (const [name, us] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k))
      console.log(
        `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
      );
  };
  console.log('-- by op type');
  top(byOp, 30);
  console.log('-- by node');
  top(byNode, 40);
}

await main();
