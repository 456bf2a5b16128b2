/**
 * The evaluation worker against real servers (see fixtures/workers-world.ts): `eval.completed`
 * reports the asked-for number of sources, reward statistics equal to the reward server's chrF of
 * the outputs, and corpus BLEU / chrF equal to @rest/text's over the same outputs, which the test
 * decodes itself with a direct Generate call (greedy, so the outputs are the same).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { common, events, reward } from '@rest/proto';
import { corpusBleu, corpusChrf, sentenceChrf } from '@rest/text';
import {
  DATASET,
  POLICY_ID,
  awaitRunEvents,
  byId,
  createRun,
  generate,
  multi30k,
  publishWork,
  startWorkersWorld,
  type WorkersWorld,
} from './fixtures/workers-world.js';

const GREEDY: common.DecodingParams = common.DecodingParams.fromPartial({
  strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
  maxNewTokens: 10,
});

describe('eval worker (integration)', () => {
  let world: WorkersWorld;
  const runId = 'eval-a';

  before(async () => {
    world = await startWorkersWorld({ sentences: 8 });
    await createRun(world, runId);
  });

  after(async () => {
    await world?.stop();
  });

  it('eval worker: eval.completed carries the first max_sources sources, reward stats and corpus BLEU/chrF of the outputs', async () => {
    const maxSources = 6;
    const sources = multi30k('valid.de', maxSources + 2);
    // The policy is random, so its outputs share nothing with Multi30k's references. To make BLEU a
    // real comparison, the split evaluated here takes the policy's own greedy outputs (decoded by the
    // test through a direct Generate call) as the references of some sources.
    const direct = await generate(world, {
      policy: byId(POLICY_ID),
      sources,
      decoding: GREEDY,
      requestKey: '',
    });
    const hypotheses = direct.results.map((r) => r.candidates[0]!.text).slice(0, maxSources);
    const multi30kRefs = multi30k('valid.en', sources.length);
    const references = multi30kRefs.map((r, i) => (i % 2 === 0 && hypotheses[i]?.trim() ? hypotheses[i] : r));
    await world.store.datasets.upsert(
      DATASET,
      'test',
      sources.map((source, idx) => ({ idx, source, reference: references[idx]! })),
    );

    const work = events.EvalWork.fromPartial({
      messageId: `${runId}/g1/i2/eval/test`,
      runId,
      grow: 1,
      improve: 2,
      policyId: POLICY_ID,
      dataset: DATASET,
      split: 'test',
      eval: { decoding: GREEDY, maxSources, metrics: ['bleu', 'chrf'] },
      reward: { model: 'chrf', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 },
      createdAt: new Date(),
    });
    await publishWork(world, 'eval', events.EvalWork, work, work.messageId);
    const [record] = await awaitRunEvents(world, runId, 1, (e) => e.event === 'eval.completed');
    assert.equal(record!.msgId, `${runId}/g1/i2/eval.completed/test`);
    assert.equal(record!.message.grow, 1);
    assert.equal(record!.message.improve, 2);
    const event = record!.message.event;
    assert.equal(event?.$case, 'evalCompleted');
    const done = event.$case === 'evalCompleted' ? event.evalCompleted : undefined;
    assert.equal(done!.policyId, POLICY_ID);
    assert.equal(done!.split, 'test');
    assert.equal(done!.numSources, maxSources);

    const refs = references.slice(0, maxSources);
    const bleu = corpusBleu(hypotheses, [refs]).score;
    assert.ok(bleu > 0, `BLEU against partly self-made references is positive (${bleu})`);
    assert.deepEqual(Object.keys(done!.metrics).sort(), ['bleu', 'chrf']);
    assert.equal(done!.metrics['bleu'], bleu);
    assert.equal(done!.metrics['chrf'], corpusChrf(hypotheses, [refs]).score);

    const rewards = hypotheses.map((h, i) => sentenceChrf(h, [refs[i]!]).score / 100);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    assert.equal(done!.rewards?.count, BigInt(maxSources));
    assert.ok(Math.abs(done!.rewards.mean - mean) < 1e-9, `reward mean ${done!.rewards.mean} vs ${mean}`);
    assert.ok(Math.abs(done!.rewards.max - Math.max(...rewards)) < 1e-9);
    assert.equal(await world.store.samples.count(runId), 0, 'an evaluation stores no samples');
  });
});
