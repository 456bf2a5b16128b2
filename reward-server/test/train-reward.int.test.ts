// `trainRewardModel` (rest train-reward's logic) end to end on a tiny setup: a random-weight policy bundle
// (tiny Transformer, BPE tokenizer trained on 600 Multi30k lines, trainer state included so the encoder
// seeding path runs), a few hundred (source, candidate) pairs from Multi30k train sources, a few epochs;
// then the written folder is loaded with `loadRewardModel` and served by a real reward server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reward } from '@rest/proto';
import {
  OPTIMIZER_SLOTS,
  ParamTable,
  transformerParams,
  writePolicyBundle,
  type TransformerConfig,
} from '@rest/runtime';
import { loadTokenizer, sentenceChrf, trainBpe, writeTokenizerFiles } from '@rest/text';
import {
  loadRewardModel,
  parseManifest,
  trainRewardModel,
  TRAIN_REWARD_DEFAULTS,
  type TrainRewardEvent,
  type TrainRewardOptions,
  type TrainRewardResult,
} from '../src/index.js';
import { call, startHarness } from './harness.js';
import { MULTI30K_DIR, multi30k } from './tiny-reward-model.js';

let dir = '';
let policy = '';
const events: TrainRewardEvent[] = [];
let result: TrainRewardResult;

