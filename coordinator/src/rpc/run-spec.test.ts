import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common, objectives, runSpec } from '@rest/proto';
import { InvalidArgumentError } from '@rest/service-kit';
import { parseRunSpec } from './run-spec.js';

/** Nested optional fields, the shape ts-proto's `fromPartial` fills in (its own type is not exported). */
type DeepPartial<T> = T extends bigint | number | string | boolean
  ? T
  : T extends readonly (infer U)[]
    ? DeepPartial<U>[]
    : T extends { $case: string }
      ? { [K in keyof T]?: DeepPartial<T[K]> } & { $case: T['$case'] }
      : T extends object
        ? { [K in keyof T]?: DeepPartial<T[K]> }
        : T;

/** A minimal valid wire spec: 1 Grow step, 3 Improve steps, N = 4. */
function wire(overrides: DeepPartial<runSpec.RunSpec> = {}): runSpec.RunSpec {
  const partial: DeepPartial<runSpec.RunSpec> = {
    dataset: { name: 'multi30k-de-en' },
    basePolicyId: 'bc-0',
    reward: { model: 'comet-qe-tiny' },
    growSteps: 1,
    improveSteps: 3,
    samplesPerSource: 4,
    thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.7, 0.8, 0.9] } } },
    ...overrides,
  };
  return runSpec.RunSpec.fromPartial(partial as runSpec.RunSpec);
}

/** The violations `parseRunSpec` throws, as `field: problem` lines. */
function problems(spec: runSpec.RunSpec | undefined): string[] {
  try {
    parseRunSpec(spec);
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError);
    return error.violations.map((v) => `${v.field}: ${v.problem}`);
  }
  assert.fail('parseRunSpec accepted the spec');
}

const P = 'CreateRunRequest.spec';

test('parseRunSpec: resolves the documented defaults of a minimal spec', () => {
  const spec = parseRunSpec(wire());
  assert.deepEqual(spec.dataset, {
    name: 'multi30k-de-en',
    trainSplit: 'train',
    validSplit: 'valid',
    testSplit: 'test',
    maxTrainSources: undefined,
  });
  assert.deepEqual(spec.reward, { model: 'comet-qe-tiny', normalization: 'clipped01' });
  assert.deepEqual(spec.thresholds, { kind: 'fixed', thresholds: [0.7, 0.8, 0.9], meanGuard: true });
  assert.deepEqual(spec.improveStop, { minExamples: 1000, minSourceCoverage: 0.01 });
  assert.equal(spec.continueWithoutGain, false, 'ReST: the Improve loop ends at a step without gain');
  assert.deepEqual(spec.growDecoding, {
    strategy: 'sample',
    temperature: 0.8,
    topK: 0,
    topP: 1,
    maxNewTokens: 128,
    numBeams: 4,
    lengthPenalty: 1,
    numReturnSequences: 4,
  });
  assert.equal(spec.eval.decoding.strategy, 'beam');
  assert.equal(spec.eval.decoding.lengthPenalty, 0.6);
  assert.equal(spec.eval.decoding.numReturnSequences, 1);
  assert.deepEqual(spec.objective, { name: 'bc', referencePolicyId: 'bc-0' });
  assert.equal(spec.optimizer.learningRate, 1e-4);
  assert.equal(spec.optimizer.lrDecayPerImprove, 0.5);
  assert.equal(spec.optimizer.maxGradNorm, undefined);
  assert.equal(spec.optimizer.labelSmoothing, 0.1);
  assert.equal(spec.seed, undefined);
  assert.equal(spec.sourcesPerGrowShard, 256);
  assert.equal(spec.includeReferences, false);
});

test('parseRunSpec: reports five problems at once with their field paths', () => {
  assert.deepEqual(
    problems(
      wire({
        growSteps: 0,
        samplesPerSource: 2000,
        thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.7, 0.9, 0.8] } } },
        growDecoding: { temperature: -1 },
        objective: { objective: { $case: 'dpo', dpo: { beta: -0.5 } } },
      }),
    ),
    [
      `${P}.grow_steps: must be in [1, 100] (got 0)`,
      `${P}.samples_per_source: must be in [1, 1024] (got 2000)`,
      `${P}.threshold_schedule.fixed.thresholds[2]: must be greater than thresholds[1] (0.8 <= 0.9)`,
      `${P}.grow_decoding.temperature: must be > 0 (got -1)`,
      `${P}.objective.dpo.beta: must be > 0 (got -0.5)`,
    ],
  );
});

