/**
 * PolicyService against a real server on 127.0.0.1:0 with real NATS and FerretDB: every RPC
 * (Generate with each strategy, GenerateStream, Translate, ScoreSequences, ListPolicies, GetRoute,
 * SetRoute), answers checked against @rest/runtime's own decoding of the same bundle, bad input
 * answered with statuses naming the field, limits, health, and per-variant metrics.
 */
/* eslint-disable @typescript-eslint/unbound-method -- client methods go to call()/ok(), which invoke them on their client */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { common, policy } from '@rest/proto';
import { generate, scoreTargets, Seq2SeqModel } from '@rest/runtime';
import { loadTokenizer, type Tokenizer } from '@rest/text';
import { sourceSeed } from '../src/index.js';
import {
  call,
  healthStatus,
  metricValue,
  ok,
  registerPolicy,
  scrape,
  startHarness,
  startWorld,
  violatedFields,
  waitUntil,
  type Harness,
  type World,
} from './harness.js';
import { brokenCopy, buildPolicy, multi30k } from './tiny-policy.js';

const { DecodingStrategy } = common;
const SOURCES = multi30k('test.de', 12);

function decoding(overrides: Partial<common.DecodingParams>): common.DecodingParams {
  return {
    strategy: DecodingStrategy.DECODING_STRATEGY_UNSPECIFIED,
    temperature: 0,
    topK: 0,
    topP: 0,
    seed: undefined,
    maxNewTokens: 0,
    numBeams: 0,
    lengthPenalty: undefined,
    numReturnSequences: 0,
    ...overrides,
  };
}

function byId(policyId: string): common.PolicyRef {
  return { ref: { $case: 'policyId', policyId } };
}

function generateRequest(overrides: Partial<policy.GenerateRequest>): policy.GenerateRequest {
  return {
    policy: byId('alpha'),
    sources: SOURCES.slice(0, 3),
    decoding: undefined,
    requestKey: '',
    ...overrides,
  };
}

