/**
 * `rest report <run-id>`: a self-contained HTML report of a run (summary, charts rendered to inline
 * SVG, Improve steps, example sources, every metrics point). The work is in `src/report/`, loaded
 * only when the command runs.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';

/** The flags of `rest report`, as commander hands them over. */
export interface ReportFlags {
  out?: string;
  mongoUri?: string;
  mongoDb: string;
  reward?: string;
  examples: number;
  bins: number;
}

function integer(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: must be an integer >= ${min} (got ${v})`);
    return n;
  };
}

/** Runs `rest report`; prints where the file went. */
export async function reportCommand(runId: string, f: ReportFlags): Promise<void> {
  // Loaded here, not at the top: vega and the coordinator's spec parser take seconds to load, and
  // every other `rest` command would pay for them.
  const [{ openRunStore }, { writeReport }] = await Promise.all([
    import('../report/run-data.js'),
    import('../report/report.js'),
  ]);
  const store = await openRunStore(f);
  try {
    const result = await writeReport(store, {
      runId,
      outPath: resolve(f.out ?? `report-${runId}.html`),
      ...(f.reward === undefined ? {} : { rewardModel: f.reward }),
      examples: f.examples,
      bins: f.bins,
    });
    console.log(
      `rest report: wrote ${result.outPath} (${(result.bytes / 1024).toFixed(0)} KiB, ` +
        `${result.charts.length} charts, ${result.examples} example sources)`,
    );
  } finally {
    await store.close();
  }
}

/** Registers `rest report` on the program. */
export function addReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report of a run: summary, validation reward and BLEU per step, reward ' +
        'histograms against the Improve thresholds, examples kept per step, training loss, example sources, ' +
        'every metrics point (charts are Vega-Lite rendered to inline SVG; the file needs no network)',
    )
    .argument('<run-id>', 'the run to report on')
    .option('--out <file>', 'where the HTML goes (default: report-<run-id>.html in the working directory)')
    .option('--mongo-uri <uri>', 'MongoDB holding the run (default: MONGODB_URI)')
    .option('--mongo-db <name>', 'database name', 'rest')
    .option(
      '--reward <name>',
      "show this reward (a key of the samples' rewards) instead of the run's reward model",
    )
    .option(
      '--examples <n>',
      'example sources per Grow step (widest reward spread first)',
      integer('--examples', 0),
      3,
    )
    .option('--bins <n>', 'bins of the reward histograms', integer('--bins', 1), 20)
    .action(async (runId: string, opts: ReportFlags) => {
      await reportCommand(runId, opts);
    });
}