test('parseRunSpec: rejects a missing spec', () => {
  assert.deepEqual(problems(undefined), [`${P}: is required`]);
});

test('parseRunSpec: rejects missing required messages and ids', () => {
  const spec = wire();
  assert.deepEqual(
    problems({
      ...spec,
      dataset: undefined,
      reward: undefined,
      thresholdSchedule: undefined,
      basePolicyId: '',
    }),
    [
      `${P}.base_policy_id: must be non-empty`,
      `${P}.reward: is required`,
      `${P}.dataset: is required`,
      `${P}.threshold_schedule: is required`,
    ],
  );
});

test('parseRunSpec: a schedule shorter than I is rejected, not padded', () => {
  assert.deepEqual(
    problems(
      wire({ thresholdSchedule: { schedule: { $case: 'fixed', fixed: { thresholds: [0.7, 0.8] } } } }),
    ),
    [`${P}.threshold_schedule.fixed.thresholds: must have one entry per Improve step: 3 (got 2)`],
  );
});

test('parseRunSpec: fixed thresholds must lie in [0, 1] on the clipped scale only', () => {
  const schedule = { schedule: { $case: 'fixed' as const, fixed: { thresholds: [-0.5, 0.8, 1.5] } } };
  assert.deepEqual(problems(wire({ thresholdSchedule: schedule })), [
    `${P}.threshold_schedule.fixed.thresholds[0]: must be in [0, 1] (got -0.5)`,
    `${P}.threshold_schedule.fixed.thresholds[2]: must be in [0, 1] (got 1.5)`,
  ]);
  const raw = parseRunSpec(
    wire({ thresholdSchedule: schedule, reward: { model: 'bleu', normalization: 1 } }),
  );
  assert.deepEqual(raw.thresholds, { kind: 'fixed', thresholds: [-0.5, 0.8, 1.5], meanGuard: true });
});

test('parseRunSpec: percentiles lie in (0, 100) and rise; the mean guard is fixed-only', () => {
  assert.deepEqual(
    problems(
      wire({
        thresholdSchedule: {
          schedule: { $case: 'percentile', percentile: { percentiles: [0, 50, 100] } },
          disableMeanGuard: true,
        },
      }),
    ),
    [
      `${P}.threshold_schedule.disable_mean_guard: applies only to the fixed schedule`,
      `${P}.threshold_schedule.percentile.percentiles[0]: must be in (0, 100) (got 0)`,
      `${P}.threshold_schedule.percentile.percentiles[2]: must be in (0, 100) (got 100)`,
    ],
  );
});

test('parseRunSpec: gammas lie in [0, 1] and must rise', () => {
  assert.deepEqual(
    problems(
      wire({
        thresholdSchedule: {
          schedule: { $case: 'interpolation', interpolation: { gammas: [0.5, 0.5, 1.2] } },
        },
      }),
    ),
    [
      `${P}.threshold_schedule.interpolation.gammas[2]: must be in [0, 1] (got 1.2)`,
      `${P}.threshold_schedule.interpolation.gammas[1]: must be greater than gammas[0] (0.5 <= 0.5)`,
    ],
  );
  const spec = parseRunSpec(
    wire({
      thresholdSchedule: {
        schedule: { $case: 'interpolation', interpolation: { gammas: [0.5, 0.7, 0.9] } },
        minExamples: 10,
        minSourceCoverage: 0.5,
        continueWithoutGain: true,
      },
    }),
  );
  assert.deepEqual(spec.thresholds, { kind: 'interpolation', gammas: [0.5, 0.7, 0.9] });
  assert.deepEqual(spec.improveStop, { minExamples: 10, minSourceCoverage: 0.5 });
  assert.equal(spec.continueWithoutGain, true);
});

