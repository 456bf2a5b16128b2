import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@rest/service-kit';
import { parseObjectiveHyper } from './registry.js';
import {
  assertClose,
  finiteDifferenceCheck,
  maskOf,
  runObjective,
  t64,
  weightedNllGradient,
} from './test-support.js';

// B = 3 examples, T = 3. A = R − V = (0.4, −0.2, 0.5) → A⁺ = (0.4, 0, 0.5).
const lp = t64([3, 3], [-0.5, -1.25, -2, -0.25, -0.75, -9, -0.1, -0.2, -0.3]);
const mask = maskOf([3, 2, 3], 3);
const S = [-3.75, -1, -0.6];
const reward = t64([3], [0.9, 0.3, 0.7]);
const baseline = t64([3], [0.5, 0.5, 0.2]);
const advPlus = [0.4, 0, 0.5];
// S − S_ref = (0.3, −5, 2): inside the band [log 0.1, log 1.9], below it, above it (ε = 0.9).
const refSeq = t64([3], [S[0]! - 0.3, S[1]! + 5, S[2]! - 2]);
// ℓ − ℓ_ref per token: inside, below, above and inside again.
const refTok = t64([3, 3], [-0.4, -4, -3, -0.25, -0.5, 0, -0.1, -0.9, -0.2]);
const clipW = (lr: number, e: number): number =>
  e === 0 ? 1 : Math.min(Math.max(Math.exp(lr), 1 - e), 1 + e);
const wSeq = (e: number): number[] => S.map((s, b) => clipW(s - Number(refSeq.data[b]), e));

/** Per-token weights `c_b · m_bt / B` from per-example factors `c_b`. */
const perToken = (c: readonly number[]): number[] =>
  Array.from(mask.data, (m, i) => (m * c[Math.floor(i / 3)]!) / 3);
/** `Σ_bt w_bt (−lp_bt)`. */
const nll = (w: readonly number[]): number => w.reduce((a, v, i) => a - v * Number(lp.data[i]), 0);

const base = { token_logp: lp, mask, reward, baseline };

test('alol: a hand-computed case, A⁺ · exp(0.3) · (−S)', async () => {
  const run = await runObjective('alol', undefined, {
    token_logp: t64([1, 3], [-0.5, -1.25, -2]),
    mask: maskOf([3], 3),
    reward: t64([1], [0.9]),
    baseline: t64([1], [0.5]),
    reference_seq_logp: t64([1], [-4.05]),
  });
  assertClose('loss', [run.loss], [0.4 * Math.exp(0.3) * 3.75]);
});

const cases = [
  {
    name: 'alol',
    hyper: {},
    feeds: { ...base, reference_seq_logp: refSeq },
    weights: () => perToken(wSeq(0.9).map((w, b) => advPlus[b]! * w)),
  },
  {
    name: 'alol',
    hyper: { clipEpsilon: 0 },
    feeds: { ...base, reference_seq_logp: refSeq },
    weights: () => perToken(advPlus),
  },
  {
    name: 'alol',
    hyper: { clipEpsilon: 0.2 },
    feeds: { ...base, reference_seq_logp: refSeq },
    weights: () => perToken(wSeq(0.2).map((w, b) => advPlus[b]! * w)),
  },
  {
    name: 'r-lol',
    hyper: {},
    feeds: { token_logp: lp, mask, reward, reference_seq_logp: refSeq },
    weights: () => perToken(wSeq(0.9).map((w, b) => [0.9, 0.3, 0.7][b]! * w)),
  },
  {
    name: 'alol-ref-free',
    hyper: {},
    feeds: base,
    weights: () => perToken(advPlus),
  },
  {
    name: 'alol-seq',
    hyper: {},
    feeds: { ...base, reference_logp: refTok },
    weights: () =>
      perToken(advPlus).map((w, i) => w * clipW(Number(lp.data[i]) - Number(refTok.data[i]), 0.9)),
  },
  {
    name: 'alol-kl',
    hyper: {},
    feeds: { ...base, reference_seq_logp: refSeq },
    weights: () => perToken(advPlus.map((a) => a - 0.2)),
  },
] as const;

for (const c of cases) {
  const label = `${c.name} ${JSON.stringify(c.hyper)}`;
  test(`${label}: value from the §3.5 formula, and its gradient is the weighted NLL with detached weights`, async () => {
    const detached = Object.keys(c.feeds).filter((k) => k !== 'token_logp' && k !== 'mask');
    const run = await runObjective(c.name, c.hyper, c.feeds, ['token_logp', ...detached]);
    const w = c.weights();
    // A-LoL KL: A⁺ (−S) + β_KL (S − S_ref), with log-ratios (0.3, −5, 2); its weights are A⁺ − β_KL.
    const want = c.name === 'alol-kl' ? nll(perToken(advPlus)) + (0.2 * (0.3 - 5 + 2)) / 3 : nll(w);
    assertClose('loss', [run.loss], [want]);
    assertClose('d token_logp', run.grads.token_logp!, await weightedNllGradient(lp, w));
    for (const k of detached)
      assert.ok(
        run.grads[k]!.every((v) => v === 0),
        `${k} is detached`,
      );
  });
}

test('alol-ref-free, alol-kl gradient: finite differences', async () => {
  await finiteDifferenceCheck('alol-ref-free', undefined, base, ['token_logp']);
  await finiteDifferenceCheck('alol-kl', undefined, { ...base, reference_seq_logp: refSeq }, ['token_logp']);
});

test('alol, r-lol, alol-seq gradient: finite differences where every ratio is clipped (locally constant)', async () => {
  // Outside the band the clipped weight does not move with ℓ, so the detached and the true derivative agree.
  const far = t64([3], [S[0]! + 4, S[1]! - 4, S[2]! + 3]);
  await finiteDifferenceCheck('alol', undefined, { ...base, reference_seq_logp: far }, ['token_logp']);
  await finiteDifferenceCheck('r-lol', undefined, { token_logp: lp, mask, reward, reference_seq_logp: far }, [
    'token_logp',
  ]);
  const farTok = t64(
    [3, 3],
    Array.from(lp.data, (v, i) => v + (i % 2 === 0 ? 3 : -3)),
  );
  await finiteDifferenceCheck('alol-seq', undefined, { ...base, reference_logp: farTok }, ['token_logp']);
});

test('parseObjectiveHyper: A-LoL defaults (ε = 0.9, β_KL = 0.2) and alol-kl rejects ε ≠ 0', () => {
  assert.deepEqual(parseObjectiveHyper('alol'), { clipEpsilon: 0.9 });
  assert.deepEqual(parseObjectiveHyper('alol-kl'), { klBeta: 0.2, clipEpsilon: 0 });
  assert.throws(
    () => parseObjectiveHyper('alol-kl', { clipEpsilon: 0.9 }),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message === 'alol-kl.clipEpsilon: must be 0: alol-kl uses no importance weight',
  );
  assert.throws(() => parseObjectiveHyper('alol-seq', { clipEpsilon: 1 }), /alol-seq\.clipEpsilon/);
});
