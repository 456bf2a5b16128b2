// Decoding through the exported inference graphs on small random models: the KV-cached decoder against
// the training graph's full recomputation, beam search against exhaustive enumeration, sampling's
// determinism and distribution, teacher-forced scoring against generation's own log-probs, batch
// independence, and bundles (round trip, and the errors of broken ones).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../graph/graph.js';
import { ParamTable } from '../params/param-table.js';
import { transformerParams, type TransformerConfig } from '../models/config.js';
import { decode, encode, logits } from '../models/transformer.js';
import { logSoftmax } from '../ops/softmax.js';
import { Session, hostTensor } from '../session/session.js';
import { rng } from '../params/random.js';
import { SMALL, TEST_DEFAULTS, randomParams, randomSources } from '../testing/random-model.js';
import { Seq2SeqModel } from './seq2seq.js';
import { generate, scoreTargets, DecodingError, type Candidate } from './generate.js';
import { writePolicyBundle, BundleError, BUNDLE_FILES } from './bundle.js';
import { lengthGroups } from './length-groups.js';

const DEFAULTS = TEST_DEFAULTS;

test('KV-cached decoding gives the log-softmaxed logits of full recomputation by the training graph (≤ 1e-5)', async () => {
  // Both decoders: the cached one (steps after the first) and the merged one throughout.
  for (const [preNorm, cachedDecoder] of [
    [true, true],
    [false, true],
    [true, false],
  ]) {
    const c = { ...SMALL, preNorm };
    const params = randomParams(c, 3, 2);
    const model = await Seq2SeqModel.fromParams(c, params, DEFAULTS, {}, { cachedDecoder });
    assert.equal(model.hasCachedDecoder, cachedDecoder);
    // The training graph: encoder + decoder over the whole prefix, log-probs of every position (the
    // inference decoder emits its logits log-softmaxed).
    const table = new ParamTable(transformerParams(c));
    const views = table.views(params);
    const g = new Graph('full');
    const p = new Map(
      table.entries.map((e) => [e.name, g.constant('f32', e.shape, views.get(e.name)!, e.name)]),
    );
    const src = g.input('src', 'i64', ['B', 'S']);
    const tgtIn = g.input('tgt_in', 'i64', ['B', 'T']);
    const { memory, srcBias } = encode(c, g, p, src);
    g.output(logSoftmax(logits(p, decode(c, g, p, tgtIn, memory, srcBias))), 'logits');
    const full = await Session.create(g);
    const sources = randomSources(3, c.vocabSize, 11);
    const T = 12;
    const r = rng(5);
    const prefixes = sources.map(() => [0, ...Array.from({ length: T - 1 }, () => 2 + Math.floor(r() * 48))]);
    let worst = 0;
    for (const [b, s] of sources.entries()) {
      const out = await full.run({
        src: hostTensor('i64', [1, s.length], BigInt64Array.from(s, BigInt)),
        tgt_in: hostTensor('i64', [1, T], BigInt64Array.from(prefixes[b]!, BigInt)),
      });
      const want = out.logits!.data as Float32Array;
      // Cached: one token per step, in a batch with the other sources (padding must not leak).
      const { hidden, mask } = await model.encode(sources);
      const state = model.start(hidden, mask);
      for (let t = 0; t < T; t++) {
        const got = await model.step(state, BigInt64Array.from(prefixes.map((x) => BigInt(x[t]!))));
        for (let v = 0; v < c.vocabSize; v++)
          worst = Math.max(worst, Math.abs(got[b * c.vocabSize + v]! - want[t * c.vocabSize + v]!));
      }
    }
    assert.ok(
      worst <= 1e-5,
      `preNorm=${preNorm}, cachedDecoder=${cachedDecoder}: max |cached − full| = ${worst}`,
    );
    await full.release();
    await model.release();
  }
});

