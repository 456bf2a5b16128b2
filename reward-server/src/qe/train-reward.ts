/**
 * `rest train-reward`'s logic: trains a reference-free QE reward model (./qe-model.ts) to predict a
 * metric's sentence score of a candidate against the human reference from (source, candidate) alone,
 * and writes it as a learned-reward folder the reward server loads.
 *
 * 1. Data: `sources` Multi30k train sources (seeded pick), split *by source* into train, dev (model
 *    selection) and test (the reported numbers). Candidates per source: `samples` draws from the policy
 *    bundle at `temperature`, the reference, `perturbations` edits of it (./perturb.ts); targets from
 *    the server's metric scorer.
 * 2. Model: the policy's encoder architecture, seeded with its encoder weights when the bundle carries
 *    trainer state (`init` auto/policy), else a fresh encoder of the given size; AdamW, linear warmup
 *    then cosine decay over `epochs`, MSE; dev Pearson after every epoch keeps the best parameters.
 * 3. Export: the best parameters as `model.onnx` + `reward.json` (calibration: mean/std of the model's
 *    scores on the held-out pairs), then the folder is loaded with `loadRewardModel` and the test pairs
 *    are scored *through it*: the reported Pearson and Kendall τ-b are the served model's.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUNDLE_FILES,
  loadCheckpoint,
  OPTIMIZER_SLOTS,
  ParamTable,
  readBundleManifest,
  Session,
  Trainer,
  transformerParams,
  type HostTensor,
  type TransformerConfig,
} from '@rest/runtime';
import { loadTokenizer } from '@rest/text';
import { loadRewardModel } from '../learned/learned-model.js';
import { compileTemplate } from '../learned/pair-encoder.js';
import { createMetricScorers } from '../scoring/metric-scorers.js';
import { meanStd } from '../scoring/normalize.js';
import { QE_INFO_FILE, qeTemplate, writeQeRewardBundle } from './bundle.js';
import { policySamples } from './samples.js';
import { readCorpus, splitSources } from './corpus.js';
import { agreement, agreementByOrigin, type Agreement } from './agreement.js';
import { batchFeeds, buildExamples, tokenBatches, type Example } from './examples.js';
import { isEncoderParam, qeEvalGraph, qeParams, qeTrainingForward, type QeModelConfig } from './qe-model.js';
import {
  checkTrainRewardOptions,
  type TrainRewardEvent,
  type TrainRewardOptions,
  type TrainRewardResult,
} from './train-options.js';

/** The encoder's config and, when seeded from the policy, its encoder parameters by name. */
async function initialEncoder(
  o: TrainRewardOptions,
  policy: { readonly transformer?: TransformerConfig; readonly hasTrainerState: boolean },
  vocabSize: number,
  padId: number,
  emit: (e: TrainRewardEvent) => void,
): Promise<{ encoder: TransformerConfig; weights: Map<string, Float32Array> | undefined }> {
  const maxPositions = o.maxLength;
  const seeded = policy.transformer !== undefined && policy.hasTrainerState;
  if (o.init === 'policy' && !seeded)
    throw new RangeError(`init: ${o.policy} has no trainer/state.safetensors to seed the encoder from`);
  if (o.init === 'random' || !seeded) {
    if (o.init === 'auto') emit({ kind: 'info', message: 'the policy has no trainer state: fresh encoder' });
    return {
      encoder: {
        vocabSize,
        dModel: o.dModel,
        heads: o.heads,
        ffnDim: o.ffnDim,
        encoderLayers: o.layers,
        decoderLayers: 0,
        dropout: o.dropout,
        padId,
        preNorm: true,
        maxPositions,
      },
      weights: undefined,
    };
  }
  const policyConfig = policy.transformer;
  const table = new ParamTable(transformerParams(policyConfig));
  const state = await loadCheckpoint(join(o.policy, BUNDLE_FILES.trainerState), table);
  const weights = new Map<string, Float32Array>();
  for (const [name, view] of table.views(state.params))
    if (isEncoderParam(name)) weights.set(name, Float32Array.from(view));
  return {
    encoder: { ...policyConfig, decoderLayers: 0, dropout: o.dropout, maxPositions },
    weights,
  };
}

/** Model scores `[examples]` of `params` (live buffer, table layout) through the eval session. */
async function predict(
  session: Session,
  table: ParamTable,
  params: Float32Array,
  examples: readonly Example[],
  padId: number,
  batchTokens: number,
): Promise<Float64Array> {
  const feeds: Record<string, HostTensor> = {};
  for (const [name, view] of table.views(params))
    feeds[name] = { dtype: 'f32', dims: table.get(name).shape, data: view };
  const out = new Float64Array(examples.length);
  for (const batch of tokenBatches(examples, batchTokens, 0)) {
    const result = await session.run({ ...feeds, ...batchFeeds(examples, batch, padId, false) }, {}, [
      'score',
    ]);
    const scores = result.score!.data as Float32Array;
    batch.forEach((i, row) => (out[i] = scores[row]!));
  }
  return out;
}

