/**
 * ReST on real data, one Grow and I Improve steps per objective, from a pretrained policy bundle:
 *
 *   Grow:    N samples per training source from the policy (ancestral sampling, temperature 0.8, the
 *            runtime's `generate`, the policy server's decoding), each scored by a metric reward
 *            against the source's reference (chrF / 100 by default); the references join D_g.
 *   Improve: for each objective, steps 1..I each start from the previous step's policy, keep the
 *            samples that pass the step's threshold (the coordinator's `filterImproveStep`), and train
 *            through the trainer's executor (`runImprove`, the code the service and `rest train` run)
 *            with the learning rate halved per step; π_ref is the starting policy, which also sampled
 *            D_g, so the samples' own log-probs serve as reference log-probs.
 *
 * Prints one table, objective × step: validation reward (mean reward of greedy outputs), BLEU and
 * training tokens/s (step 0 is the starting policy). Everything lands in --work-dir: the Grow samples
 * as a shard file (reused by later runs), each step's checkpoints and bundle, and results.json; a
 * rerun resumes where the previous one stopped.
 *
 *   nice -n 10 node --conditions=source --import tsx bench/improve/run.ts --policy policies/pretrained \
 *     [--objectives bc,alol,dpo,hypo] [--sources 2000] [--samples 8] [--steps 300] [--threads 0]
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { filterImproveStep, type SourceSamples, type ThresholdSchedule } from '@rest/coordinator';
import { Seq2SeqModel, generate, readBundleManifest } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';
import {
  FolderCheckpointStore,
  IMPROVE_DEFAULTS,
  isMetricReward,
  isObjectiveName,
  metricReward,
  parseShardFile,
  formatShardFile,
  runImprove,
  shardCandidates,
  validate,
  type ImproveSpec,
  type RewardNormalization,
  type ShardFileLine,
} from '@rest/trainer';

const { values: a } = parseArgs({
  options: {
    policy: { type: 'string' },
    objectives: { type: 'string', default: 'bc,alol,dpo,hypo' },
    'data-dir': { type: 'string', default: resolve('..', 'shared', 'data', 'multi30k') },
    'src-lang': { type: 'string', default: 'de' },
    'tgt-lang': { type: 'string', default: 'en' },
    sources: { type: 'string', default: '2000' },
    samples: { type: 'string', default: '8' },
    temperature: { type: 'string', default: '0.8' },
    reward: { type: 'string', default: 'chrf' },
    normalization: { type: 'string', default: 'clipped01' },
    'no-references': { type: 'boolean', default: false },
    schedule: { type: 'string', default: 'percentile:50,70,90' },
    'improve-steps': { type: 'string', default: '3' },
    steps: { type: 'string', default: '300' },
    'eval-every': { type: 'string', default: '100' },
    lr: { type: 'string', default: '1e-4' },
    'lr-decay': { type: 'string', default: '0.5' },
    'batch-tokens': { type: 'string', default: '4096' },
    dropout: { type: 'string', default: '0.1' },
    valid: { type: 'string', default: '500' },
    'max-len': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '0' },
    'work-dir': { type: 'string', default: '.rest/bench-improve' },
  },
});

const fail = (message: string): never => {
  console.error(`bench/improve: ${message}`);
  process.exit(1);
};
const int = (name: keyof typeof a): number => {
  const v = Number(a[name]);
  return Number.isInteger(v) && v >= 0 ? v : fail(`--${name} must be a non-negative integer`);
};
const real = (name: keyof typeof a): number => {
  const v = Number(a[name]);
  return Number.isFinite(v) ? v : fail(`--${name} must be a number`);
};
if (a.policy === undefined) fail('--policy <bundleDir> is required');
const policy = resolve(a.policy!);
const objectives = a.objectives.split(',').map((s) => s.trim());
for (const o of objectives) if (!isObjectiveName(o)) fail(`unknown objective ${o}`);
if (!isMetricReward(a.reward)) fail(`--reward must be a metric (bleu, chrf, chrf++, ter), got ${a.reward}`);
const normalization = a.normalization as RewardNormalization;
const reward = metricReward(a.reward as 'chrf', normalization);
const [kind, list] = a.schedule.split(':');
const levels = (list ?? '').split(',').map(Number);
const improveSteps = int('improve-steps');
if (levels.length !== improveSteps || levels.some((x) => !Number.isFinite(x)))
  fail(`--schedule needs ${improveSteps} numbers, e.g. percentile:50,70,90 or fixed:0.5,0.6,0.7`);
const schedule: ThresholdSchedule =
  kind === 'fixed'
    ? { kind: 'fixed', thresholds: levels, meanGuard: true }
    : kind === 'percentile'
      ? { kind: 'percentile', percentiles: levels }
      : kind === 'interpolation'
        ? { kind: 'interpolation', gammas: levels }
        : fail(`--schedule kind must be fixed, percentile or interpolation, got ${kind}`);
const work = resolve(a['work-dir']);
const threads = int('threads');
const session = { intraOpThreads: threads };
const maxPositions = (await readBundleManifest(policy)).transformer?.maxPositions ?? 512;
// Sources and outputs stay inside the model's position table.
const maxLen = Math.min(int('max-len'), maxPositions - 1);

async function lines(path: string): Promise<string[]> {
  if (!existsSync(path)) fail(`${path} does not exist (--data-dir)`);
  const out = (await readFile(path, 'utf8')).split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

const dataDir = a['data-dir'];
const [trainSrc, trainRef, validSrc, validRef] = await Promise.all(
  [
    ['train', a['src-lang']],
    ['train', a['tgt-lang']],
    ['valid', a['src-lang']],
    ['valid', a['tgt-lang']],
  ].map(([split, lang]) => lines(join(dataDir, `${split}.${lang}`))),
);
await mkdir(work, { recursive: true });
const tok = await loadTokenizer(policy);
const valid = validSrc!
  .map((source, i) => ({ source, reference: validRef![i]! }))
  .filter((v) => v.source.trim() !== '' && tok.encode(v.source).length <= maxLen)
  .slice(0, int('valid'));

// ---- Grow: N samples per source, scored; cached as a shard file.
const growFile = join(work, 'grow.jsonl');
if (!existsSync(growFile)) {
  const n = int('samples');
  const sources = trainSrc!
    .map((s, i) => ({ i, s, ref: trainRef![i]!, ids: tok.encode(s) }))
    .filter((x) => x.s.trim() !== '' && x.ids.length <= maxLen)
    .slice(0, int('sources'))
    .sort((x, y) => x.ids.length - y.ids.length);
  const { model } = await Seq2SeqModel.load(policy, session);
  const out: ShardFileLine[] = [];
  const t0 = performance.now();
  let tokens = 0;
  try {
    for (let k = 0; k < sources.length; k += 16) {
      const chunk = sources.slice(k, k + 16);
      const res = await generate(
        model,
        chunk.map((c) => c.ids),
        {
          strategy: 'sample',
          numReturn: n,
          temperature: real('temperature'),
          seed: int('seed') + k,
          maxNewTokens: maxLen,
        },
      );
      chunk.forEach((c, j) => {
        const texts = res[j]!.map((cand) => tok.decode(cand.tokenIds));
        res[j]!.forEach((cand, m) => {
          tokens += cand.tokenIds.length;
          out.push({
            source: c.s,
            hypothesis: texts[m]!,
            reward: Number.NaN,
            sourceId: String(c.i),
            tokenIds: cand.tokenIds,
            behaviourLogProb: cand.sequenceLogprob,
            tokenLogProbs: cand.tokenLogprobs,
          });
        });
        if (!a['no-references'])
          out.push({
            source: c.s,
            hypothesis: c.ref,
            reward: Number.NaN,
            sourceId: String(c.i),
            isReference: true,
          });
      });
      if ((k / 16) % 20 === 0)
        console.error(`bench/improve: Grow ${Math.min(k + 16, sources.length)}/${sources.length} sources`);
    }
  } finally {
    await model.release();
  }
  const refs = new Map(sources.map((s) => [String(s.i), s.ref]));
  const rewards = await reward(
    out.map((l) => ({ source: l.source, hypothesis: l.hypothesis, reference: refs.get(l.sourceId!)! })),
  );
  out.forEach((l, i) => (l.reward = rewards[i]!));
  await writeFile(growFile, formatShardFile(out));
  const secs = (performance.now() - t0) / 1000;
  console.error(
    `bench/improve: Grow done: ${out.length} candidates in ${secs.toFixed(0)} s (${(tokens / secs).toFixed(0)} sampled tokens/s)`,
  );
}
const { all } = shardCandidates(parseShardFile(await readFile(growFile, 'utf8'), growFile), {
  behaviourIsReference: true,
});
const meanGrow =
  all.filter((c) => !c.isReference).reduce((s, c) => s + c.reward, 0) /
  all.filter((c) => !c.isReference).length;
console.error(`bench/improve: D_g has ${all.length} candidates, mean sample reward ${meanGrow.toFixed(4)}`);

// ---- Step 0: the starting policy.
interface Row {
  objective: string;
  step: number;
  kept: number;
  threshold: string;
  reward: number;
  bleu: number;
  tokensPerSecond: number;
}
const resultsFile = join(work, 'results.json');
const results: Row[] = existsSync(resultsFile)
  ? (JSON.parse(await readFile(resultsFile, 'utf8')) as Row[])
  : [];
const save = (): Promise<void> => writeFile(resultsFile, JSON.stringify(results, null, 2) + '\n');
if (!results.some((r) => r.step === 0)) {
  const { model } = await Seq2SeqModel.load(policy, session);
  try {
    const v = await validate(model, tok, valid, reward, { strategy: 'greedy', maxNewTokens: maxLen }, 64);
    results.push({
      objective: '(start)',
      step: 0,
      kept: 0,
      threshold: '',
      reward: v.reward,
      bleu: v.bleu,
      tokensPerSecond: Number.NaN,
    });
    await save();
  } finally {
    await model.release();
  }
}

// ---- Improve: I steps per objective.
const bySource = new Map<string, { key: string; reward: number }[]>();
for (const c of all) {
  const list = bySource.get(c.sourceId) ?? [];
  list.push({ key: c.key, reward: c.reward });
  bySource.set(c.sourceId, list);
}
const groups: SourceSamples[] = [...bySource].map(([sourceId, samples]) => ({ sourceId, samples }));
const byKey = new Map(all.map((c) => [c.key, c]));
for (const objective of objectives) {
  let parent = policy;
  let previousTau: number | undefined;
  for (let i = 1; i <= improveSteps; i++) {
    const dir = join(work, objective, `i${i}`);
    const filter = filterImproveStep(groups, {
      schedule,
      stop: { minExamples: 1, minSourceCoverage: 0 },
      step: i,
      previousTau,
    });
    previousTau = filter.stats.tau?.used;
    const threshold =
      filter.stats.tau !== undefined
        ? `τ ${filter.stats.tau.used.toFixed(3)}`
        : `${schedule.kind} ${levels[i - 1]} (mean cut ${filter.stats.perSourceTau!.mean.toFixed(3)})`;
    const done = results.find((r) => r.objective === objective && r.step === i);
    if (done === undefined) {
      const train = filter.keys.map((k) => byKey.get(k)!);
      const spec: ImproveSpec = {
        jobId: `bench-${objective}-i${i}`,
        runId: '',
        grow: 1,
        improve: i,
        objective: {
          name: objective as ImproveSpec['objective']['name'],
          hyper: {},
          sampling: objective.startsWith('alol') ? 'priority' : 'uniform',
          pairSelection: 'best-worst',
          minRewardGap: IMPROVE_DEFAULTS.minRewardGap,
        },
        optimizer: {
          ...IMPROVE_DEFAULTS,
          learningRate: real('lr') * real('lr-decay') ** (i - 1),
          maxGradNorm: 1,
          dropout: real('dropout'),
          batchMaxTokens: int('batch-tokens'),
          maxSteps: int('steps'),
          evalEverySteps: int('eval-every'),
        },
        eval: { decoding: { strategy: 'greedy', maxNewTokens: maxLen }, maxSources: undefined },
        seed: int('seed'),
      };
      const r = await runImprove(
        spec,
        { policyDir: parent, referenceDir: policy, data: { train, all, valid }, reward },
        {
          checkpoints: new FolderCheckpointStore(join(dir, 'checkpoints')),
          outDir: join(dir, 'bundle'),
          session,
          lineage: { producer: 'bench/improve' },
          onEvent: (e) => {
            if (e.kind === 'info') console.error(`bench/improve: ${objective} i${i}: ${e.message}`);
            if (e.kind === 'eval')
              console.error(
                `bench/improve: ${objective} i${i} step ${e.point.step}: valid reward ${e.point.reward.toFixed(4)}, BLEU ${e.point.bleu.toFixed(2)}${e.best ? ' (best)' : ''}`,
              );
          },
        },
      );
      results.push({
        objective,
        step: i,
        kept: train.length,
        threshold,
        reward: r.best.reward,
        bleu: r.best.bleu,
        tokensPerSecond: r.tokensPerSecond,
      });
      await save();
    }
    parent = join(dir, 'bundle');
  }
}

// ---- The table.
const start = results.find((r) => r.step === 0)!;
console.log('| objective | Improve step | filter | kept | valid reward | BLEU | train tokens/s |');
console.log('|---|---|---|---|---|---|---|');
console.log(`| (start) | 0 | | | ${start.reward.toFixed(4)} | ${start.bleu.toFixed(2)} | |`);
for (const objective of objectives)
  for (const r of results.filter((x) => x.objective === objective).sort((x, y) => x.step - y.step))
    console.log(
      `| ${objective} | ${r.step} | ${r.threshold} | ${r.kept} | ${r.reward.toFixed(4)} | ${r.bleu.toFixed(2)} | ${Number.isFinite(r.tokensPerSecond) ? r.tokensPerSecond.toFixed(0) : '–'} |`,
    );