test('encode: sources of very different lengths run in length groups and get their own encodings', async () => {
  const params = randomParams(SMALL, 6, 2);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const r = rng(4);
  const sources = Array.from({ length: 12 }, (_, i) => {
    const len = i % 2 === 0 ? 2 : 40;
    return [...Array.from({ length: len }, () => 3 + Math.floor(r() * 40)), 1];
  });
  assert.ok(lengthGroups(sources.map((s) => s.length)).length > 1, 'the batch is split');
  const { hidden, mask } = await model.encode(sources);
  const S = mask.dims[1]!;
  const D = SMALL.dModel;
  let worst = 0;
  for (const [i, s] of sources.entries()) {
    const alone = await model.encode([s]);
    for (let t = 0; t < S; t++) {
      assert.equal(mask.data[i * S + t], t < s.length ? 1n : 0n);
      for (let d = 0; d < D; d++) {
        const got = hidden.data[(i * S + t) * D + d]!;
        if (t < s.length) worst = Math.max(worst, Math.abs(got - alone.hidden.data[t * D + d]!));
        else assert.equal(got, 0, 'padding is zero');
      }
    }
  }
  assert.ok(worst <= 1e-5, `max |grouped − alone| = ${worst}`);
  await model.release();
});

test('Seq2SeqModel: a consuming select and recycled buffers decode like fresh states', async () => {
  const params = randomParams(SMALL, 7, 2);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(5, SMALL.vocabSize, 9);
  const V = SMALL.vocabSize;
  const tokens = (rows: number, t: number) =>
    new BigInt64Array(rows).map((_, i) => BigInt(2 + ((i + t) % 40)));
  const run = async (consume: boolean): Promise<number[]> => {
    const { hidden, mask } = await model.encode(sources);
    let state = model.start(hidden, mask);
    const seen: number[] = [];
    for (let t = 0; t < 6; t++) {
      if (t === 3) state = model.select(state, [4, 0, 0, 2], consume);
      const logits = await model.step(state, tokens(state.rows, t));
      seen.push(...logits.subarray(0, state.rows * V));
    }
    model.recycle(state);
    return seen;
  };
  const fresh = await run(false);
  for (let i = 0; i < 3; i++) assert.deepEqual(await run(true), fresh);
  await model.release();
});

test('teacher-forced scoring returns the log-probs that generation reported', async () => {
  const params = randomParams(SMALL, 4, 2);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(6, SMALL.vocabSize, 3);
  for (const opts of [
    { strategy: 'greedy' as const },
    { strategy: 'sample' as const, numReturn: 3, seed: 9, temperature: 0.7 },
    { strategy: 'beam' as const, beamSize: 3, numReturn: 2 },
  ]) {
    const out = await generate(model, sources, opts);
    const flat = out.flatMap((cs, i) => cs.map((cand) => ({ src: sources[i]!, cand })));
    const scores = await scoreTargets(
      model,
      flat.map((f) => f.src),
      flat.map((f) => f.cand.tokenIds),
    );
    flat.forEach(({ cand }, i) => {
      const s = scores[i]!;
      assert.equal(s.tokenLogprobs.length, cand.tokenIds.length);
      s.tokenLogprobs.forEach((lp, j) =>
        assert.ok(Math.abs(lp - cand.tokenLogprobs[j]!) < 1e-4, `${opts.strategy}`),
      );
      assert.ok(Math.abs(s.sequenceLogprob - cand.sequenceLogprob) < 1e-3);
    });
  }
  await model.release();
});

test('a source decodes the same alone and in a batch; finished rows leave the batch', async () => {
  const params = randomParams(SMALL, 5, 2);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(8, SMALL.vocabSize, 21);
  const together = await generate(model, sources, { strategy: 'greedy' });
  for (const [i, s] of sources.entries()) {
    const alone = await generate(model, [s], { strategy: 'greedy' });
    assert.deepEqual(alone[0]![0]!.tokenIds, together[i]![0]!.tokenIds);
  }
  const beamTogether = await generate(model, sources, { strategy: 'beam', beamSize: 3 });
  for (const [i, s] of sources.entries()) {
    const alone = await generate(model, [s], { strategy: 'beam', beamSize: 3 });
    assert.deepEqual(alone[0]![0]!.tokenIds, beamTogether[i]![0]!.tokenIds);
  }
  for (const cands of together) {
    const c = cands[0]!;
    assert.ok(
      c.tokenIds.every((t) => t !== 0),
      'the banned pad token never appears',
    );
    if (c.finishReason === 'eos') assert.equal(c.tokenIds.at(-1), 1);
    else assert.equal(c.tokenIds.length, DEFAULTS.maxLength - 1);
  }
  await model.release();
});

