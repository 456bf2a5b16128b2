/**
 * `loadRewardModel` and `loadScorers` on real model folders written at setup: the manifest's
 * variants (token_type_ids, a [B] output, a calibration file, truncation), and folders that must
 * fail start-up with a message naming the problem.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOOP_LOGGER } from '@rest/service-kit';
import {
  DuplicateScorerError,
  loadConfig,
  loadRewardModel,
  meanStd,
  RewardModelError,
  type LearnedRewardModel,
} from '../src/index.js';
import { loadScorers } from '../src/load-scorers.js';
import { buildTinyRewardModel, multi30k, type TinyModelOptions } from './tiny-reward-model.js';

const SIGNAL = new AbortController().signal;

describe('loadRewardModel (integration)', () => {
  let tmp: string;
  let n = 0;
  const opened: LearnedRewardModel[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reward-load-'));
  });

  after(async () => {
    await Promise.all(opened.map((m) => m.close()));
    await rm(tmp, { recursive: true, force: true });
  });

  async function folder(options: TinyModelOptions = {}) {
    const dir = join(tmp, `m${n++}`);
    await mkdir(dir);
    return buildTinyRewardModel(dir, options);
  }

  async function load(dir: string, batching = {}): Promise<LearnedRewardModel> {
    const model = await loadRewardModel(dir, { session: { intraOpThreads: 1 }, batching });
    opened.push(model);
    return model;
  }

  it('loadRewardModel: token_type_ids from the template segments, a [B] output, calibration from a file', async () => {
    const fixture = await folder({
      name: 'rm-bert',
      tokenTypes: true,
      rank1Output: true,
      calibration: { file: 'calibration.tsv' },
      calibrationLines: 50,
    });
    const model = await load(fixture.dir);
    const sources = multi30k('valid.de', 50);
    const hypotheses = multi30k('valid.en', 50);
    const items = sources.map((source, i) => ({ source, hypothesis: hypotheses[i]!, reference: undefined }));
    const prepared = model.prepare(items);
    assert.deepEqual(prepared.problems, []);
    const scores = await prepared.score(SIGNAL);
    const want = items.map((it) => fixture.expected(it.source, it.hypothesis));
    scores.forEach((s, i) => assert.ok(Math.abs(s - want[i]!) < 1e-3, `item ${i}: ${s} vs ${want[i]}`));
    const { mean, std } = meanStd(want);
    const { calibration } = model.info;
    assert.ok(Math.abs(calibration.mean - mean) < 1e-3 && Math.abs(calibration.std - std) < 1e-3);
    assert.equal(calibration.origin, 'file calibration.tsv (50 items)');
    assert.match(model.info.version, /^rm-bert-v1$/);
  });

  it('loadRewardModel: the version defaults to a hash of the ONNX file', async () => {
    const fixture = await folder({ name: 'rm-hash', manifestOverrides: { version: undefined } });
    assert.match((await load(fixture.dir)).info.version, /^sha256:[0-9a-f]{12}$/);
  });

  it('loadRewardModel: truncation longest_first scores an over-long pair that none refuses', async () => {
    const long = { source: 'Ein Hund. '.repeat(20), hypothesis: 'A dog.', reference: undefined };
    const refusing = await load((await folder({ name: 'rm-none', maxLength: 24 })).dir, {
      maxBatchTokens: 64,
    });
    assert.match(refusing.prepare([long]).problems[0]!.problem, /more than the model's maxLength \(24\)/);
    const truncating = await load(
      (await folder({ name: 'rm-trunc', maxLength: 24, truncation: 'longest_first' })).dir,
      { maxBatchTokens: 64 },
    );
    const prepared = truncating.prepare([long]);
    assert.deepEqual(prepared.problems, []);
    assert.equal((await prepared.score(SIGNAL)).length, 1);
  });

  it('loadRewardModel: fails naming the problem for a model that differs from its manifest', async () => {
    const swapped = await folder({
      name: 'rm-swapped',
      manifestInputs: [
        { name: 'attention_mask', role: 'attention_mask' },
        { name: 'input_ids', role: 'input_ids' },
      ],
    });
    await assert.rejects(
      load(swapped.dir),
      (e: unknown) =>
        e instanceof RewardModelError &&
        /model "rm-swapped" .* model\.onnx does not match reward\.json \(inputs must be listed in the graph's order\)/.test(
          e.message,
        ),
    );
    const wrongOutput = await folder({ name: 'rm-out', manifestOverrides: { output: 'logits' } });
    await assert.rejects(load(wrongOutput.dir), /does not match reward\.json/);
  });

  it('loadRewardModel: fails naming the problem for missing files, unknown template tokens and a small token budget', async () => {
    const noOnnx = await folder({ name: 'rm-no-onnx' });
    await unlink(join(noOnnx.dir, 'model.onnx'));
    await assert.rejects(load(noOnnx.dir), /model "rm-no-onnx" .*: cannot read model\.onnx/);

    const sep = await folder({
      name: 'rm-sep',
      manifestOverrides: {
        pairing: { template: ['[CLS]', '{source}', '[SEP]', '{hypothesis}'], truncation: 'none' },
      },
    });
    await assert.rejects(
      load(sep.dir),
      /pairing\.template: "\[CLS\]", "\[SEP\]" not in the tokenizer's vocabulary/,
    );

    const budget = await folder({ name: 'rm-budget' });
    await assert.rejects(
      load(budget.dir, { maxBatchTokens: 100 }),
      /maxBatchTokens \(100\) is below the model's maxLength \(256\)/,
    );

    await assert.rejects(load(join(tmp, 'nowhere')), /reward\.json: cannot read it/);
    const badManifest = await folder({
      name: 'rm-bad',
      manifestOverrides: { formatVersion: 2, range: { min: 1, max: 0 } },
    });
    await assert.rejects(
      load(badManifest.dir),
      /reward\.json: formatVersion: .*; range: min must be below max/,
    );
  });

  it('loadScorers: models.root loads every subfolder holding a reward.json; a name clash fails', async () => {
    const root = join(tmp, 'root');
    await mkdir(join(root, 'b'), { recursive: true });
    await mkdir(join(root, 'a'));
    await mkdir(join(root, 'not-a-model'));
    await buildTinyRewardModel(join(root, 'b'), { name: 'rm-b' });
    await buildTinyRewardModel(join(root, 'a'), { name: 'rm-a' });
    const config = loadConfig({ env: { REWARD_MODELS__ROOT: root, REWARD_RUNTIME__INTRA_OP_THREADS: '1' } });
    const scorers = await loadScorers(config, { logger: NOOP_LOGGER });
    try {
      assert.deepEqual(
        scorers.list('learned').map((s) => s.info.name),
        ['rm-a', 'rm-b'],
      );
      assert.deepEqual(
        scorers.list('metric').map((s) => s.info.name),
        ['bleu', 'chrf', 'chrf++', 'ter'],
      );
    } finally {
      await scorers.close();
    }
    const clash = await folder({ name: 'chrf' });
    const clashing = loadConfig({ env: { REWARD_MODELS__DIRS: JSON.stringify([clash.dir]) } });
    await assert.rejects(loadScorers(clashing, { logger: NOOP_LOGGER }), DuplicateScorerError);
  });
});
