// Our decoder graphs emit log-probabilities (inference-graphs.ts) and our bundles say so (config.json
// `rest_logits_are_log_probs`); a bundle without the marker (an optimum export: raw logits) is
// normalised in JavaScript. Checked here: the marker and the normalisation of every logits row, the
// manifest's reading of the marker, and that both paths decode alike (tokens, samples, log-probs,
// scores) on a small random model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decoderGraph } from '../models/inference-graphs.js';
import { rng } from '../params/random.js';
import { SMALL, randomParams, randomSources } from '../testing/random-model.js';
import { Seq2SeqModel } from './seq2seq.js';
import { generate, scoreTargets, type Candidate, type DecodingOptions } from './generate.js';
import { writePolicyBundle, readBundleManifest, BundleError, BUNDLE_FILES, LOG_PROBS_KEY } from './bundle.js';

/** Log-probs from the normalised decoder vs the raw one normalised in float64 (f32 rounding apart). */
const LOGPROB_TOLERANCE = 1e-5;

/** Writes our bundle of `params` to `dir/name` (a stub tokenizer) and returns its path. */
async function bundleOf(dir: string, name: string, params: Float32Array): Promise<string> {
  const tokDir = join(dir, 'tok');
  await mkdir(tokDir, { recursive: true });
  await writeFile(join(tokDir, 'tokenizer.json'), '{}');
  await writeFile(join(tokDir, 'tokenizer_config.json'), '{}');
  return writePolicyBundle(join(dir, name), {
    config: SMALL,
    params,
    // Trainer state, as the trainer's and `rest pretrain`'s bundles have: the cached decoder is built from it.
    trainerState: { step: 0, params, slots: {} },
    tokenizerDir: tokDir,
    generation: { maxLength: 16 },
  });
}

/** Turns our bundle into a foreign-style one: a raw-logits decoder and no marker in config.json. */
async function makeRaw(bundle: string, params: Float32Array): Promise<void> {
  await writeFile(
    join(bundle, BUNDLE_FILES.decoder),
    decoderGraph(SMALL, params, { rawLogits: true }).toBytes(),
  );
  const cfgPath = join(bundle, BUNDLE_FILES.config);
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  delete cfg[LOG_PROBS_KEY];
  await writeFile(cfgPath, JSON.stringify(cfg));
}

/** `log Σ exp` of a row, in float64 with Math.exp. */
function logSumExpRef(xs: Float32Array, off: number, v: number): number {
  let max = -Infinity;
  for (let i = 0; i < v; i++) max = Math.max(max, xs[off + i]!);
  let sum = 0;
  for (let i = 0; i < v; i++) sum += Math.exp(xs[off + i]! - max);
  return max + Math.log(sum);
}