test('greedy and sampling: sources that end on their first token leave the batch, the others go on', async () => {
  const params = randomParams(SMALL, 5, 2);
  const candidates = randomSources(8, SMALL.vocabSize, 21);
  // Make the first token the last source picks the end token, so that it (and any other source
  // picking it) ends at once; those sources go last (the rows that go on are then a prefix).
  const probe = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const first = (await generate(probe, candidates, { strategy: 'greedy', maxNewTokens: 1 })).map(
    (cs) => cs[0]!.tokenIds[0]!,
  );
  await probe.release();
  const eos = first.at(-1)!;
  const order = candidates
    .map((_, i) => i)
    .sort((a, b) => Number(first[a] === eos) - Number(first[b] === eos));
  const sources = order.map((i) => candidates[i]!);
  const firsts = order.map((i) => first[i]!);
  assert.ok(firsts[0] !== eos, 'some sources go on');
  const model = await Seq2SeqModel.fromParams(SMALL, params, { ...DEFAULTS, eosTokenId: eos });
  for (const opts of [
    { strategy: 'greedy' as const },
    { strategy: 'sample' as const, numReturn: 2, seed: 4, topK: 1 },
  ]) {
    const together = await generate(model, sources, opts);
    for (const [i, s] of sources.entries()) {
      const alone = await generate(model, [s], { ...opts, sourceSeeds: [0] });
      assert.deepEqual(
        together[i]!.map((c) => c.tokenIds),
        alone[0]!.map((c) => c.tokenIds),
      );
      if (firsts[i] === eos) assert.deepEqual(together[i]![0]!.tokenIds, [eos]);
    }
  }
  await model.release();
});

/** Every sequence up to `maxNew` tokens: ending with eos, or of full length without it. */
function allSequences(vocab: number[], eos: number, maxNew: number): number[][] {
  const out: number[][] = [];
  const grow = (prefix: number[]): void => {
    if (prefix.length === maxNew) {
      out.push(prefix);
      return;
    }
    for (const t of vocab) {
      const next = [...prefix, t];
      if (t === eos) out.push(next);
      else grow(next);
    }
  };
  grow([]);
  return out;
}

test('beam search with enough beams finds the best length-normalised sequence (exhaustive check)', async () => {
  const c: TransformerConfig = {
    vocabSize: 6,
    dModel: 8,
    heads: 2,
    ffnDim: 16,
    encoderLayers: 1,
    decoderLayers: 1,
  };
  const maxNew = 4;
  const vocab = [1, 2, 3, 4, 5]; // all but the banned pad
  const seqs = allSequences(vocab, 1, maxNew);
  for (const [seed, lp] of [
    [1, 1],
    [2, 0],
    [3, 2],
    [4, 0.6],
  ] as const) {
    const params = randomParams(c, seed, 2.5);
    const model = await Seq2SeqModel.fromParams(c, params, { ...DEFAULTS, maxLength: maxNew + 1 });
    const source = [2, 3, 4, 1];
    const scores = await scoreTargets(
      model,
      seqs.map(() => source),
      seqs,
    );
    const normed = seqs.map((s, i) => scores[i]!.sequenceLogprob / s.length ** lp);
    const bestAt = normed.indexOf(Math.max(...normed));
    const [beam] = await generate(model, [source], {
      strategy: 'beam',
      beamSize: 64,
      lengthPenalty: lp,
      maxNewTokens: maxNew,
      numReturn: 5,
    });
    const top = beam![0]!;
    assert.deepEqual(top.tokenIds, seqs[bestAt], `seed ${seed}, lengthPenalty ${lp}`);
    assert.ok(Math.abs(top.score! - normed[bestAt]!) < 1e-4);
    // Returned hypotheses are sorted by score.
    for (let i = 1; i < beam!.length; i++) assert.ok(beam![i - 1]!.score! >= beam![i]!.score!);
    await model.release();
  }
});

test('beam search with one beam is greedy decoding', async () => {
  const params = randomParams(SMALL, 8, 2);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(6, SMALL.vocabSize, 8);
  const greedy = await generate(model, sources, { strategy: 'greedy' });
  const beam = await generate(model, sources, { strategy: 'beam', beamSize: 1 });
  greedy.forEach((g, i) => assert.deepEqual(beam[i]![0]!.tokenIds, g[0]!.tokenIds));
  await model.release();
});

