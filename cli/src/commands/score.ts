/**
 * `rest score --model <name>`: RewardService.Score on one item given with `--source`/`--hyp`
 * (`--ref`), or on a TSV read from stdin (`source<TAB>hypothesis[<TAB>reference]` per line), printing
 * one score per line in input order; `--json` prints one object per item with the normalised and raw
 * score instead.
 */
import type { Command } from 'commander';
import { reward } from '@rest/proto';
import { numberFlag, readStdinLines, rewardClient } from '../clients.js';

/** The flags as commander hands them over. */
export interface ScoreFlags {
  readonly model: string;
  readonly source?: string;
  readonly hyp?: string;
  readonly ref?: string;
  readonly normalization: string;
  readonly batchSize: number;
  readonly timeout: number;
  readonly json: boolean;
  readonly rewardServer?: string;
}

const NORMALIZATIONS: Readonly<Record<string, reward.Normalization>> = {
  raw: reward.Normalization.NORMALIZATION_RAW,
  clipped01: reward.Normalization.NORMALIZATION_CLIPPED_01,
  zscore: reward.Normalization.NORMALIZATION_ZSCORE,
};

/**
 * The items of a TSV: two or three tab-separated columns per line.
 * @throws Error naming the first bad line
 */
export function parseScoreTsv(lines: readonly string[]): reward.ScoreItem[] {
  return lines.map((line, i) => {
    const cols = line.split('\t');
    if (cols.length < 2 || cols.length > 3) {
      throw new Error(
        `stdin line ${i + 1}: expected source<TAB>hypothesis[<TAB>reference], got ${cols.length} column${cols.length === 1 ? '' : 's'}`,
      );
    }
    return { source: cols[0]!, hypothesis: cols[1]!, reference: cols[2] ?? '' };
  });
}

/** Scores `items` in batches and prints the scores. */
export async function scoreCommand(items: readonly reward.ScoreItem[], flags: ScoreFlags): Promise<void> {
  const normalization = NORMALIZATIONS[flags.normalization.toLowerCase()];
  if (normalization === undefined)
    throw new Error(`--normalization: must be raw, clipped01 or zscore (got ${flags.normalization})`);
  const batchSize = Math.max(1, Math.floor(flags.batchSize));
  const client = rewardClient(flags.rewardServer);
  try {
    for (let start = 0; start < items.length; start += batchSize) {
      const batch = items.slice(start, start + batchSize);
      const response = await client.call(
        'score',
        { model: flags.model, items: batch, normalization },
        flags.timeout * 1000,
      );
      const out = response.scores.map((score, i) =>
        flags.json
          ? JSON.stringify({ score, raw: response.rawScores[i], model: response.model?.name })
          : score.toFixed(4),
      );
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    client.close();
  }
}

/** Registers `rest score`. */
export function addScoreCommand(program: Command): void {
  program
    .command('score')
    .description(
      'score translations with a reward model or metric (RewardService.Score): one item from the flags, ' +
        'or a TSV on stdin (source, hypothesis, optional reference); one score per line',
    )
    .requiredOption(
      '--model <name>',
      'reward model or metric, e.g. chrf, bleu, ter or a learned model’s name',
    )
    .option('--source <text>', 'the source sentence')
    .option('--hyp <text>', 'the translation to score')
    .option('--ref <text>', 'the reference (metrics need one)')
    .option('--normalization <kind>', 'raw, clipped01 or zscore', 'raw')
    .option('--batch-size <n>', 'items per request', numberFlag, 256)
    .option('--timeout <s>', 'deadline of each request, in seconds', numberFlag, 60)
    .option('--json', 'one JSON object per item (score, raw, model)', false)
    .option(
      '--reward-server <host:port>',
      'RewardService address (else REST_REWARD_SERVER, else 127.0.0.1:50052)',
    )
    .action(async (flags: ScoreFlags) => {
      let items: reward.ScoreItem[];
      if (flags.source !== undefined || flags.hyp !== undefined || flags.ref !== undefined) {
        if (flags.source === undefined || flags.hyp === undefined)
          throw new Error('--source and --hyp go together (or pipe a TSV on stdin)');
        items = [{ source: flags.source, hypothesis: flags.hyp, reference: flags.ref ?? '' }];
      } else {
        if (process.stdin.isTTY === true)
          throw new Error(
            'give --source and --hyp, or pipe source<TAB>hypothesis[<TAB>reference] lines on stdin',
          );
        items = parseScoreTsv(await readStdinLines());
      }
      await scoreCommand(items, flags);
    });
}
