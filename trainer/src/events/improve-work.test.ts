import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common, events, objectives, reward } from '@rest/proto';
import { InvalidArgumentError } from '@rest/service-kit';
import { parseImproveWork } from './improve-work.js';

const O = objectives;

function work(objective?: objectives.Objective): events.ImproveWork {
  return events.ImproveWork.fromPartial({
    messageId: 'r/g1/i2/improve',
    runId: 'r',
    grow: 1,
    improve: 2,
    jobId: 'r-g1-i2',
    parentPolicyId: 'p1',
    ...(objective === undefined ? {} : { objective }),
    optimizer: {
      learningRate: 5e-5,
      maxStepsPerImprove: 300,
      evalEverySteps: 100,
      labelSmoothing: 0,
      dropout: 0.2,
    },
    numShards: 3,
    dataset: 'multi30k',
    eval: {
      decoding: { strategy: common.DecodingStrategy.DECODING_STRATEGY_BEAM, numBeams: 4, lengthPenalty: 0.6 },
      maxSources: 100,
    },
    reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_UNSPECIFIED },
    seed: 2n ** 40n + 7n,
  });
}

test('parseImproveWork: an unset objective is bc with the run label smoothing; defaults and decoding resolved', () => {
  const job = parseImproveWork(work());
  assert.equal(job.spec.objective.name, 'bc');
  assert.deepEqual(job.spec.objective.hyper, { labelSmoothing: 0 });
  assert.equal(job.referencePolicyId, 'p1');
  assert.equal(job.validSplit, 'valid');
  assert.deepEqual(job.reward, { model: 'chrf', normalization: 'clipped01' });
  assert.equal(job.spec.optimizer.maxSteps, 300);
  assert.equal(job.spec.optimizer.dropout, 0.2);
  assert.equal(job.spec.optimizer.beta2, 0.98);
  assert.equal(job.spec.optimizer.maxGradNorm, undefined);
  assert.deepEqual(job.spec.eval, {
    decoding: { strategy: 'beam', beamSize: 4, lengthPenalty: 0.6 },
    maxSources: 100,
  });
  assert.equal(job.spec.seed, 7);
});

test('parseImproveWork: A-LoL variants map to registry entries, with priority sampling by default', () => {
  const variants: [objectives.AlolVariant, string][] = [
    [O.AlolVariant.ALOL_VARIANT_UNSPECIFIED, 'alol'],
    [O.AlolVariant.ALOL_VARIANT_REF_FREE, 'alol-ref-free'],
    [O.AlolVariant.ALOL_VARIANT_SEQ, 'alol-seq'],
    [O.AlolVariant.ALOL_VARIANT_KL, 'alol-kl'],
    [O.AlolVariant.ALOL_VARIANT_RLOL, 'r-lol'],
  ];
  for (const [variant, name] of variants) {
    const job = parseImproveWork(
      work({
        objective: {
          $case: 'alol',
          alol: O.AlolParams.fromPartial({ variant, ...(name === 'alol-kl' ? { clipEpsilon: 0 } : {}) }),
        },
        referencePolicyId: 'base',
      }),
    );
    assert.equal(job.spec.objective.name, name);
    assert.equal(job.spec.objective.sampling, 'priority');
    assert.equal(job.referencePolicyId, 'base');
  }
});

test('parseImproveWork: dpo and hypo carry their pair selection and hyperparameters', () => {
  const dpo = O.DpoParams.fromPartial({
    beta: 0.2,
    pairSelection: O.PairSelection.PAIR_SELECTION_MIN_GAP,
    minRewardGap: 0.3,
  });
  const d = parseImproveWork(work({ objective: { $case: 'dpo', dpo }, referencePolicyId: '' }));
  assert.equal(d.spec.objective.name, 'dpo');
  assert.deepEqual(d.spec.objective.hyper, { beta: 0.2, referenceFree: false });
  assert.deepEqual([d.spec.objective.pairSelection, d.spec.objective.minRewardGap], ['min-gap', 0.3]);
  const h = parseImproveWork(
    work({
      objective: { $case: 'hypo', hypo: O.HypoParams.fromPartial({ dpo, klWeight: 0.05, onlineSamples: 3 }) },
      referencePolicyId: '',
    }),
  );
  assert.equal(h.spec.objective.name, 'hypo');
  assert.deepEqual(h.spec.objective.hyper, {
    beta: 0.2,
    referenceFree: false,
    klWeight: 0.05,
    onlineSamples: 3,
  });
});