test('sampling: same seed, same samples regardless of batching; seeds differ; top-k 1 is greedy', async () => {
  const params = randomParams(SMALL, 9, 1.5);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(4, SMALL.vocabSize, 2);
  const opts = { strategy: 'sample' as const, numReturn: 4, seed: 1234, temperature: 0.9, topP: 0.95 };
  const a = await generate(model, sources, opts);
  const b = await generate(model, sources, opts);
  assert.deepEqual(
    a.map((cs) => cs.map((x) => x.tokenIds)),
    b.map((cs) => cs.map((x) => x.tokenIds)),
  );
  // Source 0 alone draws what it drew in the batch (each sample has its own generator).
  const alone = await generate(model, [sources[0]!], opts);
  assert.deepEqual(
    alone[0]!.map((x) => x.tokenIds),
    a[0]!.map((x) => x.tokenIds),
  );
  const other = await generate(model, sources, { ...opts, seed: 99 });
  assert.notDeepEqual(
    a.map((cs) => cs.map((x) => x.tokenIds)),
    other.map((cs) => cs.map((x) => x.tokenIds)),
  );
  const k1 = await generate(model, sources, { strategy: 'sample', topK: 1, seed: 3 });
  const greedy = await generate(model, sources, { strategy: 'greedy' });
  greedy.forEach((g, i) => assert.deepEqual(k1[i]![0]!.tokenIds, g[0]!.tokenIds));
  await model.release();
});

test('sampling with per-source seeds: one batched call draws what separate calls draw', async () => {
  const params = randomParams(SMALL, 11, 1.5);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const sources = randomSources(7, SMALL.vocabSize, 5);
  const r = rng(17);
  const seeds = sources.map(() => Math.floor(r() * 2 ** 32));
  for (const opts of [
    { strategy: 'sample' as const, numReturn: 3, temperature: 0.9, topP: 0.95 },
    { strategy: 'sample' as const, numReturn: 2, temperature: 1.2, topK: 6 },
  ]) {
    const batched = await generate(model, sources, { ...opts, sourceSeeds: seeds });
    const ids = (out: Candidate[][]) => out.map((cs) => cs.map((c) => c.tokenIds));
    const alone = await Promise.all(sources.map((s, i) => generate(model, [s], { ...opts, seed: seeds[i] })));
    assert.deepEqual(ids(batched), ids(alone.map((out) => out[0]!)));
    batched.forEach((cs, i) =>
      cs.forEach((c, k) =>
        c.tokenLogprobs.forEach((lp, j) =>
          assert.ok(Math.abs(lp - alone[i]![0]![k]!.tokenLogprobs[j]!) <= 1e-5, `source ${i} sample ${k}`),
        ),
      ),
    );
    // Another order, another batch: each source still draws the same.
    const order = [6, 2, 0, 5];
    const reordered = await generate(
      model,
      order.map((i) => sources[i]!),
      { ...opts, sourceSeeds: order.map((i) => seeds[i]!) },
    );
    assert.deepEqual(ids(reordered), ids(order.map((i) => batched[i]!)));
  }
  await assert.rejects(
    generate(model, sources, { strategy: 'sample', sourceSeeds: seeds.slice(1) }),
    (e: Error) => e instanceof DecodingError && /^sourceSeeds: 6 seeds for 7 sources/.test(e.message),
  );
  await assert.rejects(
    generate(model, sources.slice(0, 2), { strategy: 'sample', sourceSeeds: [1, NaN] }),
    (e: Error) => e instanceof DecodingError && /^sourceSeeds\[1\]: must be a finite number/.test(e.message),
  );
  await model.release();
});

