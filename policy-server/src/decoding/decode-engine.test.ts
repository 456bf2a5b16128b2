import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ContinuousBatch,
  generate,
  ParamTable,
  Seq2SeqModel,
  transformerParams,
  type GenerationDefaults,
  type TransformerConfig,
} from '@rest/runtime';
import { NOOP_LOGGER, ResourceExhaustedError, type BatchInfo } from '@rest/service-kit';
import type { Config } from '../config.js';
import type { LoadedPolicy } from '../policies/loaded-policy.js';
import { DecodeEngine } from './decode-engine.js';
import { resolveDecoding, sourceSeed, type DecodingRequest } from './decoding.js';

const CONFIG: TransformerConfig = {
  vocabSize: 40,
  dModel: 8,
  heads: 2,
  ffnDim: 16,
  encoderLayers: 1,
  decoderLayers: 1,
};
const DEFAULTS: GenerationDefaults = {
  decoderStartTokenId: 0,
  eosTokenId: 1,
  padTokenId: 0,
  bannedTokenIds: [0],
  maxLength: 8,
  numBeams: 1,
  lengthPenalty: 1,
};
const REQUEST: DecodingRequest = {
  strategy: 'greedy',
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: undefined,
  maxNewTokens: 5,
  numBeams: 0,
  lengthPenalty: undefined,
  numReturn: 0,
};
const SOURCES = [
  [5, 6, 7, 1],
  [9, 1],
  [12, 13, 14, 15, 16, 1],
];

async function tinyPolicy(): Promise<LoadedPolicy> {
  const table = new ParamTable(transformerParams(CONFIG));
  const params = table.initialize(new Float32Array(table.size), 3);
  const model = await Seq2SeqModel.fromParams(CONFIG, params, DEFAULTS);
  return { id: 'p', instance: 1, model, bytes: 0, release: () => model.release() } as unknown as LoadedPolicy;
}

/** The tiny policy with a row-wise decoder, as a bundle of ours gets one. */
async function tinyContinuousPolicy(): Promise<LoadedPolicy> {
  const table = new ParamTable(transformerParams(CONFIG));
  const params = table.initialize(new Float32Array(table.size), 3);
  const model = await Seq2SeqModel.fromParams(CONFIG, params, DEFAULTS);
  const continuous = await ContinuousBatch.create(model, CONFIG, params);
  const release = async (): Promise<void> => {
    await continuous.release();
    await model.release();
  };
  return { id: 'p', instance: 2, model, continuous, bytes: 0, release } as unknown as LoadedPolicy;
}

function engine(
  policy: LoadedPolicy,
  batching: Partial<Config['batching']>,
  onBatch?: (info: BatchInfo, kind: string) => void,
) {
  return new DecodeEngine({
    batching: {
      maxBatchSources: 32,
      maxBatchTokens: 10_000,
      maxWaitMs: 20,
      rejoinWaitMs: 2,
      maxConcurrentBatches: 1,
      continuous: false,
      ...batching,
    },
    maxQueuedSources: 8,
    retain: () => ({ policy, release: () => {} }),
    logger: NOOP_LOGGER,
    onBatch: onBatch === undefined ? undefined : (_id, kind, info) => onBatch(info, kind),
  });
}

test('DecodeEngine: concurrent requests with one decoding share a batch and get what generate gives each', async () => {
  const policy = await tinyPolicy();
  const batches: BatchInfo[] = [];
  const e = engine(policy, {}, (info) => batches.push(info));
  const d = resolveDecoding(REQUEST, DEFAULTS, 5).decoding;
  const signal = new AbortController().signal;
  const [a, b] = await Promise.all([
    e.generate(policy, SOURCES.slice(0, 2), d, signal),
    e.generate(policy, SOURCES.slice(2), d, signal),
  ]);
  assert.deepEqual(
    batches.map((x) => [x.items, x.requests]),
    [[3, 2]],
  );
  const want = await generate(policy.model, SOURCES, { strategy: 'greedy', maxNewTokens: 5 });
  assert.deepEqual(
    [...a, ...b].map((cs) => cs[0]!.tokenIds),
    want.map((cs) => cs[0]!.tokenIds),
  );
  await e.close();
  await policy.release();
});

test('DecodeEngine: a sampled source depends on its seed and request index only, not on its batch', async () => {
  const policy = await tinyPolicy();
  const e = engine(policy, {});
  const d = resolveDecoding(
    { ...REQUEST, strategy: 'sample', numReturn: 3, seed: 77n },
    DEFAULTS,
    5,
  ).decoding;
  const signal = new AbortController().signal;
  const alone = await e.generate(policy, SOURCES, d, signal);
  const [mixed] = await Promise.all([
    e.generate(policy, SOURCES, d, signal),
    e.generate(policy, SOURCES.slice(1), { ...d, seed: 5n }, signal),
  ]);
  assert.deepEqual(
    mixed.map((cs) => cs.map((c) => c.tokenIds)),
    alone.map((cs) => cs.map((c) => c.tokenIds)),
  );
  const want = await generate(policy.model, [SOURCES[2]!], {
    strategy: 'sample',
    numReturn: 3,
    maxNewTokens: 5,
    seed: sourceSeed(77n, 2),
  });
  assert.deepEqual(
    alone[2]!.map((c) => c.tokenIds),
    want[0]!.map((c) => c.tokenIds),
  );
  await e.close();
  await policy.release();
});