test('parseRunSpec: Grow decoding must return N sequences and carry no seed', () => {
  assert.deepEqual(
    problems(
      wire({
        growDecoding: {
          strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
          numReturnSequences: 2,
          seed: 7n,
          topP: 1.5,
        },
      }),
    ),
    [
      `${P}.grow_decoding.num_return_sequences: must be 0 or samples_per_source (4) (got 2)`,
      `${P}.grow_decoding.strategy: GREEDY returns one sequence per source; samples_per_source (4) needs SAMPLE or BEAM`,
      `${P}.grow_decoding.seed: must be unset: sampling seeds derive from the run seed`,
      `${P}.grow_decoding.top_p: must be in (0, 1] (got 1.5)`,
    ],
  );
});

test('parseRunSpec: rejects unrecognized enum values, naming the accepted ones', () => {
  assert.deepEqual(problems(wire({ optimizer: { lrSchedule: -1 as runSpec.LrSchedule } })), [
    `${P}.optimizer.lr_schedule: must be one of LR_SCHEDULE_UNSPECIFIED, LR_SCHEDULE_CONSTANT, LR_SCHEDULE_INVERSE_SQRT, LR_SCHEDULE_LINEAR (got -1)`,
  ]);
});

test('parseRunSpec: rejects an unknown objective name', () => {
  const spec = wire();
  const objective = {
    objective: { $case: 'ppo', ppo: {} },
    referencePolicyId: '',
  } as unknown as objectives.Objective;
  assert.deepEqual(problems({ ...spec, objective }), [
    `${P}.objective.ppo: unknown objective; expected one of bc, wbc, gold, oac, bvmpo, alol, dpo, hypo`,
  ]);
});

test('parseRunSpec: the A-LoL KL variant defaults clip_epsilon to 0 and rejects another value', () => {
  const kl = objectives.AlolVariant.ALOL_VARIANT_KL;
  const spec = parseRunSpec(wire({ objective: { objective: { $case: 'alol', alol: { variant: kl } } } }));
  assert.equal(spec.objective.name === 'alol' ? spec.objective.clipEpsilon : undefined, 0);
  assert.deepEqual(
    problems(wire({ objective: { objective: { $case: 'alol', alol: { variant: kl, clipEpsilon: 0.9 } } } })),
    [`${P}.objective.alol.clip_epsilon: must be 0 for ALOL_VARIANT_KL (got 0.9)`],
  );
});

test('parseRunSpec: resolves objective defaults that depend on the rest of the spec', () => {
  const spec = parseRunSpec(
    wire({
      optimizer: { learningRate: 3e-4 },
      objective: { objective: { $case: 'oac', oac: { bcWeight: 0.5 } }, referencePolicyId: 'ref-1' },
    }),
  );
  assert.deepEqual(spec.objective, {
    name: 'oac',
    referencePolicyId: 'ref-1',
    value: { discount: 1, learningRate: 3e-4, trainSteps: 2000 },
    bcWeight: 0.5,
    advantageScaling: true,
  });
});

test('parseRunSpec: HyPO needs two online samples and fills its DPO part with defaults', () => {
  assert.deepEqual(
    problems(wire({ objective: { objective: { $case: 'hypo', hypo: { onlineSamples: 1 } } } })),
    [`${P}.objective.hypo.online_samples: must be in [2, 64] (got 1)`],
  );
  const spec = parseRunSpec(wire({ objective: { objective: { $case: 'hypo', hypo: {} } } }));
  assert.deepEqual(spec.objective, {
    name: 'hypo',
    referencePolicyId: 'bc-0',
    dpo: { beta: 0.1, pairSelection: 'best-worst', minRewardGap: 0.1, referenceFree: false },
    klWeight: 1e-2,
    onlineSamples: 2,
    onlineSourceFraction: 1,
    advantageClamp: 20,
  });
});

test('parseRunSpec: parses a spec that went through the binary encoding', () => {
  const sent = wire({ seed: 2n ** 60n, includeReferences: true, labels: { experiment: 'demo' } });
  const spec = parseRunSpec(runSpec.RunSpec.decode(runSpec.RunSpec.encode(sent).finish()));
  assert.equal(spec.seed, 2n ** 60n);
  assert.equal(spec.includeReferences, true);
  assert.deepEqual(spec.labels, { experiment: 'demo' });
});
