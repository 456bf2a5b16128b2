/**
 * Beam-search parity on a real bundle: our `generate` (strategy beam) against onnxruntime's own
 * `com.microsoft.BeamSearch` op run over the same policy (`OrtBeamSearch` from @rest/runtime/testing),
 * on validation sentences, for each length penalty asked. Prints the sentences compared, how many
 * best hypotheses are identical token for token, the largest score difference among those, and every
 * mismatch with both outputs, their scores and what explains it.
 *
 *   node --conditions=source --import tsx bench/generate/beam-parity.ts --bundle policies/pretrained \
 *     [--sentences 200] [--beam 4] [--lp 1,0] [--early off] [--max-new <bundle max_length − 1>] [--threads 1]
 *
 * The two define the search identically except in two places (libs/runtime/src/policy/ort-beam-search.ts):
 * hypotheses cut by the length limit (the op divides by maxNew + 1, we by maxNew) and, without early
 * stopping, the done check (the op compares with the best of all 2·B candidates, end tokens included;
 * we, like current Hugging Face, with the best running beam). A mismatch is labelled with the one that
 * explains it: `length-limit` when either side's best ran to the limit; `done-check` when the op's best,
 * rescored by our model and our convention, beats ours (our search stopped before reaching it);
 * `unexplained` otherwise.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Seq2SeqModel, generate, readBundleManifest, scoreTargets, type Candidate } from '@rest/runtime';
import { OrtBeamSearch } from '@rest/runtime/testing';
import { loadTokenizer } from '@rest/text';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'policies/pretrained' },
    sentences: { type: 'string', default: '200' },
    beam: { type: 'string', default: '4' },
    lp: { type: 'string', default: '1' },
    early: { type: 'string', default: 'off' },
    'max-new': { type: 'string' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '32' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
const bundle = resolve(args.bundle);
const beamSize = Number(args.beam);
const threads = Number(args.threads);
const batch = Number(args.batch);
const penalties = args.lp.split(',').map(Number);
if (args.early !== 'on' && args.early !== 'off') throw new Error('--early: on or off');
if (penalties.some((x) => !Number.isFinite(x))) throw new Error(`--lp: numbers, got ${args.lp}`);
const earlyStopping = args.early === 'on';
const manifest = await readBundleManifest(bundle);
const maxNewTokens = Number(args['max-new'] ?? manifest.generation.maxLength - 1);

const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, Number(args.sentences));
const tok = await loadTokenizer(bundle);
const ids = sources.map((s) => tok.encode(s));
const { model } = await Seq2SeqModel.load(bundle, { intraOpThreads: threads, allowSpinning: false });
const { peer, sameOnnx } = await OrtBeamSearch.fromBundle(bundle, { intraOpThreads: threads });
console.log(
  `bundle ${bundle}: ${ids.length} sentences, beam ${beamSize}, early stopping ${args.early}, ` +
    `max new tokens ${maxNewTokens}, threads ${threads}`,
);
console.log(
  `peer built from trainer/state.safetensors with today's graph builder; byte-identical to the bundle's ` +
    `encoder: ${sameOnnx.encoder}, decoder: ${sameOnnx.decoder}` +
    (sameOnnx.encoder && !sameOnnx.decoder
      ? " (same parameters; the bundle's decoder comes from another builder version, e.g. raw logits)"
      : ''),
);

const text = (t: readonly number[]): string =>
  tok.decode(t.filter((x) => x !== manifest.generation.eosTokenId));
const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

try {
  for (const lengthPenalty of penalties) {
    const o = { beamSize, lengthPenalty, earlyStopping, maxNewTokens };
    let t0 = performance.now();
    const ours: Candidate[][] = [];
    for (let i = 0; i < ids.length; i += batch)
      ours.push(...(await generate(model, ids.slice(i, i + batch), { strategy: 'beam', ...o })));
    const oursMs = performance.now() - t0;
    t0 = performance.now();
    const theirs = await peer.search(ids, o);
    const theirsMs = performance.now() - t0;
    let identical = 0;
    let maxScoreDiff = 0;
    const mismatches: number[] = [];
    ids.forEach((_, i) => {
      const a = ours[i]![0]!;
      const b = theirs[i]![0]!;
      if (same(a.tokenIds, b.tokenIds)) {
        identical++;
        // Scores are comparable when both sides divide by the same length (module header).
        if (a.finishReason === 'eos' || lengthPenalty === 0)
          maxScoreDiff = Math.max(maxScoreDiff, Math.abs(a.score! - b.score));
      } else mismatches.push(i);
    });
    console.log(
      `\nlength penalty ${lengthPenalty}: ${identical}/${ids.length} identical best hypotheses ` +
        `(max |score difference| among them ${maxScoreDiff.toExponential(2)}); ` +
        `ours ${(oursMs / 1000).toFixed(1)} s (batches of ${batch}), op ${(theirsMs / 1000).toFixed(1)} s (one source per call)`,
    );
    if (mismatches.length === 0) continue;
    // Rescore the op's best with our model, by our convention, to tell which difference explains it.
    const rescored = await scoreTargets(
      model,
      mismatches.map((i) => ids[i]!),
      mismatches.map((i) => theirs[i]![0]!.tokenIds),
    );
    const counts: Record<string, number> = {};
    mismatches.forEach((i, k) => {
      const a = ours[i]![0]!;
      const b = theirs[i]![0]!;
      const theirsOurWay = rescored[k]!.sequenceLogprob / b.tokenIds.length ** lengthPenalty;
      const why =
        a.finishReason === 'length' || b.finishReason === 'length'
          ? 'length-limit'
          : theirsOurWay > a.score!
            ? 'done-check'
            : 'unexplained';
      counts[why] = (counts[why] ?? 0) + 1;
      console.log(`  #${i} [${why}] ${sources[i]}`);
      console.log(
        `    ours (${a.finishReason}, ${a.tokenIds.length} tokens, score ${a.score!.toFixed(5)}): ${text(a.tokenIds)}`,
      );
      console.log(
        `    op   (${b.finishReason}, ${b.tokenIds.length} tokens, score ${b.score.toFixed(5)}, ` +
          `by our convention ${theirsOurWay.toFixed(5)}): ${text(b.tokenIds)}`,
      );
    });
    console.log(`  mismatches by cause: ${JSON.stringify(counts)}`);
  }
} finally {
  await model.release();
  await peer.release();
}