test('sampling draws first tokens with the temperature-scaled, top-k/top-p truncated probabilities', async () => {
  const params = randomParams(SMALL, 10, 1);
  const model = await Seq2SeqModel.fromParams(SMALL, params, { ...DEFAULTS, maxLength: 2 });
  const source = [5, 6, 7, 1];
  const V = SMALL.vocabSize;
  const { hidden, mask } = await model.encode([source]);
  const first = await model.step(model.start(hidden, mask), BigInt64Array.of(0n));
  const n = 4000;
  for (const { temperature, topK, topP } of [
    { temperature: 0.7, topK: 0, topP: 1 },
    { temperature: 1.3, topK: 5, topP: 1 },
    { temperature: 1, topK: 0, topP: 0.6 },
  ]) {
    // Expected distribution, computed here from the logits.
    const scaled = Array.from({ length: V }, (_, v) => (v === 0 ? -Infinity : first[v]! / temperature));
    const max = Math.max(...scaled);
    let probs = scaled.map((x) => Math.exp(x - max));
    const order = probs.map((p, i) => ({ p, i })).sort((x, y) => y.p - x.p || x.i - y.i);
    const keep = new Set<number>();
    const total = probs.reduce((s, p) => s + p, 0);
    let acc = 0;
    for (const [rank, { p, i }] of order.entries()) {
      if (topK > 0 && rank >= topK) break;
      keep.add(i);
      acc += p;
      if (topP < 1 && acc >= topP * total) break;
    }
    probs = probs.map((p, i) => (keep.has(i) ? p : 0));
    const z = probs.reduce((s, p) => s + p, 0);
    const counts = new Array<number>(V).fill(0);
    for (let seed = 0; seed < n / 1000; seed++) {
      const out = await generate(model, [source], {
        strategy: 'sample',
        numReturn: 1000,
        seed,
        temperature,
        topK,
        topP,
        maxNewTokens: 1,
      });
      for (const cand of out[0]!) counts[cand.tokenIds[0]!]!++;
    }
    for (let v = 0; v < V; v++) {
      const p = probs[v]! / z;
      if (p === 0) assert.equal(counts[v], 0, `token ${v} is outside the truncation but was drawn`);
      else {
        const sd = Math.sqrt((n * p * (1 - p)) | 1);
        assert.ok(
          Math.abs(counts[v]! - n * p) <= 5 * sd + 2,
          `token ${v}: ${counts[v]} draws, expected ${n * p}`,
        );
      }
    }
  }
  await model.release();
});

test('decoding options out of range are refused with the field named', async () => {
  const params = randomParams(SMALL, 1, 1);
  const model = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
  const cases: [Parameters<typeof generate>[2], RegExp][] = [
    [{ strategy: 'sample', temperature: 0 }, /^temperature/],
    [{ strategy: 'sample', topP: 1.5 }, /^topP/],
    [{ strategy: 'beam', beamSize: 2, numReturn: 3 }, /^numReturn/],
    [{ strategy: 'greedy', maxNewTokens: 0 }, /^maxNewTokens/],
    [{ strategy: 'nope' as 'greedy' }, /^strategy/],
  ];
  for (const [opts, re] of cases)
    await assert.rejects(
      generate(model, [[3, 1]], opts),
      (e: Error) => e instanceof DecodingError && re.test(e.message),
    );
  await assert.rejects(generate(model, [[3, 1], []], { strategy: 'greedy' }), /sources\[1\]: empty/);
  await model.release();
});

