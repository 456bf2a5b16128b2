import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GenerationDefaults } from '@rest/runtime';
import { decodingKey, resolveDecoding, sourceCost, sourceSeed, type DecodingRequest } from './decoding.js';

const POLICY: GenerationDefaults = {
  decoderStartTokenId: 0,
  eosTokenId: 1,
  padTokenId: 0,
  bannedTokenIds: [0],
  maxLength: 64,
  numBeams: 5,
  lengthPenalty: 0.6,
};

const REQUEST: DecodingRequest = {
  strategy: 'default',
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: undefined,
  maxNewTokens: 0,
  numBeams: 0,
  lengthPenalty: undefined,
  numReturn: 0,
};

test('resolveDecoding: the default strategy is the policy’s beam search with its width and length penalty', () => {
  const { decoding, problems } = resolveDecoding(REQUEST, POLICY, 128);
  assert.deepEqual(problems, []);
  assert.deepEqual(decoding, {
    strategy: 'beam',
    numReturn: 1,
    maxNewTokens: 63,
    temperature: 1,
    topK: 0,
    topP: 1,
    beamSize: 5,
    lengthPenalty: 0.6,
    seed: 0n,
  });
  assert.equal(resolveDecoding(REQUEST, { ...POLICY, numBeams: 1 }, 128).decoding.strategy, 'greedy');
});

test('resolveDecoding: BEAM with num_beams 0 means 4 and length penalty 1; more returns than beams is a problem', () => {
  const { decoding, problems } = resolveDecoding({ ...REQUEST, strategy: 'beam', numReturn: 5 }, POLICY, 16);
  assert.equal(decoding.beamSize, 4);
  assert.equal(decoding.lengthPenalty, 1);
  assert.equal(decoding.maxNewTokens, 16);
  assert.deepEqual(
    problems.map((p) => p.field),
    ['num_return_sequences'],
  );
});

test('resolveDecoding: GREEDY returns exactly 1; SAMPLE keeps its knobs and draws a seed when none is given', () => {
  assert.deepEqual(
    resolveDecoding({ ...REQUEST, strategy: 'greedy', numReturn: 2 }, POLICY, 8).problems.map((p) => p.field),
    ['num_return_sequences'],
  );
  const sampled = resolveDecoding(
    { ...REQUEST, strategy: 'sample', temperature: 0.7, topK: 5, topP: 0.9, numReturn: 8 },
    POLICY,
    8,
  ).decoding;
  assert.equal(sampled.temperature, 0.7);
  assert.equal(sampled.topK, 5);
  assert.equal(sampled.topP, 0.9);
  assert.equal(sampled.numReturn, 8);
  assert.notEqual(sampled.seed, 0n);
  const seeded = resolveDecoding({ ...REQUEST, strategy: 'sample', seed: 42n }, POLICY, 8).decoding;
  assert.equal(seeded.seed, 42n);
  assert.equal(seeded.temperature, 1);
  assert.equal(seeded.topP, 1);
});

test('decodingKey: equal settings share a key whatever the seed; sourceCost counts rows', () => {
  const a = resolveDecoding({ ...REQUEST, strategy: 'sample', seed: 1n, numReturn: 4 }, POLICY, 10).decoding;
  const b = resolveDecoding({ ...REQUEST, strategy: 'sample', seed: 2n, numReturn: 4 }, POLICY, 10).decoding;
  assert.equal(decodingKey(a), decodingKey(b));
  assert.notEqual(decodingKey(a), decodingKey({ ...a, temperature: 0.5 }));
  assert.equal(sourceCost(a, 6), 4 * (6 + 10));
});

test('sourceSeed: deterministic 32-bit seeds, different per source and per request seed', () => {
  const s = sourceSeed(123n, 0);
  assert.equal(sourceSeed(123n, 0), s);
  assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  assert.notEqual(sourceSeed(123n, 1), s);
  assert.notEqual(sourceSeed(124n, 0), s);
  assert.ok(sourceSeed(2n ** 64n - 1n, 5) >= 0);
});
