import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common } from '@rest/proto';
import { Violations } from '@rest/service-kit';
import { RUN_SPEC_DEFAULTS } from '../run/spec.js';
import { readDecoding, type DecodingRole } from './decoding.js';

const GROW: DecodingRole = {
  defaults: RUN_SPEC_DEFAULTS.growDecoding,
  numReturnSequences: 8,
  requiredBy: 'samples_per_source (8)',
};

function read(wire: Partial<common.DecodingParams> | undefined, role = GROW) {
  const v = new Violations();
  const spec = readDecoding(
    v,
    'D',
    wire === undefined ? undefined : { ...common.DecodingParams.create(), ...wire },
    role,
  );
  return { spec, problems: v.violations.map((x) => `${x.field}: ${x.problem}`) };
}

test('readDecoding: an unset message takes the role defaults and its sequence count', () => {
  const { spec, problems } = read(undefined);
  assert.deepEqual(problems, []);
  assert.equal(spec.strategy, 'sample');
  assert.equal(spec.temperature, 0.8);
  assert.equal(spec.numReturnSequences, 8);
});

test('readDecoding: beam needs at least as many beams as sequences', () => {
  const { problems } = read({ strategy: common.DecodingStrategy.DECODING_STRATEGY_BEAM, numBeams: 4 });
  assert.deepEqual(problems, ['D.num_beams: must be >= samples_per_source (8) for BEAM (got 4)']);
});

test('readDecoding: an explicit length penalty of 0 is kept', () => {
  const { spec } = read(
    { lengthPenalty: 0 },
    { ...GROW, defaults: RUN_SPEC_DEFAULTS.evalDecoding, numReturnSequences: 1 },
  );
  assert.equal(spec.lengthPenalty, 0);
  assert.equal(spec.strategy, 'beam');
});

test('readDecoding: rejects max_new_tokens past the limit', () => {
  assert.deepEqual(read({ maxNewTokens: 5000 }).problems, [
    'D.max_new_tokens: must be in [1, 1024] (got 5000)',
  ]);
});