test('bundles: written atomically, loaded back to the same decoding; broken ones fail with the file named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rest-bundle-'));
  try {
    const tokDir = join(dir, 'tok');
    await writePolicyBundle(join(dir, 'x'), {
      config: SMALL,
      params: new Float32Array(3),
      tokenizerDir: tokDir,
    }).then(
      () => assert.fail('expected a rejection'),
      (e: Error) => assert.match(e.message, /^params: 3 values/),
    );
    await import('node:fs/promises').then((fs) => fs.mkdir(tokDir));
    await assert.rejects(
      writePolicyBundle(join(dir, 'x'), {
        config: SMALL,
        params: randomParams(SMALL, 1, 1),
        tokenizerDir: tokDir,
      }),
      /tokenizerDir: .*tokenizer\.json does not exist/,
    );
    await writeFile(join(tokDir, 'tokenizer.json'), '{}');
    await writeFile(join(tokDir, 'tokenizer_config.json'), '{}');
    const params = randomParams(SMALL, 12, 2);
    const bundle = join(dir, 'policy');
    await writePolicyBundle(bundle, {
      config: SMALL,
      params,
      tokenizerDir: tokDir,
      lineage: { runId: 'r1', improveStep: 2, metrics: { bleu: 12.5 } },
      generation: { maxLength: DEFAULTS.maxLength },
    });
    const { model, manifest } = await Seq2SeqModel.load(bundle);
    assert.equal(manifest.lineage.runId, 'r1');
    assert.deepEqual(manifest.transformer, SMALL);
    assert.deepEqual(manifest.generation.bannedTokenIds, [0]);
    const memory = await Seq2SeqModel.fromParams(SMALL, params, DEFAULTS);
    const sources = randomSources(5, SMALL.vocabSize, 4);
    const a = await generate(model, sources, { strategy: 'beam', beamSize: 2 });
    const b = await generate(memory, sources, { strategy: 'beam', beamSize: 2 });
    assert.deepEqual(
      a.map((c: Candidate[]) => c[0]!.tokenIds),
      b.map((c: Candidate[]) => c[0]!.tokenIds),
    );
    await model.release();
    await memory.release();

    // A config that disagrees with the ONNX files (a foreign or damaged bundle).
    const cfgPath = join(bundle, BUNDLE_FILES.config);
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, decoder_attention_heads: 4 }));
    await assert.rejects(
      Seq2SeqModel.load(bundle),
      (e: Error) => e instanceof BundleError && /past_key_values\.0\.decoder\.key has dims/.test(e.message),
    );
    await writeFile(cfgPath, JSON.stringify({ ...cfg, d_model: 'wide' }));
    await assert.rejects(Seq2SeqModel.load(bundle), /config\.json: d_model must be a non-negative integer/);
    await writeFile(cfgPath, '{not json');
    await assert.rejects(Seq2SeqModel.load(bundle), /config\.json is not a JSON object/);
    await writeFile(cfgPath, JSON.stringify(cfg));
    await writeFile(join(bundle, BUNDLE_FILES.decoder), 'garbage');
    await assert.rejects(Seq2SeqModel.load(bundle));
    await unlink(join(bundle, BUNDLE_FILES.decoder));
    await assert.rejects(Seq2SeqModel.load(bundle), /onnx\/decoder_model_merged\.onnx is missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("greedy: the cached decoder's greedy head picks what RowChooser picks from the logits, banned tokens included", async () => {
  const params = randomParams(SMALL, 9, 2);
  const sources = randomSources(6, SMALL.vocabSize, 23);
  const decodeWith = async (bannedTokenIds: number[], cachedDecoder: boolean): Promise<Candidate[][]> => {
    const defaults = { ...TEST_DEFAULTS, bannedTokenIds };
    const model = await Seq2SeqModel.fromParams(SMALL, params, defaults, {}, { cachedDecoder });
    assert.equal(model.hasCachedDecoder, cachedDecoder);
    try {
      return await generate(model, sources, { strategy: 'greedy', maxNewTokens: 12 });
    } finally {
      await model.release();
    }
  };
  const free = await decodeWith([0], false);
  // Ban the token greedy chooses most often after the first step, so that the ban changes choices.
  const counts = new Map<number, number>();
  for (const [c] of free) for (const t of c!.tokenIds.slice(1)) counts.set(t, (counts.get(t) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  assert.deepEqual(await decodeWith([0], true), free);
  const headed = await decodeWith([0, top], true);
  assert.deepEqual(headed, await decodeWith([0, top], false));
  assert.notDeepEqual(headed, free);
  for (const [c] of headed) assert.ok(!c!.tokenIds.includes(top), `banned token ${top} chosen`);
});

test('Seq2SeqModel: cached steps after a multi-token first step read the prefix as the merged decoder does', async () => {
  const params = randomParams(SMALL, 4, 2);
  const sources = randomSources(3, SMALL.vocabSize, 9);
  const prefix = BigInt64Array.from([0, 7, 12, 0, 9, 30, 0, 5, 5], BigInt); // 3 rows × 3 tokens
  const logitsOf = async (cachedDecoder: boolean): Promise<Float32Array[]> => {
    const model = await Seq2SeqModel.fromParams(SMALL, params, TEST_DEFAULTS, {}, { cachedDecoder });
    const { hidden, mask } = await model.encode(sources);
    const state = model.start(hidden, mask);
    await model.step(state, prefix, 3);
    const out: Float32Array[] = [];
    for (const tok of [4n, 8n])
      out.push(Float32Array.from(await model.step(state, new BigInt64Array(3).fill(tok))));
    await model.release();
    return out;
  };
  const [cached, merged] = [await logitsOf(true), await logitsOf(false)];
  let worst = 0;
  cached.forEach((c, s) => c.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - merged[s]![i]!)))));
  assert.ok(worst <= 1e-5, `max |cached − merged| = ${worst}`);
});
