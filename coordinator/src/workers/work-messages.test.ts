import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common, events, reward } from '@rest/proto';
import { InvalidArgumentError } from '@rest/service-kit';
import { seedFromText } from './seeds.js';
import { DEFAULT_EVAL_METRICS, parseEvalWork, parseGrowWork } from './work-messages.js';

function growWork(over: Partial<events.GrowWork> = {}): events.GrowWork {
  return events.GrowWork.fromPartial({
    messageId: 'r1/g1/grow/shard/0',
    runId: 'r1',
    grow: 1,
    shard: 0,
    policyId: 'base',
    dataset: 'm30k',
    split: 'train',
    sources: { $case: 'range', range: { start: 4, end: 7 } },
    samplesPerSource: 3,
    decoding: { strategy: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE, temperature: 0.8, seed: 42n },
    reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_UNSPECIFIED },
    ...over,
  });
}

function fields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    return err.violations.map((v) => v.field);
  }
  assert.fail('expected an InvalidArgumentError');
}

test('parseGrowWork: expands a range, sets N on the decoding and reads UNSPECIFIED as CLIPPED_01', () => {
  const job = parseGrowWork(growWork());
  assert.deepEqual(job.sources, [4, 5, 6]);
  assert.equal(job.decoding.numReturnSequences, 3);
  assert.equal(job.seed, 42n);
  assert.equal(job.reward.normalization, reward.Normalization.NORMALIZATION_CLIPPED_01);
  assert.equal(job.split, 'train');
});

test('parseGrowWork: a message without a seed gets one derived from its identity', () => {
  const work = growWork({ decoding: { ...growWork().decoding!, seed: undefined } });
  assert.equal(parseGrowWork(work).seed, seedFromText('r1/g1/grow/shard/0'));
  assert.equal(parseGrowWork(work).seed, parseGrowWork(work).seed);
});

test('parseGrowWork: reports every problem at once with its proto field path', () => {
  const got = fields(() =>
    parseGrowWork(
      growWork({
        runId: 'bad.id',
        grow: 0,
        policyId: '',
        split: 'dev',
        sources: { $case: 'range', range: { start: 9, end: 4 } },
        samplesPerSource: 0,
        reward: { model: 'chrf++', normalization: reward.Normalization.NORMALIZATION_RAW },
      }),
    ),
  );
  assert.deepEqual(got.sort(), [
    'GrowWork.grow',
    'GrowWork.policy_id',
    'GrowWork.reward.model',
    'GrowWork.run_id',
    'GrowWork.samples_per_source',
    'GrowWork.sources.range.end',
    'GrowWork.split',
  ]);
});

test('parseGrowWork: rejects unsorted indices, a missing decoding and a conflicting num_return_sequences', () => {
  assert.deepEqual(
    fields(() =>
      parseGrowWork(
        growWork({ sources: { $case: 'indices', indices: { indices: [1, 5, 5] } }, decoding: undefined }),
      ),
    ).sort(),
    ['GrowWork.decoding', 'GrowWork.sources.indices.indices[2]'],
  );
  assert.deepEqual(
    fields(() => parseGrowWork(growWork({ decoding: { ...growWork().decoding!, numReturnSequences: 2 } }))),
    ['GrowWork.decoding.num_return_sequences'],
  );
  assert.deepEqual(
    fields(() => parseGrowWork(growWork({ sources: undefined }))),
    ['GrowWork.sources'],
  );
});

function evalWork(over: Partial<events.EvalWork> = {}): events.EvalWork {
  return events.EvalWork.fromPartial({
    messageId: 'r1/g1/i2/eval/valid',
    runId: 'r1',
    grow: 1,
    improve: 2,
    policyId: 'r1.g1.i2',
    dataset: 'm30k',
    split: 'valid',
    eval: {
      decoding: { strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY },
      maxSources: 0,
      metrics: [],
    },
    reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 },
    ...over,
  });
}

test('parseEvalWork: all sources for max_sources 0, one sequence, default metrics when none are asked', () => {
  const job = parseEvalWork(evalWork());
  assert.equal(job.maxSources, undefined);
  assert.equal(job.decoding.numReturnSequences, 1);
  assert.deepEqual(job.metrics, DEFAULT_EVAL_METRICS);
  const some = parseEvalWork(
    evalWork({ eval: { decoding: common.DecodingParams.create(), maxSources: 5, metrics: ['ter', 'bleu'] } }),
  );
  assert.equal(some.maxSources, 5);
  assert.deepEqual(some.metrics, ['ter', 'bleu']);
});

test('parseEvalWork: rejects unknown and repeated metrics, N > 1 and a missing eval spec', () => {
  assert.deepEqual(
    fields(() =>
      parseEvalWork(
        evalWork({
          eval: {
            decoding: { ...common.DecodingParams.create(), numReturnSequences: 2 },
            maxSources: 0,
            metrics: ['bleu', 'meteor', 'bleu'],
          },
        }),
      ),
    ).sort(),
    ['EvalWork.eval.decoding.num_return_sequences', 'EvalWork.eval.metrics[1]', 'EvalWork.eval.metrics[2]'],
  );
  assert.deepEqual(
    fields(() => parseEvalWork(evalWork({ eval: undefined }))),
    ['EvalWork.eval'],
  );
});