/** Runs a training; see the module comment. @throws RangeError for bad options; load and I/O errors */
export async function trainRewardModel(
  o: TrainRewardOptions,
  emit: (e: TrainRewardEvent) => void,
): Promise<TrainRewardResult> {
  checkTrainRewardOptions(o);
  const started = performance.now();
  const minutes = (): number => (performance.now() - started) / 60_000;
  const name = o.name === '' ? `qe-${o.metric}` : o.name;
  const corpus = await readCorpus(o.dataDir, 'train', o.srcLang, o.tgtLang);
  const split = splitSources(corpus.sources.length, o.sources, o.heldOut, o.seed);
  const tokenizer = await loadTokenizer(o.policy);
  const picked = [...split.train, ...split.dev, ...split.test];
  emit({
    kind: 'info',
    message: `${picked.length} sources (train ${split.train.length}, dev ${split.dev.length}, test ${split.test.length}); ${o.samples} samples each at temperature ${o.temperature}`,
  });

  const manifest = await readBundleManifest(o.policy);
  const samples =
    o.samples === 0
      ? new Map<number, string[]>()
      : await policySamples(corpus, picked, tokenizer, o, o.samplesFile, (done, total) =>
          emit({ kind: 'sample', done, total }),
        );

  const metric = (await createMetricScorers()).find((s) => s.info.name === o.metric)!;
  const template = compileTemplate(qeTemplate(tokenizer), tokenizer);
  const build = (indices: readonly number[], seed: number): Promise<Example[]> =>
    buildExamples(corpus, indices, samples, metric, tokenizer, template, {
      perturbations: o.perturbations,
      references: o.references,
      seed,
      maxLength: o.maxLength,
    });
  const train = await build(split.train, o.seed);
  const dev = await build(split.dev, o.seed + 1);
  const test = await build(split.test, o.seed + 2);
  emit({ kind: 'info', message: `pairs: train ${train.length}, dev ${dev.length}, test ${test.length}` });

  const padId = tokenizer.specialIds.pad;
  const init = await initialEncoder(o, manifest, tokenizer.vocabSize, padId, emit);
  const config: QeModelConfig = { encoder: init.encoder, range: { min: 0, max: 100 } };
  const table = new ParamTable(qeParams(config));
  const lr = o.lr > 0 ? o.lr : init.weights === undefined ? 1e-3 : 6e-4;
  const batchesPerEpoch = tokenBatches(train, o.batchTokens, o.seed).length;
  const totalSteps = Math.max(2, o.epochs * batchesPerEpoch);
  // Short runs (tests, smoke runs) would otherwise spend most of their steps warming up.
  const warmupSteps = Math.min(o.warmupSteps, Math.floor(totalSteps / 10));
  const trainer = await Trainer.create(
    {
      table,
      dtype: 'f32',
      forward: qeTrainingForward(config),
      optimizer: 'adamw',
      schedule: { kind: 'cosine', warmupSteps, totalSteps, minRatio: 0.05 },
    },
    { lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 },
    { seed: o.seed, intraOpThreads: o.threads },
  );
  const evalSession = await Session.create(qeEvalGraph(config), { intraOpThreads: o.threads });
  try {
    // Seed the encoder rows from the policy; start the head at the mean training target.
    const params = Float32Array.from(trainer.parameters);
    const views = table.views(params);
    for (const [n, w] of init.weights ?? []) views.get(n)!.set(w);
    const mean01 = Math.min(
      0.99,
      Math.max(0.01, train.reduce((s, e) => s + e.target, 0) / train.length / 100),
    );
    views.get('head.out.b')![0] = Math.log(mean01 / (1 - mean01));
    const zeros = (): Float32Array => new Float32Array(table.size);
    trainer.loadState({
      step: 0,
      params,
      slots: Object.fromEntries(OPTIMIZER_SLOTS.adamw.map((s) => [s, zeros()])),
    });
    emit({
      kind: 'info',
      message: `model: ${init.weights === undefined ? 'fresh' : 'policy-seeded'} encoder d=${config.encoder.dModel} × ${config.encoder.encoderLayers} layers, ${table.size} parameters; lr ${lr}, ${totalSteps} steps`,
    });

    let best = { pearson: -Infinity, epoch: 0, params: Float32Array.from(trainer.parameters) };
    let bestDev: Agreement | undefined;
    const evaluate = async (epoch: number): Promise<void> => {
      const scores = await predict(
        evalSession,
        table,
        trainer.parameters as Float32Array,
        dev,
        padId,
        o.batchTokens,
      );
      const a = agreement(scores, dev);
      const score = Number.isNaN(a.pearson) ? -1 : a.pearson;
      const isBest = score > best.pearson;
      if (isBest) {
        best = { pearson: score, epoch, params: Float32Array.from(trainer.parameters) };
        bestDev = a;
      }
      emit({ kind: 'eval', epoch, dev: a, best: isBest });
    };

    let pairsDone = 0;
    let trainMs = 0;
    let evaluated = true;
    outer: for (let epoch = 1; epoch <= o.epochs; epoch++) {
      for (const batch of tokenBatches(train, o.batchTokens, o.seed + epoch)) {
        if (minutes() >= o.maxMinutes) {
          emit({ kind: 'info', message: `time budget of ${o.maxMinutes} min reached in epoch ${epoch}` });
          if (!evaluated) await evaluate(epoch);
          break outer;
        }
        const t0 = performance.now();
        const r = await trainer.trainStep(batchFeeds(train, batch, padId, true));
        trainMs += performance.now() - t0;
        pairsDone += batch.length;
        evaluated = false;
        if (!Number.isFinite(r.loss)) throw new Error(`training diverged at step ${r.step} (loss ${r.loss})`);
        emit({
          kind: 'step',
          step: r.step,
          totalSteps,
          epoch,
          loss: r.loss,
          pairsPerSecond: (pairsDone / trainMs) * 1000,
        });
      }
      await evaluate(epoch);
      evaluated = true;
    }
    if (bestDev === undefined) await evaluate(0);

    // Calibration from the kept parameters' scores on every held-out pair.
    const heldOut = [...dev, ...test];
    const heldOutScores = await predict(evalSession, table, best.params, heldOut, padId, o.batchTokens);
    const calibration = meanStd(Array.from(heldOutScores));
    const sessionTest = heldOutScores.subarray(dev.length);
    await writeQeRewardBundle(o.out, {
      config,
      params: best.params,
      tokenizer,
      tokenizerDir: o.policy,
      name,
      description: `reference-free QE model trained on samples of ${manifest.lineage.policyId ?? o.policy}`,
      predicts: o.metric,
      maxLength: o.maxLength,
      calibration,
    });

    // The reported numbers: the test pairs scored by the written folder, as the server serves it.
    const served = await loadRewardModel(o.out, { session: { intraOpThreads: o.threads } });
    const servedScores: number[] = [];
    try {
      for (let start = 0; start < test.length; start += 512) {
        const chunk = test.slice(start, start + 512).map((e) => ({
          source: corpus.sources[e.source]!,
          hypothesis: e.hypothesis,
          reference: undefined,
        }));
        servedScores.push(...(await served.prepare(chunk).score(new AbortController().signal)));
      }
    } finally {
      await served.close();
    }
    let servedMaxAbsDiff = 0;
    servedScores.forEach(
      (s, i) => (servedMaxAbsDiff = Math.max(servedMaxAbsDiff, Math.abs(s - sessionTest[i]!))),
    );
    if (servedMaxAbsDiff > 0.01)
      throw new Error(
        `export check: served scores differ from the training graph's by up to ${servedMaxAbsDiff}`,
      );
    const samplesOnly = test.filter((e) => e.origin === 'sample');
    const result: TrainRewardResult = {
      out: o.out,
      name,
      test: agreement(servedScores, test),
      testSamples:
        samplesOnly.length >= 2
          ? agreement(
              test.flatMap((e, i) => (e.origin === 'sample' ? [servedScores[i]!] : [])),
              samplesOnly,
            )
          : undefined,
      testByOrigin: agreementByOrigin(servedScores, test),
      dev: bestDev!,
      calibration,
      pairs: { train: train.length, dev: dev.length, test: test.length },
      initFrom: init.weights === undefined ? 'random' : 'policy',
      steps: trainer.step,
      bestEpoch: best.epoch,
      minutes: minutes(),
      servedMaxAbsDiff,
    };
    const infoPath = join(o.out, QE_INFO_FILE);
    const info = JSON.parse(await readFile(infoPath, 'utf8')) as Record<string, unknown>;
    const { out: _out, ...report } = result;
    await writeFile(
      infoPath,
      `${JSON.stringify({ ...info, policy: o.policy, options: { ...o, lr }, result: report }, null, 2)}\n`,
    );
    emit({ kind: 'done', result });
    return result;
  } finally {
    await evalSession.release();
    await trainer.release();
  }
}