test('DecodeEngine: a cancelled request leaves the queue at once; a full queue refuses a request whole', async () => {
  const policy = await tinyPolicy();
  const e = engine(policy, { maxWaitMs: 10_000, maxBatchSources: 100 });
  const d = resolveDecoding(REQUEST, DEFAULTS, 5).decoding;
  const cancel = new AbortController();
  const waiting = e.generate(policy, SOURCES, d, cancel.signal);
  assert.equal(e.queuedSources, 3);
  await assert.rejects(
    e.generate(policy, [...SOURCES, ...SOURCES], d, new AbortController().signal),
    ResourceExhaustedError,
  );
  cancel.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  assert.equal(e.queuedSources, 0);
  await e.close();
  await policy.release();
});

test('DecodeEngine (continuous): a request arriving mid-decode joins the running decode; each source gets what generate gives it', async () => {
  const policy = await tinyContinuousPolicy();
  const steps: { items: number; kind: string }[] = [];
  let firstStep!: () => void;
  const stepped = new Promise<void>((resolve) => (firstStep = resolve));
  const e = engine(policy, { continuous: true }, (info, kind) => {
    steps.push({ items: info.items, kind });
    firstStep();
  });
  const greedy = resolveDecoding({ ...REQUEST, maxNewTokens: 7 }, DEFAULTS, 7).decoding;
  const sampled = resolveDecoding(
    { ...REQUEST, strategy: 'sample', numReturn: 2, seed: 9n, temperature: 0.8, maxNewTokens: 6 },
    DEFAULTS,
    7,
  ).decoding;
  const signal = new AbortController().signal;
  const a = e.generate(policy, SOURCES, greedy, signal);
  await stepped;
  const b = e.generate(policy, SOURCES.slice(0, 2), sampled, signal, 4);
  const [ra, rb] = await Promise.all([a, b]);
  assert.ok(
    steps.every((x) => x.kind === 'continuous'),
    'greedy and sampled decoding run in the continuous lane',
  );
  assert.ok(
    steps.some((x) => x.items === 5),
    `a step decodes both requests: ${JSON.stringify(steps)}`,
  );
  const wantA = await generate(policy.model, SOURCES, { strategy: 'greedy', maxNewTokens: 7 });
  assert.deepEqual(
    ra.map((cs) => cs.map((c) => c.tokenIds)),
    wantA.map((cs) => cs.map((c) => c.tokenIds)),
  );
  for (const [i, cs] of rb.entries()) {
    const [want] = await generate(policy.model, [SOURCES[i]!], {
      strategy: 'sample',
      numReturn: 2,
      temperature: 0.8,
      maxNewTokens: 6,
      sourceSeeds: [sourceSeed(9n, 4 + i)],
    });
    assert.deepEqual(
      cs.map((c) => c.tokenIds),
      want!.map((c) => c.tokenIds),
      `sampled source ${i}`,
    );
  }
  assert.equal(e.queuedSources, 0);
  await e.close();
  await policy.release();
});

test('DecodeEngine (continuous): a request cancelled mid-decode leaves it; beam search keeps the batcher', async () => {
  const policy = await tinyContinuousPolicy();
  const kinds = new Set<string>();
  let firstStep!: () => void;
  const stepped = new Promise<void>((resolve) => (firstStep = resolve));
  const e = engine(policy, { continuous: true }, (_info, kind) => {
    kinds.add(kind);
    firstStep();
  });
  const d = resolveDecoding({ ...REQUEST, maxNewTokens: 7 }, DEFAULTS, 7).decoding;
  const cancel = new AbortController();
  const doomed = e.generate(policy, SOURCES, d, cancel.signal);
  const kept = e.generate(policy, SOURCES.slice(1), d, new AbortController().signal);
  await stepped;
  cancel.abort(new Error('client went away'));
  await assert.rejects(doomed, /client went away/);
  const got = await kept;
  const want = await generate(policy.model, SOURCES.slice(1), { strategy: 'greedy', maxNewTokens: 7 });
  assert.deepEqual(
    got.map((cs) => cs[0]!.tokenIds),
    want.map((cs) => cs[0]!.tokenIds),
  );
  assert.equal(e.queuedSources, 0);
  const beam = resolveDecoding(
    { ...REQUEST, strategy: 'beam', numBeams: 2, numReturn: 1 },
    DEFAULTS,
    5,
  ).decoding;
  await e.generate(policy, SOURCES, beam, new AbortController().signal);
  assert.deepEqual([...kinds].sort(), ['continuous', 'generate']);
  await e.close();
  await policy.release();
});

test('DecodeEngine (continuous): maxBatchSources bounds the sources decoding at once; waiting ones join as others end', async () => {
  const policy = await tinyContinuousPolicy();
  const sizes: number[] = [];
  const e = engine(policy, { continuous: true, maxBatchSources: 2 }, (info) => sizes.push(info.items));
  const d = resolveDecoding({ ...REQUEST, maxNewTokens: 7 }, DEFAULTS, 7).decoding;
  const signal = new AbortController().signal;
  // Eight sources: as many as the engine queues.
  const requests = [SOURCES, SOURCES, SOURCES.slice(0, 2)];
  const got = await Promise.all(requests.map((r) => e.generate(policy, r, d, signal)));
  assert.ok(Math.max(...sizes) <= 2, `sources per step: ${sizes.join(',')}`);
  assert.ok(sizes.filter((n) => n === 2).length > sizes.length / 2, `mostly full: ${sizes.join(',')}`);
  const want = await generate(policy.model, SOURCES, { strategy: 'greedy', maxNewTokens: 7 });
  for (const r of got)
    assert.deepEqual(
      r.map((cs) => cs[0]!.tokenIds),
      want.slice(0, r.length).map((cs) => cs[0]!.tokenIds),
    );
  await e.close();
  await policy.release();
});
