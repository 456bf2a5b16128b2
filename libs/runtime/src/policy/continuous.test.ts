// Continuous batching against `generate`: sources that join a running batch at different steps, with
// different lengths, strategies and settings, decode what they decode alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL, TEST_DEFAULTS, randomParams, randomSources } from '../testing/random-model.js';
import { Seq2SeqModel } from './seq2seq.js';
import { generate, DecodingError, type Candidate, type DecodingOptions } from './generate.js';
import { ContinuousBatch, type ContinuousHandle } from './continuous.js';

const DEFAULTS = TEST_DEFAULTS;

/** Same tokens and finish reasons; log-probs within `tol`. */
function assertSame(got: Candidate[], want: Candidate[], what: string, tol = 1e-4): void {
  assert.equal(got.length, want.length, `${what}: candidates`);
  got.forEach((c, k) => {
    const w = want[k]!;
    assert.deepEqual(c.tokenIds, w.tokenIds, `${what}[${k}]: tokens`);
    assert.equal(c.finishReason, w.finishReason, `${what}[${k}]: finish reason`);
    c.tokenLogprobs.forEach((lp, t) =>
      assert.ok(
        Math.abs(lp - w.tokenLogprobs[t]!) <= tol,
        `${what}[${k}] token ${t}: ${lp} vs ${w.tokenLogprobs[t]}`,
      ),
    );
    assert.ok(
      Math.abs(c.sequenceLogprob - w.sequenceLogprob) <= tol * c.tokenIds.length,
      `${what}[${k}]: sum`,
    );
  });
}

for (const preNorm of [true, false])
  test(`sources joining a running batch at different steps decode what they decode alone (preNorm ${preNorm})`, async () => {
    const c = { ...SMALL, preNorm };
    // Scale 1: logits flat enough that most rows run to their length limit, some end early.
    const params = randomParams(c, 7, 1.5);
    const model = await Seq2SeqModel.fromParams(c, params, DEFAULTS);
    const batch = await ContinuousBatch.create(model, c, params);
    const sources = randomSources(12, c.vocabSize, 3);
    const settings: { options: DecodingOptions; seed: number }[] = sources.map((_, i) => ({
      options:
        i % 3 === 0
          ? { strategy: 'greedy', maxNewTokens: 4 + (i % 7) }
          : {
              strategy: 'sample',
              numReturn: 1 + (i % 3),
              temperature: 0.7 + 0.1 * (i % 4),
              topK: i % 2 === 0 ? 0 : 8,
              maxNewTokens: 3 + i,
            },
      seed: 100 + i,
    }));
    // Sources 0–3 start together; then one joins every other step.
    const handles: ContinuousHandle[] = [];
    let next = 0;
    for (; next < 4; next++)
      handles.push(batch.add(sources[next]!, settings[next]!.options, settings[next]!.seed));
    let steps = 0;
    const maxRows: number[] = [];
    while (batch.busy) {
      if (steps % 2 === 1 && next < sources.length) {
        handles.push(batch.add(sources[next]!, settings[next]!.options, settings[next]!.seed));
        next++;
      }
      await batch.step();
      maxRows.push(batch.liveRows);
      steps++;
      assert.ok(steps < 200, 'the batch never drains');
    }
    assert.equal(next, sources.length, 'every source was added');
    assert.ok(Math.max(...maxRows) >= 4, `rows at once: ${Math.max(...maxRows)}`);
    for (const [i, h] of handles.entries()) {
      const got = await h.result;
      const { options, seed } = settings[i]!;
      const [want] = await generate(model, [sources[i]!], { ...options, sourceSeeds: [seed] });
      assertSame(got, want!, `source ${i} (${options.strategy})`);
    }
    await batch.release();
    await model.release();
  });

test('a cancelled source rejects and leaves the others untouched; bad options throw DecodingError', async () => {
  const params = randomParams(SMALL, 8, 1.5);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const batch = await ContinuousBatch.create(model, SMALL, params);
  const sources = randomSources(3, SMALL.vocabSize, 9);
  const options: DecodingOptions = { strategy: 'greedy', maxNewTokens: 12 };
  const hs = sources.map((s) => batch.add(s, options));
  await batch.step();
  await batch.step();
  const cancelled = assert.rejects(hs[1]!.result, /gone/);
  hs[1]!.cancel(new Error('gone'));
  const queued = batch.add(sources[0]!, options);
  const cancelledQueued = assert.rejects(queued.result, /gone before it started/);
  queued.cancel(new Error('gone before it started'));
  assert.equal(batch.queuedSources, 0);
  while (batch.busy) await batch.step();
  await cancelled;
  await cancelledQueued;
  for (const i of [0, 2]) {
    const [want] = await generate(model, [sources[i]!], options);
    assertSame(await hs[i]!.result, want!, `source ${i}`);
  }
  assert.throws(() => batch.add(sources[0]!, { strategy: 'beam' }), DecodingError);
  assert.throws(() => batch.add([], options), /source: empty/);
  assert.throws(() => batch.add([3, SMALL.vocabSize, 1], options), /source\[1\]: token id 50/);
  assert.throws(() => batch.add(sources[0]!, { strategy: 'sample', temperature: 0 }), /temperature/);
  assert.throws(() => batch.add(sources[0]!, { strategy: 'greedy', maxNewTokens: 600 }), /maxNewTokens/);
  await batch.release();
  await model.release();
});