test('writePolicyBundle: config.json marks the logits as log-probs, and every logits row is normalised', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rest-logprobs-'));
  try {
    const bundle = await bundleOf(dir, 'policy', randomParams(SMALL, 2, 2));
    const cfg = JSON.parse(await readFile(join(bundle, BUNDLE_FILES.config), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(cfg[LOG_PROBS_KEY], true);
    const { model, manifest } = await Seq2SeqModel.load(bundle);
    assert.equal(manifest.logitsNormalized, true);
    assert.equal(model.logitsNormalized, true);
    const V = SMALL.vocabSize;
    const sources = randomSources(4, V, 6);
    const r = rng(8);
    let worst = 0;
    // Several positions at once (the first step), then one at a time (the cached branch).
    const { hidden, mask } = await model.encode(sources);
    const state = model.start(hidden, mask);
    const T = 5;
    const first = await model.step(
      state,
      BigInt64Array.from({ length: sources.length * T }, () => BigInt(2 + Math.floor(r() * 40))),
      T,
    );
    for (let row = 0; row < sources.length * T; row++)
      worst = Math.max(worst, Math.abs(logSumExpRef(first, row * V, V)));
    for (let t = 0; t < 4; t++) {
      const logits = await model.step(
        state,
        BigInt64Array.from(sources, () => BigInt(2 + Math.floor(r() * 40))),
      );
      for (let row = 0; row < sources.length; row++)
        worst = Math.max(worst, Math.abs(logSumExpRef(logits, row * V, V)));
    }
    assert.ok(worst <= 1e-5, `max |logsumexp of a logits row| = ${worst}`);
    model.recycle(state);
    await model.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readBundleManifest: no marker means raw logits; a marker that is not a boolean is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rest-logprobs-'));
  try {
    const params = randomParams(SMALL, 3, 1);
    const bundle = await bundleOf(dir, 'policy', params);
    await makeRaw(bundle, params);
    assert.equal((await readBundleManifest(bundle)).logitsNormalized, false);
    const { model } = await Seq2SeqModel.load(bundle);
    assert.equal(model.logitsNormalized, false);
    await model.release();
    const cfgPath = join(bundle, BUNDLE_FILES.config);
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, [LOG_PROBS_KEY]: 'yes' }));
    await assert.rejects(
      readBundleManifest(bundle),
      (e: Error) =>
        e instanceof BundleError &&
        /config\.json: rest_logits_are_log_probs must be true or false, got "yes"/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Same tokens, log-probs and scores within the tolerance; `what` names the case. */
function assertSame(got: Candidate[][], want: Candidate[][], what: string): void {
  assert.deepEqual(
    got.map((cs) => cs.map((c) => c.tokenIds)),
    want.map((cs) => cs.map((c) => c.tokenIds)),
    `${what}: tokens`,
  );
  got.forEach((cs, i) =>
    cs.forEach((c, k) => {
      const w = want[i]![k]!;
      const close = (a: number, b: number, field: string): void =>
        assert.ok(
          Math.abs(a - b) <= LOGPROB_TOLERANCE,
          `${what}: source ${i} candidate ${k} ${field}: ${a} vs ${b}`,
        );
      c.tokenLogprobs.forEach((lp, j) => close(lp, w.tokenLogprobs[j]!, `token ${j} log-prob`));
      close(c.sequenceLogprob, w.sequenceLogprob, 'sequence log-prob');
      if (w.score !== undefined) close(c.score!, w.score, 'score');
      assert.equal(c.finishReason, w.finishReason, `${what}: finish reason`);
    }),
  );
}

test('a raw-logits decoder and the normalised one decode alike: greedy, beam, samples, scores', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rest-logprobs-'));
  try {
    const params = randomParams(SMALL, 5, 2);
    const raw = await bundleOf(dir, 'raw', params);
    await makeRaw(raw, params);
    const rawModel = (await Seq2SeqModel.load(raw)).model;
    const ours = await bundleOf(dir, 'ours', params);
    const { model: normalised, manifest } = await Seq2SeqModel.load(ours);
    const inMemory = await Seq2SeqModel.fromParams(SMALL, params, manifest.generation);
    // Ours without the cached decoder: the merged graph's `If` for every step, as transformers.js runs it.
    const mergedOnly = (await Seq2SeqModel.load(ours, {}, { cachedDecoder: false })).model;
    assert.equal(rawModel.logitsNormalized, false);
    assert.equal(inMemory.logitsNormalized, true);
    assert.deepEqual(
      [rawModel, normalised, inMemory, mergedOnly].map((m) => m.hasCachedDecoder),
      [false, true, true, false],
    );
    const sources = randomSources(8, SMALL.vocabSize, 13);
    const cases: DecodingOptions[] = [
      { strategy: 'greedy' },
      { strategy: 'beam', beamSize: 3, numReturn: 2 },
      { strategy: 'beam', beamSize: 4, numReturn: 4, lengthPenalty: 0.6, earlyStopping: true },
      { strategy: 'sample', numReturn: 4, seed: 7 },
      { strategy: 'sample', numReturn: 3, seed: 8, temperature: 0.7, topK: 5 },
      { strategy: 'sample', numReturn: 3, seed: 9, temperature: 1.2, topP: 0.9 },
    ];
    for (const opts of cases) {
      const want = await generate(rawModel, sources, opts);
      const what = JSON.stringify(opts);
      const got = await generate(normalised, sources, opts);
      assertSame(got, want, `bundle ${what}`);
      assertSame(await generate(inMemory, sources, opts), want, `fromParams ${what}`);
      assertSame(await generate(mergedOnly, sources, opts), want, `merged decoder only ${what}`);
      // Read as they are: f32 values, no float64 normaliser subtracted.
      for (const c of got.flat())
        assert.ok(
          c.tokenLogprobs.every((lp) => Math.fround(lp) === lp),
          `${what}: f32 log-probs`,
        );
      const flat = want.flatMap((cs, i) => cs.map((c) => ({ src: sources[i]!, ids: c.tokenIds })));
      const args = [flat.map((f) => f.src), flat.map((f) => f.ids)] as const;
      const a = await scoreTargets(normalised, ...args);
      const b = await scoreTargets(rawModel, ...args);
      a.forEach((s, i) => {
        assert.ok(
          s.tokenLogprobs.every((lp) => Math.fround(lp) === lp),
          `${what}: f32 scores`,
        );
        s.tokenLogprobs.forEach((lp, j) =>
          assert.ok(
            Math.abs(lp - b[i]!.tokenLogprobs[j]!) <= LOGPROB_TOLERANCE,
            `${what}: scored pair ${i} token ${j}`,
          ),
        );
        assert.ok(Math.abs(s.sequenceLogprob - b[i]!.sequenceLogprob) <= LOGPROB_TOLERANCE);
      });
    }
    await rawModel.release();
    await normalised.release();
    await inMemory.release();
    await mergedOnly.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
