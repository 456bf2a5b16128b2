/**
 * The bench's results: one row per (objective, Improve step), the mean and standard error of
 * per-sentence validation rewards, and the markdown table run.ts prints.
 */

/** One policy's validation, and how it was trained (step 0: the starting policy). */
export interface Row {
  objective: string;
  step: number;
  /** Candidates that passed the step's filter. */
  kept: number;
  threshold: string;
  /** Peak learning rate of the step; NaN for step 0. */
  lr: number;
  /** Mean validation reward and its standard error over the validation sentences. */
  reward: number;
  rewardSe: number;
  /** Mean per-sentence change from the previous step's policy, with its (paired) standard error. */
  delta: number;
  deltaSe: number;
  bleu: number;
  /** Words of the validation outputs over words of their references. */
  lengthRatio: number;
  /** Target tokens per second of the step's training (online samples included). */
  tokensPerSecond: number;
  /** Wall time of the step in seconds (preparation, training, validations, bundle). */
  seconds: number;
  /**
   * With a held-out report set: the trained checkpoint the step kept (its optimizer step) and its
   * mean reward on the selection set (the trainer's validation set); for step 0, the starting
   * policy's reward there (once an Improve step has validated it). Absent in older runs.
   */
  selected?: { step: number; reward: number };
}

/** Mean and standard error of the mean (sample standard deviation / √n) of `xs` (non-empty). */
export function stats(xs: readonly number[]): { mean: number; se: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean, se: Math.sqrt(v / xs.length) };
}

const f = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/**
 * The markdown table: the starting policy, then `rows` in the given order. `set` names the sentences
 * the reward columns were measured on; with `selection`, a column gives each step's kept checkpoint and
 * its reward on that (other) set.
 */
export function formatTable(start: Row, rows: readonly Row[], set = 'valid', selection?: string): string {
  const sel = selection === undefined ? '' : ` kept checkpoint: step (${selection} reward) |`;
  const lines = [
    `| objective | step | filter | kept | peak lr |${sel} ${set} reward ± SE | Δ vs previous step ± SE (paired) | BLEU | length ratio | train tokens/s | wall s |`,
    `|---|---|---|---|---|${selection === undefined ? '' : '---|'}---|---|---|---|---|---|`,
    `| (start) | 0 | | | |${selection === undefined ? '' : start.selected === undefined ? ' |' : ` 0 (${f(start.selected.reward, 4)}) |`} ${f(start.reward, 4)} ± ${f(start.rewardSe, 4)} | | ${f(start.bleu, 2)} | ${f(start.lengthRatio, 3)} | | ${f(start.seconds, 0)} |`,
  ];
  for (const r of rows) {
    const kept =
      selection === undefined
        ? ''
        : ` ${r.selected === undefined ? '–' : `${r.selected.step} (${f(r.selected.reward, 4)})`} |`;
    lines.push(
      `| ${r.objective} | ${r.step} | ${r.threshold} | ${r.kept} | ${r.lr.toExponential(1)} |${kept} ${f(r.reward, 4)} ± ${f(r.rewardSe, 4)} | ${r.delta >= 0 ? '+' : ''}${f(r.delta, 4)} ± ${f(r.deltaSe, 4)} | ${f(r.bleu, 2)} | ${f(r.lengthRatio, 3)} | ${f(r.tokensPerSecond, 0)} | ${f(r.seconds, 0)} |`,
    );
  }
  return lines.join('\n');
}
