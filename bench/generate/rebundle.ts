/**
 * Re-exports one of our bundles with the current inference graphs, from its own trainer state, and
 * checks the result: a bundle written before the decoder emitted log-probabilities (raw logits, no
 * `rest_logits_are_log_probs` in config.json) becomes one that decodes without a JavaScript normaliser.
 *
 *   node --conditions=source --import tsx bench/generate/rebundle.ts --from policies/pretrained \
 *     --out policies/pretrained-v2 [--sentences 200] [--threads 2]
 *
 * The new bundle keeps the config, tokenizer, generation defaults, lineage (its producer noted) and
 * trainer state. Checks, failing the run: greedy decoding of the first `--sentences` Multi30k
 * validation sentences gives the same tokens from both bundles (so the trainer state holds the
 * parameters the old ONNX files were written from); and it prints the largest difference between their
 * token log-probs. (Byte equality of the files is no check: the graphs change between versions.)
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BUNDLE_FILES,
  ParamTable,
  Seq2SeqModel,
  generate,
  loadCheckpoint,
  readBundleManifest,
  transformerParams,
  writePolicyBundle,
  type Candidate,
} from '@rest/runtime';
import { loadTokenizer } from '@rest/text';

const { values: args } = parseArgs({
  options: {
    from: { type: 'string' },
    out: { type: 'string' },
    sentences: { type: 'string', default: '200' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
if (args.from === undefined || args.out === undefined) throw new Error('--from and --out are required');
const from = resolve(args.from);
const out = resolve(args.out);
if (from === out) throw new Error('--out: must differ from --from (the old bundle is kept)');
const threads = Number(args.threads);
const batch = Number(args.batch);

const old = await readBundleManifest(from);
const config = old.transformer;
if (config === undefined) throw new Error(`--from: ${from} is not our bundle (no rest_transformer)`);
if (!old.hasTrainerState) throw new Error(`--from: ${from} has no ${BUNDLE_FILES.trainerState}`);
const table = new ParamTable(transformerParams(config));
const state = await loadCheckpoint(join(from, BUNDLE_FILES.trainerState), table);
const params = state.params instanceof Float32Array ? state.params : Float32Array.from(state.params);

const producer = old.lineage.producer ?? 'unknown';
await writePolicyBundle(out, {
  config,
  params,
  tokenizerDir: from,
  trainerState: state,
  lineage: {
    ...old.lineage,
    producer: `${producer}; re-exported by bench/generate/rebundle.ts (log-prob logits)`,
    createdAt: new Date().toISOString(),
  },
  generation: {
    maxLength: old.generation.maxLength,
    numBeams: old.generation.numBeams,
    lengthPenalty: old.generation.lengthPenalty,
  },
});
console.error(`wrote ${out} (logits normalised: ${(await readBundleManifest(out)).logitsNormalized})`);

const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, Number(args.sentences));
const tok = await loadTokenizer(from);
const ids = sources.map((s) => tok.encode(s));
const decodeAll = async (dir: string): Promise<{ cands: Candidate[]; normalized: boolean }> => {
  const { model } = await Seq2SeqModel.load(dir, { intraOpThreads: threads, allowSpinning: false });
  const cands: Candidate[] = [];
  for (let i = 0; i < ids.length; i += batch)
    for (const cs of await generate(model, ids.slice(i, i + batch), { strategy: 'greedy' }))
      cands.push(cs[0]!);
  await model.release();
  return { cands, normalized: model.logitsNormalized };
};
const before = await decodeAll(from);
const after = await decodeAll(out);
let differing = 0;
let worst = 0;
before.cands.forEach((a, i) => {
  const b = after.cands[i]!;
  if (JSON.stringify(a.tokenIds) !== JSON.stringify(b.tokenIds)) {
    differing++;
    console.error(`sentence ${i} differs:\n  old ${a.tokenIds.join(' ')}\n  new ${b.tokenIds.join(' ')}`);
  } else a.tokenLogprobs.forEach((lp, j) => (worst = Math.max(worst, Math.abs(lp - b.tokenLogprobs[j]!))));
});
console.log(
  JSON.stringify(
    {
      from,
      out,
      normalized: { from: before.normalized, out: after.normalized },
      sentences: sources.length,
      greedyDiffering: differing,
      maxTokenLogprobDiff: worst,
    },
    null,
    2,
  ),
);
if (differing > 0) process.exitCode = 1;
