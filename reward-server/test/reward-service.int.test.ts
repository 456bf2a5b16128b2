/**
 * RewardService against a real server on 127.0.0.1:0 with the reference metrics and a tiny learned
 * model built at setup: ListRewardModels, Score (metric scores equal to @rest/text's sentence
 * functions, learned scores equal to the model's arithmetic in JavaScript, the three
 * normalisations), bad input answered with statuses naming the field, health, per-model metrics,
 * and dynamic batching coalescing concurrent requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { reward } from '@rest/proto';
import { sentenceBleu, sentenceChrf, sentenceTer } from '@rest/text';
import { perturbCorpus } from '@rest/text/testing';
import {
  call,
  healthStatus,
  metricValue,
  scrape,
  startHarness,
  violatedFields,
  type Harness,
} from './harness.js';
import { buildTinyRewardModel, multi30k, type TinyRewardModel } from './tiny-reward-model.js';

const { Normalization, RewardModelKind } = reward;
const SOURCES = multi30k('test.de', 40);
const REFERENCES = multi30k('test.en', 40);
const HYPOTHESES = perturbCorpus(REFERENCES, REFERENCES, 11);

function items(n = SOURCES.length, withReference = true): reward.ScoreItem[] {
  return SOURCES.slice(0, n).map((source, i) => ({
    source,
    hypothesis: HYPOTHESES[i]!,
    reference: withReference ? REFERENCES[i]! : '',
  }));
}

function close(
  actual: readonly number[],
  expected: readonly number[],
  tolerance: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  actual.forEach((a, i) => (worst = Math.max(worst, Math.abs(a - expected[i]!))));
  assert.ok(worst <= tolerance, `${what}: max abs difference ${worst} > ${tolerance}`);
}

describe('RewardService (integration)', () => {
  let tmp: string;
  let model: TinyRewardModel;
  let h: Harness;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reward-service-'));
    model = await buildTinyRewardModel(tmp);
    h = await startHarness({
      REWARD_MODELS__DIRS: JSON.stringify([tmp]),
      // Long enough that concurrent requests reliably share a batch, short enough not to slow tests.
      REWARD_BATCHING__MAX_WAIT_MS: '30ms',
      REWARD_LIMITS__MAX_ITEMS: '64',
      REWARD_LIMITS__MAX_TEXT_CHARS: '300',
    });
  });

  after(async () => {
    await h.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('health: SERVING for the server and both services', async () => {
    for (const service of ['', 'rest.v1.RewardService', 'inference.GRPCInferenceService']) {
      assert.equal(await healthStatus(h.server.port, service), 1, `health of "${service}"`);
    }
  });

  it('ListRewardModels: the four metrics and the learned model, by name, with what their scores mean', async () => {
    const { error, value } = await call(h.rewards, 'listRewardModels', {
      kind: RewardModelKind.REWARD_MODEL_KIND_UNSPECIFIED,
    });
    assert.equal(error, null);
    const byName = new Map(value!.models.map((m) => [m.name, m]));
    assert.deepEqual(
      value!.models.map((m) => m.name),
      ['bleu', 'chrf', 'chrf++', 'rm-tiny', 'ter'],
    );
    assert.equal(byName.get('bleu')!.version, 'nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0');
    assert.equal(byName.get('ter')!.higherIsBetter, false);
    assert.equal(byName.get('ter')!.requiresReference, true);
    const rm = byName.get('rm-tiny')!;
    assert.deepEqual(
      { ...rm },
      {
        name: 'rm-tiny',
        kind: RewardModelKind.REWARD_MODEL_KIND_LEARNED,
        version: 'rm-tiny-v1',
        description: 'test model: mean-pooled embeddings and a linear head (predicts chrf)',
        requiresReference: false,
        higherIsBetter: true,
        rawMin: 0,
        rawMax: 100,
        calibrationMean: 50,
        calibrationStd: 2,
      },
    );
    const learned = await call(h.rewards, 'listRewardModels', {
      kind: RewardModelKind.REWARD_MODEL_KIND_LEARNED,
    });
    assert.deepEqual(
      learned.value!.models.map((m) => m.name),
      ['rm-tiny'],
    );
    const bad = await call(h.rewards, 'listRewardModels', { kind: 9 as reward.RewardModelKind });
    assert.equal(bad.error?.code, status.INVALID_ARGUMENT);
  });

  it('Score: metric scores equal @rest/text sentence BLEU, chrF, chrF++ and TER', async () => {
    const expected: Record<string, (h: string, r: string) => number> = {
      bleu: (hyp, ref) => sentenceBleu(hyp, [ref]).score,
      chrf: (hyp, ref) => sentenceChrf(hyp, [ref]).score,
      'chrf++': (hyp, ref) => sentenceChrf(hyp, [ref], { wordOrder: 2 }).score,
      ter: (hyp, ref) => sentenceTer(hyp, [ref]).score,
    };
    for (const [name, score] of Object.entries(expected)) {
      const request = { model: name, items: items(), normalization: Normalization.NORMALIZATION_UNSPECIFIED };
      const { error, value } = await call(h.rewards, 'score', request);
      assert.equal(error, null, name);
      const want = request.items.map((it) => score(it.hypothesis, it.reference));
      assert.deepEqual(value!.rawScores, want, `${name}: raw scores`);
      assert.deepEqual(value!.scores, want, `${name}: RAW scores`);
      assert.equal(value!.normalization, Normalization.NORMALIZATION_RAW);
      assert.equal(value!.model?.name, name);
    }
  });

  it('Score: CLIPPED_01 and ZSCORE are higher-is-better; TER maps to clip(1 - TER/100) and (mean - TER)/std', async () => {
    const many = items();
    const clipped = await call(h.rewards, 'score', {
      model: 'ter',
      items: many,
      normalization: Normalization.NORMALIZATION_CLIPPED_01,
    });
    const ter = clipped.value!.rawScores;
    assert.deepEqual(
      clipped.value!.scores,
      ter.map((t) => Math.min(1, Math.max(0, 1 - t / 100))),
    );
    assert.ok(ter.some((t) => t > 100) || ter.some((t) => t > 0), 'TER varies');
    const z = await call(h.rewards, 'score', {
      model: 'ter',
      items: many,
      normalization: Normalization.NORMALIZATION_ZSCORE,
    });
    const { calibrationMean: mean, calibrationStd: std } = z.value!.model!;
    assert.deepEqual(
      z.value!.scores,
      ter.map((t) => 0 - (t - mean) / std),
    );
    const chrf = await call(h.rewards, 'score', {
      model: 'chrf',
      items: many,
      normalization: Normalization.NORMALIZATION_CLIPPED_01,
    });
    assert.deepEqual(
      chrf.value!.scores,
      chrf.value!.rawScores.map((c) => c / 100),
    );
  });

  it('Score: the learned model scores equal its arithmetic in JavaScript, without references; ZSCORE uses the manifest calibration', async () => {
    const request = {
      model: 'rm-tiny',
      items: items(SOURCES.length, false),
      normalization: Normalization.NORMALIZATION_ZSCORE,
    };
    const { error, value } = await call(h.rewards, 'score', request);
    assert.equal(error, null);
    const want = request.items.map((it) => model.expected(it.source, it.hypothesis));
    close(value!.rawScores, want, 1e-3, 'rm-tiny raw');
    close(
      value!.scores,
      value!.rawScores.map((r) => (r - 50) / 2),
      1e-12,
      'rm-tiny zscore',
    );
    assert.ok(new Set(value!.rawScores).size > 10, 'scores differ between items');
    assert.equal(value!.model?.version, 'rm-tiny-v1');
  });

  it('Score: bad input is INVALID_ARGUMENT naming every field at fault', async () => {
    const missingRef = await call(h.rewards, 'score', {
      model: 'bleu',
      items: [items(1)[0]!, { source: 'Ein Hund.', hypothesis: 'A dog.', reference: '' }],
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.equal(missingRef.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(missingRef.error), ['ScoreRequest.items[1].reference']);
    assert.match(missingRef.error.details, /ScoreRequest\.items\[1\]\.reference: required by "bleu"/);

    const bad = await call(h.rewards, 'score', {
      model: 'chrf',
      items: [
        { source: ' ', hypothesis: 'x', reference: 'y' },
        { source: 'ok', hypothesis: 'x'.repeat(301), reference: 'y' },
      ],
      normalization: 7 as reward.Normalization,
    });
    assert.equal(bad.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(bad.error), [
      'ScoreRequest.normalization',
      'ScoreRequest.items[0].source',
      'ScoreRequest.items[1].hypothesis',
    ]);

    const empty = await call(h.rewards, 'score', {
      model: 'chrf',
      items: [],
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.equal(empty.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(empty.error), ['ScoreRequest.items']);

    const noModel = await call(h.rewards, 'score', {
      model: '',
      items: items(1),
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.deepEqual(violatedFields(noModel.error), ['ScoreRequest.model']);

    const tooLong = await call(h.rewards, 'score', {
      model: 'rm-tiny',
      items: [items(1)[0]!, { source: 'xq '.repeat(99), hypothesis: 'qx '.repeat(99), reference: '' }],
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.equal(tooLong.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(tooLong.error), ['ScoreRequest.items[1]']);
    assert.match(tooLong.error.details, /more than the model's maxLength \(256\)/);
  });

  it('Score: unknown model is NOT_FOUND; too many items is RESOURCE_EXHAUSTED naming ScoreRequest.items', async () => {
    const unknown = await call(h.rewards, 'score', {
      model: 'comet',
      items: items(1),
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.equal(unknown.error?.code, status.NOT_FOUND);
    assert.match(unknown.error.details, /model "comet" not found/);
    const many = Array.from({ length: 65 }, () => items(1)[0]!);
    const tooMany = await call(h.rewards, 'score', {
      model: 'chrf',
      items: many,
      normalization: Normalization.NORMALIZATION_RAW,
    });
    assert.equal(tooMany.error?.code, status.RESOURCE_EXHAUSTED);
    assert.match(tooMany.error.details, /^ScoreRequest\.items: 65 items, more than .* \(64\)/);
  });

  it('batching: concurrent requests to the learned model share session runs (reward_batch_items)', async () => {
    const before = await scrape(h.server);
    const count0 = metricValue(before, 'reward_batch_items_count', { model: 'rm-tiny' });
    const sum0 = metricValue(before, 'reward_batch_items_sum', { model: 'rm-tiny' });
    const requests = 16;
    const results = await Promise.all(
      Array.from({ length: requests }, (_, i) =>
        call(h.rewards, 'score', {
          model: 'rm-tiny',
          items: [{ source: SOURCES[i]!, hypothesis: HYPOTHESES[i]!, reference: '' }],
          normalization: Normalization.NORMALIZATION_RAW,
        }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.error, null);
      close(r.value!.rawScores, [model.expected(SOURCES[i]!, HYPOTHESES[i]!)], 1e-3, `request ${i}`);
    });
    const after = await scrape(h.server);
    const batches = metricValue(after, 'reward_batch_items_count', { model: 'rm-tiny' }) - count0;
    const batchedItems = metricValue(after, 'reward_batch_items_sum', { model: 'rm-tiny' }) - sum0;
    assert.equal(batchedItems, requests);
    assert.ok(batches < requests, `${requests} single-item requests ran in ${batches} batches`);
  });

  it('metrics: per-model requests, items, latency and errors', async () => {
    const text = await scrape(h.server);
    assert.ok(
      metricValue(text, 'reward_requests_total', { model: 'rm-tiny', api: 'score', code: 'OK' }) >= 17,
    );
    assert.ok(metricValue(text, 'reward_items_total', { model: 'rm-tiny', api: 'score' }) >= 16 + 40);
    assert.ok(metricValue(text, 'reward_request_seconds_count', { model: 'chrf', api: 'score' }) >= 1);
    assert.ok(
      metricValue(text, 'reward_errors_total', { model: 'chrf', api: 'score', code: 'RESOURCE_EXHAUSTED' }) >=
        1,
    );
    assert.ok(
      metricValue(text, 'reward_errors_total', { model: 'bleu', api: 'score', code: 'INVALID_ARGUMENT' }) >=
        1,
    );
    assert.equal(metricValue(text, 'reward_queued_items', { model: 'rm-tiny' }), 0);
    assert.ok(text.includes('grpc_server_handled_total{rpc="rest.v1.RewardService/Score"'));
  });
});
