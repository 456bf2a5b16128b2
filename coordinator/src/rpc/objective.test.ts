import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectives } from '@rest/proto';
import { Violations } from '@rest/service-kit';
import { readObjective } from './objective.js';

const CTX = { basePolicyId: 'base', learningRate: 1e-4 };

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

function read(wire: DeepPartial<objectives.Objective> | undefined) {
  const v = new Violations();
  const spec = readObjective(
    v,
    'O',
    wire === undefined ? undefined : objectives.Objective.fromPartial(wire as objectives.Objective),
    CTX,
  );
  return { spec, problems: v.violations.map((x) => `${x.field}: ${x.problem}`) };
}

test('readObjective: unset is bc against the base policy', () => {
  assert.deepEqual(read(undefined), { spec: { name: 'bc', referencePolicyId: 'base' }, problems: [] });
});

test('readObjective: R-GOLD defaults its weight floor to 0.1', () => {
  const { spec } = read({
    objective: { $case: 'gold', gold: { variant: objectives.GoldVariant.GOLD_VARIANT_R_GOLD } },
  });
  assert.equal(spec.name === 'gold' ? spec.weightMin : undefined, 0.1);
  assert.equal(spec.name === 'gold' ? spec.lookahead : undefined, 5);
});

test('readObjective: an explicit GOLD look-ahead of 0 is kept', () => {
  const { spec } = read({ objective: { $case: 'gold', gold: { lookahead: 0 } } });
  assert.equal(spec.name === 'gold' ? spec.lookahead : undefined, 0);
});

test('readObjective: BVMPO rejects a KL weight that rises over the step', () => {
  assert.deepEqual(
    read({ objective: { $case: 'bvmpo', bvmpo: { klWeightStart: 0.01, klWeightEnd: 0.1 } } }).problems,
    ['O.bvmpo.kl_weight_end: must be <= kl_weight_start (0.1 > 0.01)'],
  );
});

test('readObjective: wBC samples uniformly and A-LoL by priority by default', () => {
  const wbc = read({ objective: { $case: 'wbc', wbc: {} } }).spec;
  const alol = read({ objective: { $case: 'alol', alol: {} } }).spec;
  assert.equal(wbc.name === 'wbc' ? wbc.sampling : undefined, 'uniform');
  assert.equal(alol.name === 'alol' ? alol.sampling : undefined, 'priority');
  assert.equal(alol.name === 'alol' ? alol.clipEpsilon : undefined, 0.9);
});

test('readObjective: DPO min-gap resolves its defaults', () => {
  const { spec, problems } = read({
    objective: { $case: 'dpo', dpo: { pairSelection: objectives.PairSelection.PAIR_SELECTION_MIN_GAP } },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(spec, {
    name: 'dpo',
    referencePolicyId: 'base',
    beta: 0.1,
    pairSelection: 'min-gap',
    minRewardGap: 0.1,
    referenceFree: false,
  });
});
