/**
 * Several seeds of one protocol, summed up: run.ts work folders that differ only in `--seed` (and in
 * which objectives each ran) → one table objective × step with the mean over seeds of the kept
 * checkpoint's validation reward, how many seeds rose on validation at that step, and the mean
 * report-set reward and paired change.
 *
 *   node --conditions=source --import tsx bench/improve/seeds.ts [--start-valid R] DIR[:OBJ,OBJ]...
 *
 * A single run's "rises at every step" is a coin flip wherever a step's gain is about one paired
 * standard error (bench/improve/README.md); over seeds, the training noise averages out while the
 * validation set stays fixed, which is the question "does this objective raise the validation
 * reward". `DIR:bc,alol` takes only those objectives from a folder. `--start-valid` supplies the starting policy's validation reward for folders written
 * before results.json kept it. Folders whose settings differ in anything but the seed and the
 * learning rates are refused, as is an objective that two folders ran with the same seed; an
 * objective's learning rate must be the same in every seed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stats, type Row } from './report.js';

const { values: args, positionals: dirs } = parseArgs({
  options: { 'start-valid': { type: 'string' } },
  allowPositionals: true,
});
if (dirs.length === 0) fail('give one or more run.ts work folders');

function fail(message: string): never {
  console.error(`bench/improve/seeds: ${message}`);
  process.exit(2);
}

/** settings.json without what may differ between seeds of one protocol. */
function protocol(settings: Record<string, unknown>): string {
  const { seed: _seed, improve, ...rest } = settings as { seed: unknown; improve: unknown[] };
  // improve[3] is the --lr list: compared per objective below, from the rows.
  return JSON.stringify({ ...rest, improve: improve.filter((_, i) => i !== 3) });
}

interface Chain {
  readonly seed: string;
  readonly rows: Row[];
}
const chains = new Map<string, Chain[]>();
let reference: { dir: string; protocol: string } | undefined;
let start: Row | undefined;
let startValid = args['start-valid'] === undefined ? undefined : Number(args['start-valid']);
if (startValid !== undefined && !Number.isFinite(startValid)) fail('--start-valid: not a number');
for (const arg of dirs) {
  const [dir, only] = arg.split(':') as [string, string | undefined];
  const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as Record<string, unknown>;
  const rows = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Row[];
  const p = protocol(settings);
  if (reference === undefined) reference = { dir, protocol: p };
  else if (p !== reference.protocol)
    fail(
      `${dir}/settings.json: not the protocol of ${reference.dir} (they may differ only in --seed and --lr)`,
    );
  const seed = String(settings['seed']);
  const first = rows.find((r) => r.step === 0);
  if (first === undefined) fail(`${dir}/results.json: no start row`);
  start ??= first;
  startValid ??= first.selected?.reward;
  const objectives = new Set(rows.filter((r) => r.step > 0).map((r) => r.objective));
  if (only !== undefined) {
    for (const o of only.split(','))
      if (!objectives.has(o))
        fail(`${dir}/results.json: no ${o} rows (it has ${[...objectives].join(', ')})`);
    for (const o of objectives) if (!only.split(',').includes(o)) objectives.delete(o);
  }
  for (const objective of objectives) {
    const list = chains.get(objective) ?? [];
    if (list.some((c) => c.seed === seed))
      fail(`${dir}: ${objective} with seed ${seed} is in another folder too`);
    const own = rows.filter((r) => r.objective === objective && r.step > 0).sort((a, b) => a.step - b.step);
    if (own.some((r) => r.selected === undefined))
      fail(
        `${dir}/results.json: ${objective} rows without a kept checkpoint (run with a held-out report set)`,
      );
    if (list.length > 0 && own.some((r, i) => r.lr !== list[0]!.rows[i]?.lr))
      fail(`${dir}: ${objective} ran at another learning rate than with seed ${list[0]!.seed}`);
    list.push({ seed, rows: own });
    chains.set(objective, list);
  }
}
if (startValid === undefined)
  fail(
    'no folder records the starting policy’s validation reward: pass --start-valid (the log’s "i1 step 0")',
  );

const f = (x: number, digits: number): string => x.toFixed(digits);
const signed = (x: number, digits: number): string => `${x >= 0 ? '+' : ''}${f(x, digits)}`;
const meanSe = (xs: number[], digits: number, sign = false): string => {
  const s = stats(xs);
  const m = sign ? signed(s.mean, digits) : f(s.mean, digits);
  return xs.length > 1 ? `${m} ± ${f(s.se, digits)}` : m;
};
console.log(
  '| objective | step | peak lr | seeds | valid reward of the kept checkpoint (mean ± SE over seeds) | valid Δ vs previous step (mean ± SE) | seeds whose valid rose | test reward (mean) | test Δ, paired (mean ± SE over seeds) | BLEU (mean) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
console.log(
  `| (start) | 0 | | | ${f(startValid, 4)} | | | ${f(start!.reward, 4)} | | ${f(start!.bleu, 2)} |`,
);
for (const [objective, list] of chains) {
  const steps = Math.min(...list.map((c) => c.rows.length));
  for (let k = 0; k < steps; k++) {
    const valid = list.map((c) => c.rows[k]!.selected!.reward);
    const before = list.map((c) => (k === 0 ? startValid : c.rows[k - 1]!.selected!.reward));
    const gains = valid.map((v, i) => v - before[i]!);
    const rose = gains.filter((g) => g > 0).length;
    console.log(
      `| ${objective} | ${k + 1} | ${list[0]!.rows[k]!.lr.toExponential(1)} | ${list.map((c) => c.seed).join(', ')} | ${meanSe(valid, 4)} | ${meanSe(gains, 4, true)} | ${rose} of ${list.length} | ${f(stats(list.map((c) => c.rows[k]!.reward)).mean, 4)} | ${meanSe(
        list.map((c) => c.rows[k]!.delta),
        4,
        true,
      )} | ${f(stats(list.map((c) => c.rows[k]!.bleu)).mean, 2)} |`,
    );
  }
}
