// `rest train-reward` and `rest inspect-reward` as a user runs them (the real CLI from source, in a child
// process): exit statuses, the printed tables, and the folder train-reward writes. Tiny everything: a
// random-weight policy bundle, a BPE tokenizer on 600 Multi30k lines, a few hundred pairs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cast,
  Graph,
  OPTIMIZER_SLOTS,
  ParamTable,
  reduceSum,
  transformerParams,
  writePolicyBundle,
} from '@rest/runtime';
import { loadTokenizer, trainBpe, writeTokenizerFiles } from '@rest/text';
import { defaultDataDir } from '../src/paths.js';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
let dir = '';
let policy = '';
let lengthModel = '';

/** Runs `rest <args>` to completion; resolves with its exit status and output. */
async function rest(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

function lines(file: string, n: number): Promise<string[]> {
  return readFile(join(defaultDataDir(), file), 'utf8').then((t) => t.split('\n').slice(0, n));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-reward-cli-'));
  const tokDir = join(dir, 'tokenizer');
  await writeTokenizerFiles(
    tokDir,
    trainBpe([...(await lines('train.de', 300)), ...(await lines('train.en', 300))], { vocabSize: 600 }),
  );
  const tok = await loadTokenizer(tokDir);
  const config = {
    vocabSize: tok.vocabSize,
    dModel: 16,
    heads: 2,
    ffnDim: 32,
    encoderLayers: 1,
    decoderLayers: 1,
    maxPositions: 160,
    padId: tok.specialIds.pad,
  };
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), 5);
  policy = await writePolicyBundle(join(dir, 'policy'), {
    config,
    params,
    tokenizerDir: tokDir,
    trainerState: {
      step: 0,
      params,
      slots: Object.fromEntries(OPTIMIZER_SLOTS.adamw.map((s) => [s, new Float32Array(table.size)])),
    },
    generation: { maxLength: 24 },
  });

  // A crafted learned model whose score is the pair's token count: longer is better, so repetition pays.
  lengthModel = join(dir, 'rm-length');
  await mkdir(lengthModel);
  const g = new Graph('length');
  g.input('input_ids', 'i64', ['B', 'S']);
  const mask = g.input('attention_mask', 'i64', ['B', 'S']);
  g.output(reduceSum(cast(mask, 'f32'), [1]), 'score');
  await writeFile(join(lengthModel, 'model.onnx'), g.toBytes());
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    await copyFile(join(tokDir, f), join(lengthModel, f));
  const manifest = {
    formatVersion: 1,
    name: 'rm-length',
    kind: 'cross-encoder-regression',
    onnx: 'model.onnx',
    tokenizer: 'tokenizer.json',
    inputs: [
      { name: 'input_ids', role: 'input_ids' },
      { name: 'attention_mask', role: 'attention_mask' },
    ],
    output: 'score',
    maxLength: 512,
    pairing: { template: ['{source}', '</s>', '{hypothesis}', '</s>'] },
    range: { min: 0, max: 512 },
    calibration: { mean: 40, std: 10 },
  };
  await writeFile(join(lengthModel, 'reward.json'), JSON.stringify(manifest));
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('reward commands', () => {
  it('rest inspect-reward --model chrf: no probe beats the references, exit 0', async () => {
    const { code, stdout, stderr } = await rest(['inspect-reward', '--model', 'chrf', '--limit', '40']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^reward model "chrf" \(metric, /);
    assert.match(stdout, /\n40 items\n/);
    for (const probe of ['repeated', 'truncated', 'permuted', 'source-copied'])
      assert.match(stdout, new RegExp(`\\n${probe} +40 +\\d+\\.\\d\\d +-\\d+\\.\\d\\d +0\\.0 %`));
    assert.match(stdout, /OK: no probe outscores the original on average\n$/);
  });

  it('rest inspect-reward on a model that rewards length: FAIL on repetition, exit 2', async () => {
    const { code, stdout, stderr } = await rest(['inspect-reward', '--model', lengthModel, '--limit', '40']);
    assert.equal(code, 2, stderr);
    assert.match(stdout, /\nrepeated +40 +\d+\.\d\d +\+\d+\.\d\d +100\.0 %/);
    assert.match(stdout, /\nFAIL: repeated(, source-copied)? outscores? the original on average\n$/);
  });

  it('rest inspect-reward: an unknown model is an error, exit 1', async () => {
    const { code, stderr } = await rest(['inspect-reward', '--model', join(dir, 'nothing-here')]);
    assert.equal(code, 1);
    assert.match(stderr, /is neither a metric .* nor a folder with reward\.json/);
  });

  it('rest train-reward: writes a reward.json folder and prints held-out agreement; inspect-reward reads it', async () => {
    const out = join(dir, 'rm-qe');
    const train = await rest([
      'train-reward',
      ...['--policy', policy, '--out', out, '--sources', '60', '--held-out', '0.25'],
      ...['--samples', '2', '--max-new-tokens', '10', '--epochs', '2', '--batch-tokens', '1024'],
      ...['--max-length', '128', '--threads', '1', '--init', 'random', '--d-model', '16', '--heads', '2'],
      ...['--ffn-dim', '32', '--layers', '1', '--warmup-steps', '4', '--metric', 'bleu'],
    ]);
    assert.equal(train.code, 0, train.stderr);
    assert.match(
      train.stdout,
      new RegExp(`^reward model "qe-bleu" \\(predicts bleu\\) written to ${out}\\n`),
    );
    assert.match(train.stdout, /\n {2}all +\d+ +Pearson -?\d\.\d{3} +Kendall τ-b -?\d\.\d{3}/);
    assert.match(train.stdout, /\n {2}policy samples +\d+ +Pearson/);
    assert.match(train.stdout, /\ntarget Pearson ≥ 0\.6 on all test pairs: (met|NOT met)/);
    assert.match(train.stderr, /rest train-reward: 60 sources \(train 45, dev 7, test 8\)/);
    const manifest = JSON.parse(await readFile(join(out, 'reward.json'), 'utf8')) as { predicts: string };
    assert.equal(manifest.predicts, 'bleu');

    const inspect = await rest(['inspect-reward', '--model', out, '--limit', '30', '--threads', '1']);
    assert.ok(inspect.code === 0 || inspect.code === 2, inspect.stderr);
    assert.match(
      inspect.stdout,
      /^reward model "qe-bleu" \(learned, sha256:[0-9a-f]{12}; higher is better\)/,
    );
  });
});
