// `rest pretrain` end to end on a small slice of Multi30k (a short run, not the quality run), then the
// independent-implementation checks: transformers.js, with remote models disabled, loads the bundle from
// disk; its tokenizer gives our ids and its greedy generation our tokens on 200 validation sentences;
// onnxruntime's own beam search (the com.microsoft.BeamSearch op) gives our beam search's hypotheses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { AutoModelForSeq2SeqLM, AutoTokenizer, Tensor, env } from '@huggingface/transformers';
import { Seq2SeqModel, generate } from '@rest/runtime';
import { OrtBeamSearch } from '@rest/runtime/testing';
import { loadTokenizer } from '@rest/text';
import { runSacrebleuPeer } from '@rest/text/testing';
import {
  pretrain,
  PRETRAIN_DEFAULTS,
  type PretrainEvent,
  type PretrainOptions,
} from '../src/pretrain/run.js';
import { readParallel } from '../src/pretrain/data.js';
import { defaultDataDir } from '../src/paths.js';

let dir = '';
let bundle = '';
const events: PretrainEvent[] = [];

function options(over: Partial<PretrainOptions>): PretrainOptions {
  return {
    ...PRETRAIN_DEFAULTS,
    dataDir: defaultDataDir(),
    workDir: join(dir, 'work'),
    out: join(dir, 'bundles', 'tiny-de-en'),
    vocabSize: 2000,
    dModel: 64,
    heads: 4,
    ffnDim: 128,
    layers: 2,
    limitPairs: 4000,
    batchTokens: 2000,
    lr: 3e-3,
    warmupSteps: 50,
    evalEvery: 0,
    maxMinutes: 60,
    evalSentences: 100,
    testBeam: 1,
    threads: 2,
    ...over,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-pretrain-'));
  // Two sessions on one work folder: the second resumes where the first stopped. Bounded by epochs,
  // not minutes, so that a loaded machine changes the duration but not what is checked.
  await pretrain(options({ epochs: 2 }), (e) => events.push(e));
  await pretrain(options({ epochs: 4 }), (e) => events.push(e));
  bundle = join(dir, 'bundles', 'tiny-de-en');
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('rest pretrain: loss falls, validation runs, a restart resumes, the best bundle is kept', async () => {
  const steps = events.filter((e) => e.kind === 'step');
  assert.ok(steps.length > 20, `only ${steps.length} steps`);
  assert.ok(steps.at(-1)!.loss < steps[0]!.loss - 1, `loss ${steps[0]!.loss} → ${steps.at(-1)!.loss}`);
  const resumed = events.find((e) => e.kind === 'info' && /^resuming at step \d+/.test(e.message));
  assert.ok(resumed, 'the second session resumed from the checkpoint');
  const firstStepAfterResume = steps.find((s, i) => i > 0 && s.step <= steps[i - 1]!.step);
  assert.equal(firstStepAfterResume, undefined, 'step numbers only go up across the restart');
  const evals = events.filter((e) => e.kind === 'eval');
  assert.ok(evals.length >= 2);
  const done = events.filter((e) => e.kind === 'done');
  assert.equal(done.length, 2);
  const lineage = JSON.parse(await readFile(join(bundle, 'rest.json'), 'utf8')) as {
    metrics: Record<string, number>;
    producer: string;
  };
  assert.equal(lineage.producer, 'rest pretrain');
  const best = Math.max(...evals.map((e) => (e.kind === 'eval' ? e.bleu : -1)));
  assert.ok(
    Math.abs(lineage.metrics.validBleu! - best) < 1e-9,
    'the bundle is the best validation checkpoint',
  );
  // The reported test BLEU is the sacrebleu package's number for the written translations.
  const hyps = (await readFile(join(dir, 'work', 'test.hyp'), 'utf8')).split('\n').slice(0, -1);
  const test = await readParallel(defaultDataDir(), 'test', 'de', 'en');
  const peer = runSacrebleuPeer([{ kind: 'corpus', metric: 'bleu', options: {}, hyps, refs: [test.tgt] }]);
  const theirs = (peer.results[0] as { score: number }).score;
  assert.ok(
    Math.abs(lineage.metrics.testBleu! - theirs) < 1e-9,
    `ours ${lineage.metrics.testBleu}, sacrebleu ${theirs}`,
  );
});

test('transformers.js loads the bundle from disk: same token ids, same greedy translations on 200 sentences', async () => {
  env.allowRemoteModels = false;
  env.localModelPath = dirname(bundle);
  const name = basename(bundle);
  const theirTok = await AutoTokenizer.from_pretrained(name);
  const theirModel = await AutoModelForSeq2SeqLM.from_pretrained(name, { dtype: 'fp32' });
  const ourTok = await loadTokenizer(bundle);
  const { model } = await Seq2SeqModel.load(bundle, { intraOpThreads: 2 });
  const valid = await readParallel(defaultDataDir(), 'valid', 'de', 'en');
  const sources = valid.src.slice(0, 200);
  const maxNew = 40;
  let finishedByEos = 0;
  try {
    for (let i = 0; i < sources.length; i += 20) {
      const chunk = sources.slice(i, i + 20);
      const ours = chunk.map((s) => ourTok.encode(s));
      const theirs = chunk.map((s) =>
        ((theirTok(s) as { input_ids: Tensor }).input_ids.tolist() as bigint[][])[0]!.map(Number),
      );
      assert.deepEqual(theirs, ours, 'tokenizer ids');
      const mine = await generate(model, ours, { strategy: 'greedy', maxNewTokens: maxNew });
      for (const [j, ids] of ours.entries()) {
        const input = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
        const out = (await theirModel.generate({
          inputs: input,
          attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
          max_new_tokens: maxNew,
          do_sample: false,
          num_beams: 1,
        })) as Tensor;
        const seq = (out.tolist() as bigint[][])[0]!.map(Number);
        assert.equal(seq[0], 0, 'decoding starts from the pad token, as Marian does');
        const cand = mine[j]![0]!;
        assert.deepEqual(seq.slice(1), cand.tokenIds, `sentence ${i + j}: ${chunk[j]}`);
        if (cand.finishReason === 'eos') finishedByEos++;
      }
    }
  } finally {
    await model.release();
    await theirModel.dispose();
  }
  // The check covers both endings: a good share of the small model's outputs end with </s> (93 of 200
  // on the first run), the others run to the length limit.
  assert.ok(finishedByEos >= 40, `${finishedByEos} of 200 ended with </s>`);
});

test('onnxruntime BeamSearch op on the bundle: the same 4 beam hypotheses and scores on 200 sentences', async (t) => {
  const tok = await loadTokenizer(bundle);
  const { model } = await Seq2SeqModel.load(bundle, { intraOpThreads: 2 });
  const { peer, sameOnnx } = await OrtBeamSearch.fromBundle(bundle, { intraOpThreads: 2 });
  const valid = await readParallel(defaultDataDir(), 'valid', 'de', 'en');
  const ids = valid.src.slice(0, 200).map((s) => tok.encode(s));
  // f32 sums of up to 48 log-probs (the op) against f64 sums of the same f32 log-probs (ours).
  const SCORE_TOLERANCE = 1e-4;
  try {
    assert.deepEqual(sameOnnx, { encoder: true, decoder: true }, "the peer runs the bundle's very graphs");
    // The op and ours define the search alike without length normalisation, and with early stopping
    // for every source that finished its 4 hypotheses by </s> before the limit (the op divides those
    // cut by the limit by one more token; libs/runtime/src/policy/ort-beam-search.ts).
    const settings = [
      { lengthPenalty: 1, earlyStopping: true },
      { lengthPenalty: 0.6, earlyStopping: true },
      { lengthPenalty: 0, earlyStopping: false },
    ];
    for (const s of settings) {
      const o = { beamSize: 4, numReturn: 4, maxNewTokens: 48, ...s };
      const ours = await generate(model, ids, { strategy: 'beam', ...o });
      const theirs = await peer.search(ids, o);
      let compared = 0;
      ids.forEach((_, i) => {
        if (s.lengthPenalty !== 0 && !ours[i]!.every((c) => c.finishReason === 'eos')) return;
        const what = `lp ${s.lengthPenalty}, sentence ${i}: ${valid.src[i]}`;
        assert.deepEqual(
          theirs[i]!.map((c) => c.tokenIds),
          ours[i]!.map((c) => c.tokenIds),
          what,
        );
        ours[i]!.forEach((c, k) => {
          const diff = Math.abs(c.score! - theirs[i]![k]!.score);
          assert.ok(diff <= SCORE_TOLERANCE * Math.max(1, Math.abs(c.score!)), `${what}: score Δ ${diff}`);
        });
        compared++;
      });
      t.diagnostic(
        `lp ${s.lengthPenalty}, early stopping ${s.earlyStopping}: ${compared} of 200 compared, all identical`,
      );
      // 114 of 200 on the first run for lp 1 and 0.6 (the others loop to the limit), 200 for lp 0.
      assert.ok(
        compared >= (s.lengthPenalty === 0 ? 200 : 60),
        `lp ${s.lengthPenalty}: ${compared} compared`,
      );
    }
  } finally {
    await model.release();
    await peer.release();
  }
});
