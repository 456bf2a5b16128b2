import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamTable, Seq2SeqModel, scoreTargets, transformerParams } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';
import type { ScoredCandidate } from './data.js';
import { prepareUnits, type PrepareOptions } from './prepare.js';
import { IMPROVE_DEFAULTS, type ObjectiveChoice } from './spec.js';
import { tinyConfig } from '../testing.js';

/** One id per character (3 + code mod 40) and the end token 1. */
const TOKENIZER: Tokenizer = {
  vocabSize: 50,
  specialIds: { pad: 0, eos: 1, unk: 2 },
  encode: (text: string) => [...text].map((c) => 3 + (c.charCodeAt(0) % 40)).concat(1),
  decode: (ids: readonly number[]) => ids.map(String).join(' '),
  idToToken: () => undefined,
};

function c(
  key: string,
  sourceId: string,
  text: string,
  reward: number,
  extra: Partial<ScoredCandidate> = {},
): ScoredCandidate {
  return { key, sourceId, source: `src ${sourceId}`, text, reward, isReference: false, ...extra };
}

const ALL = [
  c('0/0', 'x', 'aa', 0.9),
  c('0/1', 'x', 'ab', 0.5),
  c('0/2', 'x', 'ac', 0.1),
  c('0/r', 'x', 'ref x', 1, { isReference: true }),
  c('1/0', 'y', 'ba', 0.4),
  c('1/1', 'y', 'bb', 0.4),
  c('2/r', 'z', 'ref z', 0.8, { isReference: true }),
];

function choice(name: ObjectiveChoice['name']): ObjectiveChoice {
  return { name, hyper: {}, sampling: 'uniform', pairSelection: 'best-worst', minRewardGap: 0.1 };
}

function options(name: ObjectiveChoice['name'], reference: PrepareOptions['reference']): PrepareOptions {
  return { objective: choice(name), tokenizer: TOKENIZER, maxLength: 64, reference };
}

const noReference = (): Promise<Seq2SeqModel> =>
  Promise.reject(new Error('the reference policy must not be opened'));

test('prepareUnits: Monte-Carlo baselines from the sampled candidates; a reference-only source gets its own reward', async () => {
  const train = ALL.filter((x) => x.reward >= 0.5);
  const p = await prepareUnits(train, ALL, {}, options('wbc', noReference));
  const baseline = new Map(p.units.map((u) => [u.rows[0]!.sourceId, u.rows[0]!.baseline]));
  assert.ok(
    Math.abs(baseline.get('x')! - 0.5) < 1e-12,
    'mean of 0.9, 0.5, 0.1 (the reference does not count)',
  );
  assert.equal(baseline.get('z'), 0.8);
  assert.equal(p.units.length, train.length);
  assert.equal(p.referenceScored, 0);
});

test('prepareUnits: the A-LoL family keeps only A > 0, weighted by A', async () => {
  const p = await prepareUnits(ALL, ALL, {}, options('alol-ref-free', noReference));
  assert.deepEqual(
    p.units.map((u) => [u.rows[0]!.reward, +u.weight.toFixed(12)]),
    [
      [0.9, 0.4],
      [1, 0.5],
    ],
  );
  assert.equal(p.dropped.noAdvantage, 5);
});

test('prepareUnits: given values (the value head) replace the Monte-Carlo baselines in the advantage', async () => {
  // V(x) = 0.95 leaves no candidate of x above it but its reference; y is not given and keeps its MC 0.4.
  const values = new Map([['x', 0.95]]);
  const p = await prepareUnits(ALL, ALL, {}, { ...options('alol-ref-free', noReference), values });
  assert.deepEqual(
    p.units.map((u) => [u.rows[0]!.sourceId, u.rows[0]!.reward, u.rows[0]!.baseline, +u.weight.toFixed(12)]),
    [['x', 1, 0.95, 0.05]],
  );
  assert.equal(p.dropped.noAdvantage, 6);
});

test('prepareUnits: dpo pairs (best, worst) per source of D_i from all candidates; behaviour log-probs serve as S_ref', async () => {
  const withBehaviour = ALL.map((x) => ({
    ...x,
    behaviourLogProb: -x.reward * 10,
    behaviourIsReference: true,
  }));
  const train = withBehaviour.filter((x) => x.sourceId !== 'y');
  const p = await prepareUnits(train, withBehaviour, {}, options('dpo', noReference));
  // x: reference (1) vs 0.1; z has one candidate: no pair; y is not in D_i.
  assert.equal(p.units.length, 1);
  const [chosen, rejected] = p.units[0]!.rows;
  assert.deepEqual([chosen!.reward, rejected!.reward], [1, 0.1]);
  assert.deepEqual([chosen!.refSeqLogp, rejected!.refSeqLogp], [-10, -1]);
  assert.ok(Math.abs(p.units[0]!.weight - 0.9) < 1e-12);
});

test('prepareUnits: reference log-probs by teacher-forced scoring under π_ref, per token for alol-seq', async () => {
  const config = { ...tinyConfig(50), padId: 0 };
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), 5);
  const defaults = {
    decoderStartTokenId: 0,
    eosTokenId: 1,
    padTokenId: 0,
    bannedTokenIds: [0],
    maxLength: 16,
    numBeams: 1,
    lengthPenalty: 1,
  };
  const model = await Seq2SeqModel.fromParams(config, params, defaults);
  let opened = 0;
  try {
    const p = await prepareUnits(
      ALL,
      ALL,
      {},
      options('alol-seq', () => (opened++, Promise.resolve(model))),
    );
    assert.equal(opened, 1);
    assert.equal(p.referenceScored, 2);
    for (const u of p.units) {
      const r = u.rows[0]!;
      const [want] = await scoreTargets(model, [r.src], [r.tgt]);
      assert.ok(Math.abs(r.refSeqLogp - want!.sequenceLogprob) < 1e-9);
      assert.deepEqual([...r.refTokenLogp!], want!.tokenLogprobs);
    }
  } finally {
    await model.release();
  }
});

test('prepareUnits: candidates longer than the position table are dropped', async () => {
  const long = [c('9/0', 'w', 'x'.repeat(80), 0.9)];
  const p = await prepareUnits(long, long, {}, options('bc', noReference));
  assert.equal(p.units.length, 0);
  assert.equal(p.dropped.tooLong, 1);
  assert.equal(IMPROVE_DEFAULTS.minRewardGap, 0.1);
});