test('parseImproveWork: reports every problem with its field path; unsupported variants are refused', () => {
  const bad = { ...work(), jobId: '', numShards: 0, reward: undefined };
  assert.throws(
    () => parseImproveWork(bad),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      ['ImproveWork.job_id', 'ImproveWork.num_shards', 'ImproveWork.reward.model'].every((f) =>
        e.violations.some((v) => v.field === f),
      ),
  );
  assert.throws(
    () =>
      parseImproveWork(
        work({
          objective: {
            $case: 'gold',
            gold: O.GoldParams.fromPartial({ variant: O.GoldVariant.GOLD_VARIANT_R_GOLD }),
          },
          referencePolicyId: '',
        }),
      ),
    /GOLD_VARIANT_R_GOLD is not supported/,
  );
});

test('parseImproveWork: the A-LoL value estimate and its bound; R-LoL has no value to estimate', () => {
  const alol = (p: Partial<objectives.AlolParams>) =>
    parseImproveWork(
      work({ objective: { $case: 'alol', alol: O.AlolParams.fromPartial(p) }, referencePolicyId: '' }),
    ).spec.objective;
  const unset = alol({});
  assert.deepEqual([unset.valueEstimate, unset.valueMax], ['monte-carlo', 1]);
  const head = alol({ valueEstimate: O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_HEAD, valueMax: 2 });
  assert.deepEqual([head.name, head.valueEstimate, head.valueMax], ['alol', 'head', 2]);
  const seq = alol({
    variant: O.AlolVariant.ALOL_VARIANT_SEQ,
    valueEstimate: O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_HEAD,
  });
  assert.deepEqual([seq.name, seq.valueEstimate], ['alol-seq', 'head']);
  assert.throws(
    () =>
      alol({
        variant: O.AlolVariant.ALOL_VARIANT_RLOL,
        valueEstimate: O.AlolValueEstimate.ALOL_VALUE_ESTIMATE_HEAD,
      }),
    /ImproveWork\.objective\.alol\.value_estimate: R-LoL has no value function/,
  );
  assert.throws(() => alol({ valueMax: -1 }), /ImproveWork\.objective\.alol\.value_max: must be/);
});

test('parseImproveWork: bvmpo carries its hyperparameters; zero fields take the defaults', () => {
  const bvmpo = (p: Partial<objectives.BvmpoParams>) =>
    parseImproveWork(
      work({ objective: { $case: 'bvmpo', bvmpo: O.BvmpoParams.fromPartial(p) }, referencePolicyId: 'sft' }),
    );
  const unset = bvmpo({});
  assert.equal(unset.spec.objective.name, 'bvmpo');
  assert.deepEqual(unset.spec.objective.hyper, {});
  assert.equal(unset.referencePolicyId, 'sft');
  assert.deepEqual(
    bvmpo({
      value: { discount: 0.9, learningRate: 0, trainSteps: 0 },
      klWeightStart: 2,
      klWeightEnd: 0.01,
      klAnnealing: O.KlAnnealing.KL_ANNEALING_LINEAR,
      topFraction: 0.25,
      epsilonEta: 0.05,
      epsilonAlpha: 0.02,
      targetRefreshSteps: 50,
    }).spec.objective.hyper,
    {
      discount: 0.9,
      klWeightStart: 2,
      klWeightEnd: 0.01,
      klAnnealing: 'linear',
      topFraction: 0.25,
      epsilonEta: 0.05,
      epsilonAlpha: 0.02,
      targetRefreshSteps: 50,
    },
  );
  assert.throws(
    () => bvmpo({ klAnnealing: 9 as objectives.KlAnnealing }),
    /ImproveWork\.objective\.bvmpo\.kl_annealing/,
  );
  assert.throws(() => bvmpo({ topFraction: 2 }), /topFraction/);
});
