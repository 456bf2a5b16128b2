// onnxruntime's BeamSearch op (the independent peer) against our beam search on a small random model:
// identical hypotheses and scores wherever both define the search the same way, the op's length
// convention at the limit where they do not, and the peer's input checks. The same comparison on a
// trained model and 200 Multi30k sentences is in cli/test/pretrain.int.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamTable } from '../params/param-table.js';
import { transformerParams, type TransformerConfig } from '../models/config.js';
import { rng } from '../params/random.js';
import { Seq2SeqModel } from './seq2seq.js';
import { generate, scoreTargets, type Candidate } from './generate.js';
import { OrtBeamSearch, OrtBeamSearchError, type OrtCandidate } from './ort-beam-search.js';
import type { GenerationDefaults } from './bundle.js';

const DEFAULTS: GenerationDefaults = {
  decoderStartTokenId: 0,
  eosTokenId: 1,
  padTokenId: 0,
  bannedTokenIds: [0],
  maxLength: 17,
  numBeams: 4,
  lengthPenalty: 1,
};

// A vocabulary of 20 and doubled initial weights: peaked enough that some sources finish by the end
// token within 16 tokens, so both endings are covered.
const CONFIG: TransformerConfig = {
  vocabSize: 20,
  dModel: 16,
  heads: 2,
  ffnDim: 32,
  encoderLayers: 2,
  decoderLayers: 2,
};

/** f32 sums of up to 16 log-probs (the op) against f64 sums of the same f32 log-probs (ours). */
const SCORE_TOLERANCE = 1e-4;

function params(): Float32Array {
  const table = new ParamTable(transformerParams(CONFIG));
  const p = table.initialize(new Float32Array(table.size), 3);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! * 2;
  return p;
}

function sources(n: number): number[][] {
  const r = rng(7);
  return Array.from({ length: n }, () => [
    ...Array.from({ length: 1 + Math.floor(r() * 9) }, () => 2 + Math.floor(r() * (CONFIG.vocabSize - 2))),
    1,
  ]);
}

function assertSame(ours: Candidate[], theirs: OrtCandidate[], what: string): void {
  assert.deepEqual(
    theirs.map((c) => c.tokenIds),
    ours.map((c) => c.tokenIds),
    what,
  );
  ours.forEach((c, k) => {
    const diff = Math.abs(c.score! - theirs[k]!.score);
    assert.ok(
      diff <= SCORE_TOLERANCE * Math.max(1, Math.abs(c.score!)),
      `${what}: hypothesis ${k} score Δ ${diff}`,
    );
  });
}

test('OrtBeamSearch: same hypotheses and scores as generate wherever both define the search alike', async () => {
  const p = params();
  const peer = OrtBeamSearch.create(CONFIG, p, DEFAULTS, { intraOpThreads: 1 });
  const model = await Seq2SeqModel.fromParams(CONFIG, p, DEFAULTS, { intraOpThreads: 1 });
  const src = sources(60);
  try {
    const settings = [
      { lengthPenalty: 0, earlyStopping: false },
      { lengthPenalty: 1, earlyStopping: true },
      { lengthPenalty: 0.6, earlyStopping: true },
    ];
    for (const s of settings) {
      const o = { beamSize: 4, numReturn: 4, maxNewTokens: 16, ...s };
      const ours = await generate(model, src, { strategy: 'beam', ...o });
      const theirs = await peer.search(src, o);
      let compared = 0;
      src.forEach((_, i) => {
        // Alike: no length normalisation, or (early stopping) the source finished B hypotheses by the
        // end token before the limit — the op divides hypotheses cut by the limit by one more token.
        if (s.lengthPenalty !== 0 && !ours[i]!.every((c) => c.finishReason === 'eos')) return;
        assertSame(ours[i]!, theirs[i]!, `lp ${s.lengthPenalty}, source ${i}`);
        compared++;
      });
      assert.ok(compared >= 8, `lp ${s.lengthPenalty}: only ${compared} sources compared`);
    }
  } finally {
    await peer.release();
    await model.release();
  }
});

test('OrtBeamSearch: a hypothesis cut by the length limit is divided by (maxNewTokens + 1)^lp, ours by maxNewTokens^lp', async () => {
  const p = params();
  const peer = OrtBeamSearch.create(CONFIG, p, DEFAULTS, { intraOpThreads: 1 });
  const model = await Seq2SeqModel.fromParams(CONFIG, p, DEFAULTS, { intraOpThreads: 1 });
  const src = sources(8);
  const maxNewTokens = 16;
  try {
    const o = { beamSize: 4, numReturn: 4, maxNewTokens, lengthPenalty: 1, earlyStopping: false };
    const theirs = await peer.search(src, o);
    const cut = src.flatMap((s, i) =>
      theirs[i]!.filter((c) => c.finishReason === 'length').map((c) => ({ s, c })),
    );
    assert.ok(cut.length > 0, 'some hypotheses ran to the limit');
    const sums = await scoreTargets(
      model,
      cut.map((x) => x.s),
      cut.map((x) => x.c.tokenIds),
    );
    cut.forEach(({ c }, k) => {
      assert.equal(c.tokenIds.length, maxNewTokens);
      const expected = sums[k]!.sequenceLogprob / (maxNewTokens + 1);
      assert.ok(Math.abs(c.score - expected) <= SCORE_TOLERANCE, `${c.score} vs ${expected}`);
    });
    const ours = await generate(model, src, { strategy: 'beam', ...o });
    const oursCut = ours.flat().find((c) => c.finishReason === 'length');
    assert.ok(oursCut !== undefined);
    assert.ok(Math.abs(oursCut.score! - oursCut.sequenceLogprob / maxNewTokens) < 1e-12);
  } finally {
    await peer.release();
    await model.release();
  }
});

test('OrtBeamSearch: rejects an unbanned pad token, options out of range and empty sources', async () => {
  const p = params();
  assert.throws(
    () => OrtBeamSearch.create(CONFIG, p, { ...DEFAULTS, bannedTokenIds: [] }),
    (e: unknown) => e instanceof OrtBeamSearchError && /bannedTokenIds/.test(e.message),
  );
  assert.throws(() => OrtBeamSearch.create(CONFIG, p.subarray(1), DEFAULTS), /params/);
  const peer = OrtBeamSearch.create(CONFIG, p, DEFAULTS, { intraOpThreads: 1 });
  const o = { beamSize: 4, maxNewTokens: 8, lengthPenalty: 1, earlyStopping: false };
  try {
    await assert.rejects(peer.search([[3, 1]], { ...o, numReturn: 5 }), /numReturn/);
    await assert.rejects(peer.search([[3, 1]], { ...o, maxNewTokens: 1 }), /maxNewTokens/);
    await assert.rejects(peer.search([[3, 1]], { ...o, beamSize: 0 }), /beamSize/);
    await assert.rejects(peer.search([[3, 1], []], o), /sources\[1\]: empty/);
  } finally {
    await peer.release();
  }
});