describe('PolicyService (integration)', () => {
  let world: World;
  let h: Harness;
  let alphaDir: string;
  let model: Seq2SeqModel;
  let tokenizer: Tokenizer;

  before(async () => {
    world = await startWorld();
    alphaDir = await buildPolicy(world.root, 'alpha-bundle', { seed: 1 });
    await registerPolicy(world, 'alpha', alphaDir, new Date('2024-01-01T00:00:00Z'));
    await registerPolicy(
      world,
      'beta',
      await buildPolicy(world.root, 'beta-bundle', { seed: 2 }),
      new Date('2024-01-02T00:00:00Z'),
    );
    await registerPolicy(
      world,
      'broken',
      await brokenCopy(alphaDir, join(world.root, 'broken'), 'onnx/decoder_model_merged.onnx', 'not onnx'),
      new Date('2023-12-31T00:00:00Z'),
    );
    const localDir = await buildPolicy(world.root, 'gamma', { seed: 3, numBeams: 1 });
    h = await startHarness(world, {
      POLICY_POLICIES__DIRS: JSON.stringify([localDir]),
      POLICY_LIMITS__MAX_SOURCES: '16',
      POLICY_LIMITS__MAX_SOURCE_CHARS: '300',
      POLICY_LIMITS__MAX_CANDIDATES: '40',
      POLICY_LIMITS__MAX_QUEUED_SOURCES: '64',
      POLICY_BATCHING__MAX_WAIT_MS: '20ms',
    });
    ({ model } = await Seq2SeqModel.load(alphaDir));
    tokenizer = await loadTokenizer(alphaDir);
  });

  after(async () => {
    await model?.release();
    await h?.close();
    await world?.stop();
  });

  it('health: SERVING for the server and both services', async () => {
    for (const service of ['', 'rest.v1.PolicyService', 'inference.GRPCInferenceService']) {
      assert.equal(await healthStatus(h.server.port, service), 1, `health of "${service}"`);
    }
  });

  it('Generate: GREEDY equals @rest/runtime decoding the same bundle, texts detokenised', async () => {
    const out = await ok(
      h.policies,
      h.policies.generate,
      generateRequest({
        decoding: decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_GREEDY, maxNewTokens: 8 }),
      }),
    );
    const want = await generate(
      model,
      SOURCES.slice(0, 3).map((s) => tokenizer.encode(s)),
      { strategy: 'greedy', maxNewTokens: 8 },
    );
    assert.deepEqual(out.servedBy, { policyId: 'alpha', route: '', variant: '', routeVersion: 0 });
    assert.equal(out.seed, 0n);
    assert.deepEqual(
      out.results.map((r) => r.sourceIndex),
      [0, 1, 2],
    );
    out.results.forEach((r, i) => {
      const [got] = r.candidates;
      const [expected] = want[i]!;
      assert.deepEqual(got!.tokenIds, expected!.tokenIds);
      assert.equal(got!.text, tokenizer.decode(expected!.tokenIds));
      assert.ok(Math.abs(got!.sequenceLogprob - expected!.sequenceLogprob) < 1e-4);
      assert.equal(got!.tokenLogprobs.length, got!.tokenIds.length);
      assert.equal(
        got!.finishReason,
        expected!.finishReason === 'eos'
          ? policy.FinishReason.FINISH_REASON_EOS
          : policy.FinishReason.FINISH_REASON_LENGTH,
      );
    });
  });

  it('Generate: SAMPLE returns N candidates per source, replays exactly with its seed, and reports a drawn seed', async () => {
    const params = decoding({
      strategy: DecodingStrategy.DECODING_STRATEGY_SAMPLE,
      numReturnSequences: 4,
      temperature: 0.8,
      topP: 0.95,
      maxNewTokens: 6,
    });
    const drawn = await ok(h.policies, h.policies.generate, generateRequest({ decoding: params }));
    assert.notEqual(drawn.seed, 0n);
    for (const r of drawn.results) assert.equal(r.candidates.length, 4);
    const again = await ok(
      h.policies,
      h.policies.generate,
      generateRequest({ decoding: { ...params, seed: drawn.seed } }),
    );
    assert.deepEqual(
      again.results.map((r) => r.candidates.map((c) => c.tokenIds)),
      drawn.results.map((r) => r.candidates.map((c) => c.tokenIds)),
    );
    // Each source is sampled on its own under a per-source seed, whatever it was batched with.
    const want = await generate(model, [tokenizer.encode(SOURCES[1]!)], {
      strategy: 'sample',
      numReturn: 4,
      temperature: 0.8,
      topP: 0.95,
      maxNewTokens: 6,
      seed: sourceSeed(drawn.seed, 1),
    });
    assert.deepEqual(
      drawn.results[1]!.candidates.map((c) => c.tokenIds),
      want[0]!.map((c) => c.tokenIds),
    );
  });

  it('Generate: BEAM returns the best num_return_sequences beams, best first; UNSPECIFIED takes the policy default', async () => {
    const out = await ok(
      h.policies,
      h.policies.generate,
      generateRequest({
        decoding: decoding({
          strategy: DecodingStrategy.DECODING_STRATEGY_BEAM,
          numBeams: 3,
          numReturnSequences: 2,
          maxNewTokens: 8,
        }),
      }),
    );
    const want = await generate(
      model,
      SOURCES.slice(0, 3).map((s) => tokenizer.encode(s)),
      {
        strategy: 'beam',
        beamSize: 3,
        numReturn: 2,
        maxNewTokens: 8,
      },
    );
    out.results.forEach((r, i) =>
      assert.deepEqual(
        r.candidates.map((c) => c.tokenIds),
        want[i]!.map((c) => c.tokenIds),
      ),
    );
    // The bundle's generation_config.json says num_beams 2, max_length 12: beam search, 11 new tokens at most.
    const byDefault = await ok(h.policies, h.policies.generate, generateRequest({ decoding: undefined }));
    const wantDefault = await generate(
      model,
      SOURCES.slice(0, 3).map((s) => tokenizer.encode(s)),
      { strategy: 'beam', beamSize: 2, maxNewTokens: 11 },
    );
    byDefault.results.forEach((r, i) =>
      assert.deepEqual(r.candidates[0]!.tokenIds, wantDefault[i]![0]!.tokenIds),
    );
  });

  it('GenerateStream: every source in exactly one chunk, sources_per_response at most, same answers as Generate', async () => {
    const sources = multi30k('test.de', 11);
    const params = decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_GREEDY, maxNewTokens: 5 });
    const chunks: policy.GenerateStreamResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = h.policies.generateStream({
        policy: byId('alpha'),
        sources,
        decoding: params,
        requestKey: '',
        sourcesPerResponse: 3,
      });
      stream.on('data', (chunk: policy.GenerateStreamResponse) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    const indices = chunks.flatMap((c) => c.results.map((r) => r.sourceIndex)).sort((a, b) => a - b);
    assert.deepEqual(
      indices,
      sources.map((_, i) => i),
    );
    for (const c of chunks) {
      assert.ok(c.results.length <= 3);
      assert.equal(c.servedBy?.policyId, 'alpha');
    }
    const unary = await ok(h.policies, h.policies.generate, {
      policy: byId('alpha'),
      sources,
      decoding: params,
      requestKey: '',
    });
    for (const c of chunks) {
      for (const r of c.results)
        assert.deepEqual(r.candidates[0]!.tokenIds, unary.results[r.sourceIndex]!.candidates[0]!.tokenIds);
    }
  });

  it('Translate: the best translation per source with the policy default decoding; a local-folder policy serves too', async () => {
    const out = await ok(h.policies, h.policies.translate, {
      policy: byId('alpha'),
      sources: SOURCES.slice(0, 4),
      requestKey: '',
      decoding: undefined,
    });
    const want = await generate(
      model,
      SOURCES.slice(0, 4).map((s) => tokenizer.encode(s)),
      { strategy: 'beam', beamSize: 2, maxNewTokens: 11 },
    );
    assert.deepEqual(
      out.translations.map((t) => t.text),
      want.map((cs) => tokenizer.decode(cs[0]!.tokenIds)),
    );
    out.translations.forEach((t, i) =>
      assert.ok(Math.abs(t.sequenceLogprob - want[i]![0]!.sequenceLogprob) < 1e-4),
    );
    const local = await ok(h.policies, h.policies.translate, {
      policy: byId('gamma'),
      sources: SOURCES.slice(0, 2),
      requestKey: '',
      decoding: undefined,
    });
    assert.equal(local.servedBy?.policyId, 'gamma');
    assert.equal(local.translations.length, 2);
  });

  it('ScoreSequences: teacher-forced log-probs equal scoreTargets, for text and token-id targets', async () => {
    const targets = multi30k('test.en', 3);
    const out = await ok(h.policies, h.policies.scoreSequences, {
      policy: byId('alpha'),
      pairs: [
        { source: SOURCES[0]!, target: targets[0]!, targetTokenIds: [] },
        { source: SOURCES[1]!, target: 'ignored', targetTokenIds: [5, 6, 7, 1] },
      ],
      includeTokenLogprobs: true,
    });
    const want = await scoreTargets(
      model,
      [tokenizer.encode(SOURCES[0]!), tokenizer.encode(SOURCES[1]!)],
      [tokenizer.encode(targets[0]!), [5, 6, 7, 1]],
    );
    assert.deepEqual(out.scores[1]!.tokenIds, [5, 6, 7, 1]);
    out.scores.forEach((s, i) => {
      assert.equal(s.numTokens, s.tokenIds.length);
      assert.ok(Math.abs(s.sequenceLogprob - want[i]!.sequenceLogprob) < 1e-3, `pair ${i}`);
      s.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - want[i]!.tokenLogprobs[j]!) < 1e-4));
    });
    const brief = await ok(h.policies, h.policies.scoreSequences, {
      policy: byId('alpha'),
      pairs: [{ source: SOURCES[0]!, target: targets[0]!, targetTokenIds: [] }],
      includeTokenLogprobs: false,
    });
    assert.deepEqual(brief.scores[0]!.tokenIds, []);
    assert.ok(Math.abs(brief.scores[0]!.sequenceLogprob - want[0]!.sequenceLogprob) < 1e-3);
  });

  it('ListPolicies: registry and local policies, newest first, paged, filtered by run, with what is loaded', async () => {
    const first = await ok(h.policies, h.policies.listPolicies, { runId: '', pageSize: 2, pageToken: '' });
    const second = await ok(h.policies, h.policies.listPolicies, {
      runId: '',
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    const ids = [...first.policies, ...second.policies].map((p) => p.policyId);
    // gamma (local) was written today; beta, alpha, broken were registered with older dates.
    assert.deepEqual(ids, ['gamma', 'beta', 'alpha', 'broken']);
    assert.equal(second.nextPageToken, '');
    const alpha = first.policies.concat(second.policies).find((p) => p.policyId === 'alpha')!;
    assert.equal(alpha.loaded, true);
    assert.equal(alpha.bundleId, 'alpha');
    assert.deepEqual(alpha.metrics, { bleu: 1.5 });
    const none = await ok(h.policies, h.policies.listPolicies, {
      runId: 'no-such-run',
      pageSize: 0,
      pageToken: '',
    });
    assert.deepEqual(none.policies, []);
    const bad = await call(h.policies, h.policies.listPolicies, {
      runId: '',
      pageSize: 501,
      pageToken: 'garbage',
    });
    assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(bad.error), [
      'ListPoliciesRequest.page_size',
      'ListPoliciesRequest.page_token',
    ]);
  });

  it('SetRoute / GetRoute: create, replace with the read version, stale version refused, unknown policy NOT_FOUND', async () => {
    const created = await ok(h.policies, h.policies.setRoute, {
      alias: 'de-en',
      variants: [
        { name: 'control', policyId: 'alpha', weight: 9 },
        { name: 'candidate', policyId: 'beta', weight: 1 },
      ],
      shadow: { policyId: 'gamma', sampleRate: 0.5 },
      expectedVersion: 0,
    });
    assert.equal(created.route?.version, 1);
    const read = await ok(h.policies, h.policies.getRoute, { alias: 'de-en' });
    assert.deepEqual(
      read.route?.variants.map((v) => [v.name, v.policyId, v.weight]),
      [
        ['control', 'alpha', 9],
        ['candidate', 'beta', 1],
      ],
    );
    assert.deepEqual(read.route?.shadow, { policyId: 'gamma', sampleRate: 0.5 });
    const stale = await call(h.policies, h.policies.setRoute, {
      alias: 'de-en',
      variants: [{ name: '', policyId: 'beta', weight: 1 }],
      shadow: undefined,
      expectedVersion: 0,
    });
    assert.equal(stale.error?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(stale.error?.details ?? '', /SetRouteRequest\.expected_version/);
    const replaced = await ok(h.policies, h.policies.setRoute, {
      alias: 'de-en',
      variants: [{ name: '', policyId: 'beta', weight: 1 }],
      shadow: undefined,
      expectedVersion: 1,
    });
    assert.equal(replaced.route?.version, 2);
    assert.equal(replaced.route?.variants[0]?.name, 'beta');
    assert.equal(replaced.route?.shadow, undefined);
    // This replica serves the version it wrote as soon as SetRoute answers.
    const served = await ok(h.policies, h.policies.translate, {
      policy: { ref: { $case: 'route', route: 'de-en' } },
      sources: SOURCES.slice(0, 1),
      requestKey: 'k',
      decoding: undefined,
    });
    assert.deepEqual(served.servedBy, { policyId: 'beta', route: 'de-en', variant: 'beta', routeVersion: 2 });
    const unknown = await call(h.policies, h.policies.setRoute, {
      alias: 'de-en',
      variants: [{ name: 'x', policyId: 'nope', weight: 1 }],
      shadow: { policyId: 'nada', sampleRate: 0.1 },
      expectedVersion: 2,
    });
    assert.equal(unknown.error?.code, grpc.status.NOT_FOUND);
    assert.match(
      unknown.error?.details ?? '',
      /SetRouteRequest\.variants\[0\]\.policy_id: policy "nope" not found/,
    );
    assert.match(unknown.error?.details ?? '', /SetRouteRequest\.shadow\.policy_id: policy "nada" not found/);
    const invalid = await call(h.policies, h.policies.setRoute, {
      alias: '',
      variants: [
        { name: 'a', policyId: 'alpha', weight: 0 },
        { name: 'a', policyId: '', weight: -1 },
      ],
      shadow: { policyId: 'alpha', sampleRate: 1.5 },
      expectedVersion: 0,
    });
    assert.equal(invalid.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(invalid.error), [
      'SetRouteRequest.alias',
      'SetRouteRequest.variants[1].policy_id',
      'SetRouteRequest.variants[1].name',
      'SetRouteRequest.variants[1].weight',
      'SetRouteRequest.variants',
      'SetRouteRequest.shadow.sample_rate',
    ]);
    const missing = await call(h.policies, h.policies.getRoute, { alias: 'nope' });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
    assert.match(missing.error?.details ?? '', /GetRouteRequest\.alias: route "nope" not found/);
  });

  it('bad input: every problem at once, each naming its field; the server keeps serving', async () => {
    const bad = await call(h.policies, h.policies.generate, {
      policy: byId('alpha'),
      sources: ['ok', '', 'x'.repeat(301)],
      decoding: decoding({
        temperature: -1,
        topP: 1.5,
        maxNewTokens: 100_000,
        numReturnSequences: 65,
        numBeams: 99,
      }),
      requestKey: '',
    });
    assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(bad.error), [
      'GenerateRequest.sources[1]',
      'GenerateRequest.sources[2]',
      'GenerateRequest.decoding.temperature',
      'GenerateRequest.decoding.top_p',
      'GenerateRequest.decoding.max_new_tokens',
      'GenerateRequest.decoding.num_beams',
      'GenerateRequest.decoding.num_return_sequences',
    ]);
    const empty = await call(h.policies, h.policies.translate, {
      policy: byId('alpha'),
      sources: [],
      requestKey: '',
      decoding: undefined,
    });
    assert.deepEqual(violatedFields(empty.error), ['TranslateRequest.sources']);
    const greedyN = await call(
      h.policies,
      h.policies.generate,
      generateRequest({
        decoding: decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_GREEDY, numReturnSequences: 2 }),
      }),
    );
    assert.deepEqual(violatedFields(greedyN.error), ['GenerateRequest.decoding.num_return_sequences']);
    const beamN = await call(
      h.policies,
      h.policies.generate,
      generateRequest({
        decoding: decoding({
          strategy: DecodingStrategy.DECODING_STRATEGY_BEAM,
          numBeams: 2,
          numReturnSequences: 3,
        }),
      }),
    );
    assert.match(beamN.error?.details ?? '', /num_return_sequences: must be at most num_beams \(2\)/);
    const translateN = await call(h.policies, h.policies.translate, {
      policy: byId('alpha'),
      sources: ['a'],
      requestKey: '',
      decoding: decoding({ numReturnSequences: 2 }),
    });
    assert.deepEqual(violatedFields(translateN.error), ['TranslateRequest.decoding.num_return_sequences']);
    const badIds = await call(h.policies, h.policies.scoreSequences, {
      policy: byId('alpha'),
      pairs: [
        { source: '', target: 'x', targetTokenIds: [] },
        { source: 'a', target: '', targetTokenIds: [3, 100_000] },
      ],
      includeTokenLogprobs: false,
    });
    assert.deepEqual(violatedFields(badIds.error), ['ScoreSequencesRequest.pairs[0].source']);
    const outOfVocab = await call(h.policies, h.policies.scoreSequences, {
      policy: byId('alpha'),
      pairs: [{ source: 'a', target: '', targetTokenIds: [3, 100_000] }],
      includeTokenLogprobs: false,
    });
    assert.deepEqual(violatedFields(outOfVocab.error), [
      'ScoreSequencesRequest.pairs[0].target_token_ids[1]',
    ]);
    const streamed = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = h.policies.generateStream({
        policy: byId('alpha'),
        sources: ['a', ''],
        decoding: decoding({ topP: -0.5 }),
        requestKey: '',
        sourcesPerResponse: 0,
      });
      stream.on('data', () => assert.fail('no chunk expected'));
      stream.on('error', resolve);
    });
    assert.equal(streamed.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(streamed), [
      'GenerateStreamRequest.sources[1]',
      'GenerateStreamRequest.decoding.top_p',
    ]);
    const alive = await ok(h.policies, h.policies.translate, {
      policy: byId('alpha'),
      sources: ['Hallo'],
      requestKey: '',
      decoding: undefined,
    });
    assert.equal(alive.translations.length, 1);
  });

  it('unknown policy or route: NOT_FOUND naming the field; a broken bundle: FAILED_PRECONDITION', async () => {
    const policyMissing = await call(h.policies, h.policies.translate, {
      policy: byId('nope'),
      sources: ['a'],
      requestKey: '',
      decoding: undefined,
    });
    assert.equal(policyMissing.error?.code, grpc.status.NOT_FOUND);
    assert.match(policyMissing.error?.details ?? '', /policy "nope" not found/);
    const routeMissing = await call(
      h.policies,
      h.policies.generate,
      generateRequest({ policy: { ref: { $case: 'route', route: 'nope' } } }),
    );
    assert.equal(routeMissing.error?.code, grpc.status.NOT_FOUND);
    assert.match(routeMissing.error?.details ?? '', /GenerateRequest\.policy\.route: route "nope" not found/);
    const noDefault = await call(h.policies, h.policies.generate, generateRequest({ policy: undefined }));
    assert.equal(noDefault.error?.code, grpc.status.NOT_FOUND);
    assert.match(
      noDefault.error?.details ?? '',
      /GenerateRequest\.policy: unset, and the default route "default" does not exist/,
    );
    const broken = await call(h.policies, h.policies.translate, {
      policy: byId('broken'),
      sources: ['a'],
      requestKey: '',
      decoding: undefined,
    });
    assert.equal(broken.error?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(broken.error?.details ?? '', /policy "broken" cannot be loaded/);
  });

  it('limits: too many sources, candidates or queued sources answer RESOURCE_EXHAUSTED', async () => {
    const many = await call(h.policies, h.policies.translate, {
      policy: byId('alpha'),
      sources: Array.from({ length: 17 }, () => 'Hallo'),
      requestKey: '',
      decoding: undefined,
    });
    assert.equal(many.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(many.error?.details ?? '', /TranslateRequest\.sources: 17 sources/);
    const candidates = await call(
      h.policies,
      h.policies.generate,
      generateRequest({
        sources: Array.from({ length: 11 }, () => 'Hallo'),
        decoding: decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_SAMPLE, numReturnSequences: 4 }),
      }),
    );
    assert.equal(candidates.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    // 5 requests × 16 sources against a queue of 64: at least one is refused whole, none fail otherwise.
    const burst = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(h.policies, h.policies.translate, {
          policy: byId('alpha'),
          sources: multi30k('test.de', 16),
          requestKey: '',
          decoding: decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_GREEDY }),
        }),
      ),
    );
    const codes = burst.map((o) => o.error?.code ?? grpc.status.OK);
    assert.ok(codes.includes(grpc.status.RESOURCE_EXHAUSTED), `codes ${codes.join(',')}`);
    assert.ok(
      codes.every((c) => c === grpc.status.OK || c === grpc.status.RESOURCE_EXHAUSTED),
      `codes ${codes.join(',')}`,
    );
  });

  it('deadline: an expired request answers DEADLINE_EXCEEDED and leaves nothing behind', async () => {
    const late = await call(
      h.policies,
      h.policies.generate,
      generateRequest({
        sources: multi30k('test.de', 16),
        decoding: decoding({ strategy: DecodingStrategy.DECODING_STRATEGY_SAMPLE, numReturnSequences: 2 }),
      }),
      { deadline: Date.now() + 20 },
    );
    assert.equal(late.error?.code, grpc.status.DEADLINE_EXCEEDED);
    await waitUntil(
      () => h.server.serving.activeRequests === 0 && h.server.engine.queuedSources === 0,
      'the expired request to leave',
    );
  });

  it('metrics: per-variant requests, latency, generated tokens and errors', async () => {
    const text = await scrape(h.server);
    const direct = { route: '', variant: '', policy: 'alpha', role: 'serve' };
    assert.ok(metricValue(text, 'policy_requests_total', { ...direct, api: 'generate', code: 'OK' }) >= 4);
    assert.ok(metricValue(text, 'policy_generated_tokens_total', { ...direct, api: 'generate' }) > 0);
    assert.ok(metricValue(text, 'policy_request_seconds_count', { ...direct, api: 'translate' }) >= 1);
    assert.ok(
      metricValue(text, 'policy_errors_total', { policy: 'broken', code: 'FAILED_PRECONDITION' }) >= 1,
    );
    assert.ok(
      metricValue(text, 'policy_requests_total', {
        route: 'de-en',
        variant: 'beta',
        policy: 'beta',
        api: 'translate',
      }) >= 1,
    );
    assert.equal(metricValue(text, 'policy_requests_total', { policy: 'nope' }), 0);
    assert.ok(metricValue(text, 'policy_batch_sources_count', { policy: 'alpha', kind: 'generate' }) > 0);
    assert.equal(metricValue(text, 'policy_loaded', { policy: 'alpha' }), 1);
  });
});