function options(over: Partial<TrainRewardOptions>): TrainRewardOptions {
  return {
    ...TRAIN_REWARD_DEFAULTS,
    policy,
    out: join(dir, 'rm'),
    dataDir: fileURLToPath(MULTI30K_DIR),
    sources: 80,
    heldOut: 0.25,
    samples: 2,
    maxNewTokens: 12,
    perturbations: 2,
    init: 'policy',
    dropout: 0,
    lr: 3e-3,
    warmupSteps: 5,
    epochs: 3,
    batchTokens: 1024,
    maxLength: 128,
    maxMinutes: 5,
    threads: 1,
    samplesFile: join(dir, 'samples.json'),
    ...over,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-train-reward-'));
  const tokDir = join(dir, 'tokenizer');
  await writeTokenizerFiles(
    tokDir,
    trainBpe([...multi30k('train.de', 300), ...multi30k('train.en', 300)], { vocabSize: 600 }),
  );
  const tok = await loadTokenizer(tokDir);
  const config: TransformerConfig = {
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
  const params = table.initialize(new Float32Array(table.size), 3);
  policy = await writePolicyBundle(join(dir, 'policy'), {
    config,
    params,
    tokenizerDir: tokDir,
    trainerState: {
      step: 0,
      params,
      slots: Object.fromEntries(OPTIMIZER_SLOTS.adamw.map((s) => [s, new Float32Array(table.size)])),
    },
    generation: { maxLength: 32 },
  });
  result = await trainRewardModel(options({}), (e) => events.push(e));
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('train-reward', () => {
  it('trainRewardModel: samples, trains, selects on dev and reports served test agreement', () => {
    const sampled = events.filter((e) => e.kind === 'sample');
    assert.ok(sampled.length > 0);
    const last = sampled.at(-1)!;
    assert.ok(last.kind === 'sample' && last.done === last.total && last.total === 80);
    const steps = events.filter((e) => e.kind === 'step');
    assert.equal(steps.length, result.steps);
    assert.equal(events.filter((e) => e.kind === 'eval').length, 3, 'one dev evaluation per epoch');
    assert.equal(result.initFrom, 'policy');
    assert.ok(
      result.pairs.train > 250 && result.pairs.dev > 0 && result.pairs.test > 0,
      JSON.stringify(result.pairs),
    );
    assert.equal(result.test.pairs, result.pairs.test);
    assert.ok(result.servedMaxAbsDiff < 1e-3, `served vs training graph: ${result.servedMaxAbsDiff}`);
    // A random policy's samples score low, references 100, perturbations in between: even this tiny model
    // ranks them.
    assert.ok(result.test.pearson > 0.3, `test Pearson ${result.test.pearson}`);
    assert.ok(result.test.kendallTauB > 0.1, `test τ-b ${result.test.kendallTauB}`);
    assert.ok(result.testSamples !== undefined && Number.isFinite(result.testSamples.rmse));
    assert.ok(result.testByOrigin.reference !== undefined && result.testByOrigin.sample !== undefined);
    assert.equal(events.at(-1)?.kind, 'done');
  });

  it('trainRewardModel: the folder is a reward.json bundle that loadRewardModel serves reference-free', async () => {
    const out = join(dir, 'rm');
    const manifest = parseManifest(JSON.parse(await readFile(join(out, 'reward.json'), 'utf8')), 'rm');
    assert.equal(manifest.name, 'qe-chrf');
    assert.equal(manifest.predicts, 'chrf');
    assert.deepEqual(manifest.range, { min: 0, max: 100 });
    assert.deepEqual(manifest.pairing, {
      template: ['{source}', '</s>', '{hypothesis}', '</s>'],
      truncation: 'longest_first',
    });
    assert.deepEqual(manifest.calibration, result.calibration);
    assert.ok(result.calibration.std > 0);
    const info = JSON.parse(await readFile(join(out, 'qe.json'), 'utf8')) as {
      result: { test: { pearson: number } };
    };
    assert.equal(info.result.test.pearson, result.test.pearson);

    const model = await loadRewardModel(out, { session: { intraOpThreads: 1 } });
    try {
      assert.equal(model.info.requiresReference, false);
      const src = multi30k('valid.de', 20);
      const ref = multi30k('valid.en', 20);
      const items = src.map((source, i) => ({ source, hypothesis: ref[i]!, reference: undefined }));
      const scores = await model.prepare(items).score(new AbortController().signal);
      for (const s of scores) assert.ok(s >= 0 && s <= 100, `score ${s}`);
      // Over-long pairs are trimmed, not refused.
      const long = { source: src[0]!, hypothesis: `${ref[0]} `.repeat(40), reference: undefined };
      assert.deepEqual(model.prepare([long]).problems, []);
      // References (chrF 100) score above the source copied as the hypothesis (chrF far lower), on average.
      const copied = await model
        .prepare(items.map((it) => ({ ...it, hypothesis: it.source })))
        .score(new AbortController().signal);
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      const chrfCopied = mean(src.map((s, i) => sentenceChrf(s, [ref[i]!]).score));
      assert.ok(chrfCopied < 50);
      assert.ok(mean(scores) > mean(copied), `references ${mean(scores)} vs source copies ${mean(copied)}`);
    } finally {
      await model.close();
    }
  });

  it('reward server: serves the trained folder by name through RewardService.Score', async () => {
    const h = await startHarness({ REWARD_MODELS__DIRS: JSON.stringify([join(dir, 'rm')]) });
    try {
      const items = [{ source: 'Ein Hund läuft.', hypothesis: 'A dog runs.', reference: '' }];
      const res = await call(h.rewards, 'score', {
        model: 'qe-chrf',
        items,
        normalization: reward.Normalization.NORMALIZATION_RAW,
      });
      assert.equal(res.error, null);
      assert.equal(res.value!.rawScores.length, 1);
      assert.ok(res.value!.rawScores[0]! >= 0 && res.value!.rawScores[0]! <= 100);
    } finally {
      await h.close();
    }
  });

  it('trainRewardModel: the samples file is reused, extended with new sources, refused with other settings', async () => {
    const kept = JSON.parse(await readFile(join(dir, 'samples.json'), 'utf8')) as {
      candidates: Record<string, string[]>;
    };
    assert.equal(Object.keys(kept.candidates).length, 80);
    assert.ok(Object.values(kept.candidates).every((c) => c.length === 2));
    const again: TrainRewardEvent[] = [];
    const rerun = await trainRewardModel(options({ epochs: 1, out: join(dir, 'rm-again') }), (e) =>
      again.push(e),
    );
    assert.equal(again.filter((e) => e.kind === 'sample').length, 0, 'nothing sampled');
    assert.deepEqual(rerun.pairs, result.pairs, 'the same candidates');
    // More sources: only the ones the file lacks are sampled, and added to it.
    const more: TrainRewardEvent[] = [];
    await trainRewardModel(options({ sources: 100, epochs: 1, out: join(dir, 'rm-more') }), (e) =>
      more.push(e),
    );
    const last = more.filter((e) => e.kind === 'sample').at(-1);
    assert.ok(last?.kind === 'sample' && last.total === 20, 'the 20 new sources only');
    const grown = JSON.parse(await readFile(join(dir, 'samples.json'), 'utf8')) as typeof kept;
    assert.equal(Object.keys(grown.candidates).length, 100);
    for (const [i, c] of Object.entries(kept.candidates)) assert.deepEqual(grown.candidates[i], c);
    await assert.rejects(
      trainRewardModel(options({ temperature: 0.5, out: join(dir, 'rm-other') }), () => {}),
      /samplesFile: .*samples\.json was drawn with other temperature; delete it or name another file/,
    );
  });

  it('trainRewardModel: refuses bad options, every problem at once', async () => {
    await assert.rejects(
      trainRewardModel(options({ heldOut: 0.9, heads: 3, metric: 'ter' as 'chrf' }), () => {}),
      (e: unknown) =>
        e instanceof RangeError &&
        /heldOut/.test(e.message) &&
        /heads/.test(e.message) &&
        /metric/.test(e.message),
    );
  });
});
