/**
 * `rest inspect <run-id>`: a run's rewards in the terminal. Per Grow step a unicode histogram of its
 * samples' rewards; per Improve step the threshold, the examples kept and their histogram; then a
 * sample browser (one source with its candidates best first and which Improve steps kept each).
 * `--json` prints the same as one JSON document. The work is in `src/inspect/`, loaded only when the
 * command runs.
 */
import type { Command } from 'commander';
import type { InspectFlags } from '../inspect/run.js';

function integer(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: must be an integer >= ${min} (got ${v})`);
    return n;
  };
}

/** Registers `rest inspect` on the program. */
export function addInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description(
      "a run's rewards in the terminal: per Grow step a histogram of its samples' rewards, per Improve step " +
        'the threshold, examples kept and their histogram, then a sample browser (candidates best first with ' +
        'the Improve steps that kept them; interactive n/p/q when run in a terminal)',
    )
    .argument('<run-id>', 'the run to inspect')
    .option('--mongo-uri <uri>', 'MongoDB holding the run (default: MONGODB_URI)')
    .option('--mongo-db <name>', 'database name', 'rest')
    .option(
      '--reward <name>',
      "show this reward (a key of the samples' rewards) instead of the run's reward model",
    )
    .option('--grow <g>', 'only this Grow step (1-based)', integer('--grow', 1))
    .option(
      '--source <idx>',
      'print this source (its index in the train split) with every candidate',
      integer('--source', 0),
    )
    .option(
      '--limit <n>',
      'sources per Grow step printed when not browsing interactively',
      integer('--limit', 0),
      5,
    )
    .option(
      '--sort <order>',
      'order of the browsed sources: idx (source index) or reward (mean candidate reward, best first)',
      'idx',
    )
    .option('--bins <n>', 'histogram bins', integer('--bins', 1), 20)
    .option(
      '--json',
      'print one JSON document (summary, histograms and the selected sources) instead of text',
      false,
    )
    .option('--no-interactive', 'print the first --limit sources even when stdin and stdout are a terminal')
    .action(async (runId: string, opts: InspectFlags) => {
      // vega-free, but the coordinator's spec parser takes seconds to load: only when asked for.
      const { runInspect } = await import('../inspect/run.js');
      await runInspect(runId, opts);
    });
}
