/**
 * `rest inspect-reward`: how a reward model scores repeated, truncated, permuted and source-copied
 * candidates against the originals (@rest/reward-server's `inspectReward`, through the server's own
 * scorers). Prints the table on stdout; the exit status is 2 when a probe outscores the original on
 * average (1 stays for errors).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Seq2SeqModel } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';
import {
  createMetricScorers,
  decodeAll,
  formatInspectTable,
  inspectReward,
  loadRewardModel,
  MANIFEST_FILE,
  METRIC_NAMES,
  readCalibrationFile,
  readCorpus,
  type InspectReport,
  type RewardScorer,
  type ScoreItem,
} from '@rest/reward-server';
import { defaultDataDir } from '../paths.js';

/** The exit status when a probe outscores the original on average. */
export const PROBE_FAILED_EXIT_CODE = 2;

/** The flags as commander hands them over. */
export interface InspectRewardFlags {
  /** A metric name (`chrf`, `bleu`, …) or a learned model folder holding reward.json. */
  readonly model: string;
  readonly items?: string;
  readonly policy?: string;
  readonly dataDir: string;
  readonly split: string;
  readonly srcLang: string;
  readonly tgtLang: string;
  /** First N items only (0 = all). */
  readonly limit: number;
  readonly seed: number;
  readonly threads: number;
}

async function openScorer(model: string, threads: number): Promise<RewardScorer> {
  if ((METRIC_NAMES as readonly string[]).includes(model))
    return (await createMetricScorers()).find((s) => s.info.name === model)!;
  if (existsSync(join(model, MANIFEST_FILE)))
    return loadRewardModel(model, { session: { intraOpThreads: threads } });
  throw new Error(
    `--model: ${model} is neither a metric (${METRIC_NAMES.join(', ')}) nor a folder with ${MANIFEST_FILE}`,
  );
}

async function readItems(f: InspectRewardFlags): Promise<ScoreItem[]> {
  const limit = (n: number): number => (f.limit > 0 ? Math.min(f.limit, n) : n);
  if (f.items !== undefined) {
    const items = await readCalibrationFile(f.items);
    return items.slice(0, limit(items.length));
  }
  const corpus = await readCorpus(f.dataDir, f.split, f.srcLang, f.tgtLang);
  const n = limit(corpus.sources.length);
  const sources = corpus.sources.slice(0, n);
  const references = corpus.references.slice(0, n);
  if (f.policy === undefined)
    return sources.map((source, i) => ({ source, hypothesis: references[i]!, reference: references[i] }));
  const tokenizer = await loadTokenizer(f.policy);
  const { model } = await Seq2SeqModel.load(f.policy, { intraOpThreads: f.threads });
  try {
    console.error(`rest inspect-reward: translating ${n} sources greedily with ${f.policy}`);
    const outputs = await decodeAll(model, tokenizer, sources, { strategy: 'greedy' });
    return sources.map((source, i) => ({ source, hypothesis: outputs[i]![0]!, reference: references[i] }));
  } finally {
    await model.release();
  }
}

/** Scores the items and their probes, prints the table; returns the report. */
export async function inspectRewardCommand(f: InspectRewardFlags): Promise<InspectReport> {
  const items = await readItems(f);
  const scorer = await openScorer(f.model, f.threads);
  try {
    const report = await inspectReward(scorer, items, { seed: f.seed });
    console.log(formatInspectTable(report));
    return report;
  } finally {
    await scorer.close();
  }
}

/** Registers `rest inspect-reward`. */
export function addInspectRewardCommand(program: Command): void {
  const num = (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
    return n;
  };
  program
    .command('inspect-reward')
    .description(
      'score repeated, truncated, permuted and source-copied hypotheses against the originals with a reward ' +
        'model or metric; prints a table and exits with status 2 when a probe outscores the original on average',
    )
    .requiredOption(
      '--model <nameOrDir>',
      `a metric (${METRIC_NAMES.join(', ')}) or a learned model folder (reward.json)`,
    )
    .option('--items <tsv>', 'source<TAB>hypothesis[<TAB>reference] lines instead of the corpus')
    .option('--policy <bundleDir>', "hypotheses: this policy's greedy translations (default: the references)")
    .option('--data-dir <dir>', 'folder with <split>.<lang> files', defaultDataDir())
    .option('--split <name>', 'corpus split', 'valid')
    .option('--src-lang <lang>', 'source language', 'de')
    .option('--tgt-lang <lang>', 'target language', 'en')
    .option('--limit <n>', 'first N items only (0 = all)', num, 0)
    .option('--seed <n>', 'seed of the permutations', num, 1)
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = all cores)', num, 0)
    .action(async (opts: InspectRewardFlags) => {
      const report = await inspectRewardCommand(opts);
      // Not an error (the table was printed): a verdict scripts and CI can branch on.
      if (report.failing.length > 0) process.exitCode = PROBE_FAILED_EXIT_CODE;
    });
}
