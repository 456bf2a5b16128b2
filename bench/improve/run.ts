/**
 * ReST on real data, one Grow and I Improve steps per objective, from a pretrained policy bundle:
 *
 *   Grow:    N samples per training source from the policy (ancestral sampling, temperature 0.8, the
 *            runtime's `generate`, the policy server's decoding), each scored by a metric reward
 *            against the source's reference (chrF / 100 by default); the references join D_g.
 *   Improve: for each objective, steps 1..I each start from the previous step's policy, keep the
 *            samples that pass the step's threshold (the coordinator's `filterImproveStep`), and train
 *            through the trainer's executor (`runImprove`, the code the service and `rest train` run)
 *            with a per-objective peak learning rate (times --lr-decay per step); π_ref is the starting
 *            policy, which also sampled D_g, so the samples' own log-probs serve as reference log-probs.
 *
 * Prints one table, objective × step: validation reward (mean reward of greedy or beam outputs) with its
 * standard error, the paired change from the previous step's policy on the same sentences with its
 * standard error, BLEU, output/reference length and training tokens/s (step 0 is the starting policy).
 * Everything lands in --work-dir: the flags (settings.json; other flags are refused there), the Grow
 * samples as a shard file, each step's checkpoints, bundle and per-sentence validation rewards, and
 * results.json; a rerun resumes where the previous one stopped.
 *
 *   nice -n 5 node --conditions=source --import tsx bench/improve/run.ts --policy policies/pretrained \
 *     [--objectives bc,alol,dpo,hypo] [--sources 1500] [--samples 8] [--steps 30] [--threads 0]
 *     [--pairs best-worst|min-gap] [--min-gap 0.1] [--hyper dpo.beta=0.5,hypo.klWeight=0.1]
 *     [--eval-decoding greedy|beam]
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  RUN_SPEC_DEFAULTS,
  filterImproveStep,
  type SourceSamples,
  type ThresholdSchedule,
} from '@rest/coordinator';
import { Seq2SeqModel, generate, readBundleManifest, type DecodingOptions } from '@rest/runtime';
import { loadTokenizer } from '@rest/text';
import {
  FolderCheckpointStore,
  IMPROVE_DEFAULTS,
  isMetricReward,
  isObjectiveName,
  parseObjectiveHyper,
  metricReward,
  parseShardFile,
  formatShardFile,
  runImprove,
  shardCandidates,
  validate,
  type ImproveSpec,
  type RewardFn,
  type RewardNormalization,
  type ShardFileLine,
} from '@rest/trainer';
import { formatTable, stats, type Row } from './report.js';

const { values: a } = parseArgs({
  options: {
    policy: { type: 'string' },
    objectives: { type: 'string', default: 'bc,alol,dpo,hypo' },
    'data-dir': { type: 'string', default: resolve('..', 'shared', 'data', 'multi30k') },
    'src-lang': { type: 'string', default: 'de' },
    'tgt-lang': { type: 'string', default: 'en' },
    sources: { type: 'string', default: '1500' },
    samples: { type: 'string', default: '8' },
    temperature: { type: 'string', default: '0.8' },
    reward: { type: 'string', default: 'chrf' },
    normalization: { type: 'string', default: 'clipped01' },
    'no-references': { type: 'boolean', default: false },
    'all-references': { type: 'boolean', default: false },
    schedule: { type: 'string', default: 'percentile:50,70,90' },
    'improve-steps': { type: 'string', default: '3' },
    steps: { type: 'string', default: '30' },
    'eval-every': { type: 'string', default: '10' },
    lr: { type: 'string', default: '1e-4,dpo=1e-5,hypo=1e-5' },
    warmup: { type: 'string', default: '5' },
    'lr-decay': { type: 'string', default: '1' },
    'lr-schedule': { type: 'string', default: 'constant' },
    'eval-decoding': { type: 'string', default: 'greedy' },
    pairs: { type: 'string', default: 'best-worst' },
    'value-estimate': { type: 'string', default: 'monte-carlo' },
    'alol-sampling': { type: 'string', default: 'priority' },
    'min-gap': { type: 'string', default: String(IMPROVE_DEFAULTS.minRewardGap) },
    hyper: { type: 'string', default: '' },
    'batch-tokens': { type: 'string', default: '1024' },
    dropout: { type: 'string', default: '0.1' },
    valid: { type: 'string', default: '1014' },
    'report-split': { type: 'string', default: 'test' },
    report: { type: 'string', default: '1000' },
    'max-len': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '0' },
    'work-dir': { type: 'string', default: '.rest/bench-improve' },
  },
});

const started = performance.now();
/** Progress on stderr, stamped with the seconds since start. */
const log = (message: string): void =>
  console.error(`bench/improve [${((performance.now() - started) / 1000).toFixed(0)} s]: ${message}`);
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
const metric = metricReward(a.reward as 'chrf', normalization);
// The executor reports only mean rewards; the per-sentence rewards of the latest validation are kept
// here (the reward is called for validation outputs only) for standard errors and paired differences.
let lastRewards: number[] = [];
let lastLengthRatio = Number.NaN;
const words = (t: string | undefined): number => (t ?? '').split(/\s+/).filter((w) => w !== '').length;
const reward: RewardFn = async (items) => {
  // Output words / reference words: chrF weighs recall twice precision, so length moves it.
  lastLengthRatio =
    items.reduce((n, x) => n + words(x.hypothesis), 0) / items.reduce((n, x) => n + words(x.reference), 0);
  return (lastRewards = await metric(items));
};
// `--lr 1e-4,dpo=1e-5`: a default and per-objective overrides (the peak of Improve step 1).
const lrs = new Map<string, number>();
for (const part of a.lr.split(',')) {
  const [k, v] = part.includes('=') ? part.split('=') : ['*', part];
  const x = Number(v);
  if (!(x > 0)) fail(`--lr: ${part} is not a positive learning rate`);
  lrs.set(k!.trim(), x);
}
if (!lrs.has('*')) fail('--lr needs a default (a plain number) besides objective=value overrides');
const LR_SCHEDULES = ['constant', 'linear', 'inverse-sqrt'] as const;
const lrSchedule =
  LR_SCHEDULES.find((x) => x === a['lr-schedule']) ??
  fail(`--lr-schedule must be one of ${LR_SCHEDULES.join(', ')}`);
const pairSelection =
  a.pairs === 'best-worst' || a.pairs === 'min-gap' ? a.pairs : fail('--pairs must be best-worst or min-gap');
const minRewardGap = real('min-gap');
if (a['value-estimate'] !== 'monte-carlo' && a['value-estimate'] !== 'head')
  fail('--value-estimate: monte-carlo or head');
const valueEstimate = a['value-estimate'] as 'monte-carlo' | 'head';
if (a['alol-sampling'] !== 'priority' && a['alol-sampling'] !== 'uniform')
  fail('--alol-sampling: priority or uniform');
const alolSampling = a['alol-sampling'] as 'priority' | 'uniform';
if (!(minRewardGap > 0)) fail('--min-gap must be > 0');
// `--hyper dpo.beta=0.5,hypo.klWeight=0.1`: per-objective hyperparameters (the objective validates them).
const hypers = new Map<string, Record<string, number | boolean>>();
for (const part of a.hyper.split(',').filter((x) => x.trim() !== '')) {
  const m = /^\s*([\w-]+)\.(\w+)=(.+)$/.exec(part);
  if (m === null) fail(`--hyper: ${part} is not objective.key=value`);
  const [, objective, key, raw] = m!;
  const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
  if (typeof value === 'number' && !Number.isFinite(value))
    fail(`--hyper: ${part} is not a number or boolean`);
  hypers.set(objective!, { ...hypers.get(objective!), [key!]: value });
}
for (const [objective, h] of hypers) {
  if (!objectives.includes(objective)) fail(`--hyper names ${objective}, which --objectives does not run`);
  try {
    parseObjectiveHyper(objective as ImproveSpec['objective']['name'], h);
  } catch (e) {
    fail(`--hyper: ${(e as Error).message}`);
  }
}
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
// Validation and report decoding: greedy, or the coordinator's default evaluation decoding (what a run
// validates with unless its spec says otherwise: beam 4, length penalty 0.6).
const runEval = RUN_SPEC_DEFAULTS.evalDecoding;
const evalDecoding: DecodingOptions =
  a['eval-decoding'] === 'greedy'
    ? { strategy: 'greedy', maxNewTokens: maxLen }
    : a['eval-decoding'] === 'beam'
      ? {
          strategy: 'beam',
          beamSize: runEval.numBeams,
          lengthPenalty: runEval.lengthPenalty,
          maxNewTokens: maxLen,
        }
      : fail('--eval-decoding must be greedy or beam');

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
const usable = (src: string[], ref: string[]) =>
  src
    .map((source, i) => ({ source, reference: ref[i]! }))
    .filter((v) => v.source.trim() !== '' && tok.encode(v.source).length <= maxLen);
// The trainer's validation set, on which each Improve step keeps its best checkpoint (the selection
// set), and the set the table reports: another split, so that the reported change of a step is not the
// maximum of several noisy validations on the same sentences; `--report-split valid` reports on the
// selection set itself (runs 1–7 did).
const valid = usable(validSrc!, validRef!).slice(0, int('valid'));
const reportSplit = a['report-split'];
const heldOut = reportSplit !== 'valid';
const reportSet = heldOut
  ? usable(
      ...((await Promise.all(
        [a['src-lang'], a['tgt-lang']].map((lang) => lines(join(dataDir, `${reportSplit}.${lang}`))),
      )) as [string[], string[]]),
    ).slice(0, int('report'))
  : valid;

// ---- Grow: N samples per source, scored; cached as a shard file.
// A work folder holds the results of one set of flags: resuming with others would mix them silently.
const settingsFile = join(work, 'settings.json');
const settings = {
  policy,
  grow: [a['src-lang'], a['tgt-lang'], a.sources, a.samples, a.temperature, a.reward, a.normalization],
  references: a['all-references'] ? 'all' : !a['no-references'],
  // Recorded only when set, so that work folders from before these flags still resume.
  ...(pairSelection === 'min-gap' ? { pairs: [pairSelection, minRewardGap] } : {}),
  ...(a.hyper !== '' ? { hyper: a.hyper } : {}),
  ...(a['eval-decoding'] !== 'greedy' ? { evalDecoding: evalDecoding } : {}),
  ...(a['value-estimate'] !== 'monte-carlo' ? { valueEstimate: a['value-estimate'] } : {}),
  ...(a['alol-sampling'] !== 'priority' ? { alolSampling: a['alol-sampling'] } : {}),
  improve: [
    a.schedule,
    a.steps,
    a['eval-every'],
    a.lr,
    a.warmup,
    a['lr-decay'],
    ...(a['lr-schedule'] === 'constant' ? [] : [a['lr-schedule']]),
    a['batch-tokens'],
    a.dropout,
  ],
  valid: a.valid,
  ...(heldOut ? { report: [reportSplit, a.report] } : {}),
  maxLen: a['max-len'],
  seed: a.seed,
};
if (existsSync(settingsFile)) {
  const before = JSON.parse(await readFile(settingsFile, 'utf8')) as Record<string, unknown>;
  const changed = Object.keys(settings).filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(settings[k as keyof typeof settings]),
  );
  if (changed.length > 0)
    fail(`${work} holds a run with other settings (${changed.join(', ')}): pick another --work-dir`);
} else await writeFile(settingsFile, JSON.stringify(settings, null, 2) + '\n');
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
      if ((k / 16) % 20 === 0) log(`Grow ${Math.min(k + 16, sources.length)}/${sources.length} sources`);
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
  log(
    `Grow done: ${out.length} candidates in ${secs.toFixed(0)} s (${(tokens / secs).toFixed(0)} sampled tokens/s)`,
  );
}
// A Grow file copied in from a run with references keeps them out here too under --no-references.
const growLines = parseShardFile(await readFile(growFile, 'utf8'), growFile).filter(
  (l) => !(a['no-references'] && l.isReference === true),
);
if (a['all-references'] && a['no-references'])
  fail('--all-references and --no-references exclude each other');
// D_g = D ∪ samples (ALGORITHMS 2.1): every other training pair joins as a reference too, scored
// like the rest (1 under a reference metric). A source with a reference only has no per-source cut,
// baseline or pair, so these join the filter objectives' D_i (see below) and nothing else.
const grown = new Set(growLines.map((l) => l.sourceId));
const extra: ShardFileLine[] = a['all-references']
  ? trainSrc!.flatMap((source, i) =>
      grown.has(String(i)) || source.trim() === '' || tok.encode(source).length > maxLen
        ? []
        : [{ source, hypothesis: trainRef![i]!, reward: Number.NaN, sourceId: String(i), isReference: true }],
    )
  : [];
if (extra.length > 0) {
  const r = await metric(
    extra.map((l) => ({ source: l.source, hypothesis: l.hypothesis, reference: l.hypothesis })),
  );
  extra.forEach((l, k) => (l.reward = r[k]!));
}
const { all } = shardCandidates([...growLines, ...extra], { behaviourIsReference: true });
const extraKeys = all.filter((c) => !grown.has(c.sourceId)).map((c) => c.key);
const meanGrow =
  all.filter((c) => !c.isReference).reduce((s, c) => s + c.reward, 0) /
  all.filter((c) => !c.isReference).length;
log(
  `D_g has ${all.length} candidates (${extraKeys.length} references of sources not grown), mean sample reward ${meanGrow.toFixed(4)}`,
);

// ---- Step 0: the starting policy.
const resultsFile = join(work, 'results.json');
const results: Row[] = existsSync(resultsFile)
  ? (JSON.parse(await readFile(resultsFile, 'utf8')) as Row[])
  : [];
const save = (): Promise<void> => writeFile(resultsFile, JSON.stringify(results, null, 2) + '\n');
// Per-sentence validation rewards of each policy, for paired differences between steps.
const rewardsFile = (objective: string, step: number): string =>
  step === 0 ? join(work, 'valid-rewards.json') : join(work, objective, `i${step}`, 'valid-rewards.json');
const readRewards = async (objective: string, step: number): Promise<number[]> =>
  JSON.parse(await readFile(rewardsFile(objective, step), 'utf8')) as number[];
const validateBundle = async (
  dir: string,
): Promise<{ rewards: number[]; bleu: number; lengthRatio: number }> => {
  const { model } = await Seq2SeqModel.load(dir, session);
  try {
    const v = await validate(model, tok, reportSet, reward, evalDecoding, 64);
    return { rewards: lastRewards, bleu: v.bleu, lengthRatio: lastLengthRatio };
  } finally {
    await model.release();
  }
};
// The load average, sampled while the bench runs (the machine is shared).
const loads: number[] = [loadavg()[0]!];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 30_000);
sampler.unref();
if (!results.some((r) => r.step === 0)) {
  const t = performance.now();
  const v = await validateBundle(policy);
  await writeFile(rewardsFile('', 0), JSON.stringify(v.rewards));
  const s = stats(v.rewards);
  results.push({
    objective: '(start)',
    step: 0,
    kept: 0,
    threshold: '',
    lr: Number.NaN,
    reward: s.mean,
    rewardSe: s.se,
    delta: Number.NaN,
    deltaSe: Number.NaN,
    bleu: v.bleu,
    lengthRatio: v.lengthRatio,
    tokensPerSecond: Number.NaN,
    seconds: (performance.now() - t) / 1000,
  });
  await save();
  log(
    `start: ${reportSplit} reward ${s.mean.toFixed(4)} ± ${s.se.toFixed(4)}, BLEU ${v.bleu.toFixed(2)} (${reportSet.length} sentences)`,
  );
}

// ---- Improve: I steps per objective.
const bySource = new Map<string, { key: string; reward: number }[]>();
// The filter sees the grown sources; the references of the others join filter objectives whole.
for (const c of all.filter((x) => grown.has(x.sourceId))) {
  const list = bySource.get(c.sourceId) ?? [];
  list.push({ key: c.key, reward: c.reward });
  bySource.set(c.sourceId, list);
}
const groups: SourceSamples[] = [...bySource].map(([sourceId, samples]) => ({ sourceId, samples }));
const byKey = new Map(all.map((c) => [c.key, c]));
for (const objective of objectives) {
  let parent = policy;
  let previousTau: number | undefined;
  const lr = lrs.get(objective) ?? lrs.get('*')!;
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
      const t = performance.now();
      const filterObjective = !/^(alol|r-lol|dpo|hypo)/.test(objective);
      const train = [...filter.keys, ...(filterObjective ? extraKeys : [])].map((k) => byKey.get(k)!);
      const spec: ImproveSpec = {
        jobId: `bench-${objective}-i${i}`,
        runId: '',
        grow: 1,
        improve: i,
        objective: {
          name: objective as ImproveSpec['objective']['name'],
          hyper: hypers.get(objective) ?? {},
          sampling: objective.startsWith('alol') ? alolSampling : 'uniform',
          pairSelection,
          minRewardGap,
          ...(objective.startsWith('alol') ? { valueEstimate } : {}),
        },
        optimizer: {
          ...IMPROVE_DEFAULTS,
          learningRate: lr * real('lr-decay') ** (i - 1),
          schedule: lrSchedule,
          warmupSteps: int('warmup'),
          maxGradNorm: 1,
          dropout: real('dropout'),
          batchMaxTokens: int('batch-tokens'),
          maxSteps: int('steps'),
          evalEverySteps: int('eval-every'),
        },
        eval: { decoding: evalDecoding, maxSources: undefined },
        seed: int('seed'),
      };
      const evalRewards = new Map<number, { rewards: number[]; lengthRatio: number }>();
      const r = await runImprove(
        spec,
        { policyDir: parent, referenceDir: policy, data: { train, all, valid }, reward },
        {
          checkpoints: new FolderCheckpointStore(join(dir, 'checkpoints')),
          outDir: join(dir, 'bundle'),
          session,
          progressEverySteps: 10,
          lineage: { producer: 'bench/improve' },
          onEvent: (e) => {
            if (e.kind === 'info') log(`${objective} i${i}: ${e.message}`);
            if (e.kind === 'progress')
              log(
                `${objective} i${i} step ${e.report.step}/${e.report.totalSteps}: loss ${e.report.loss.toFixed(4)}, ${e.report.tokensPerSecond.toFixed(0)} tokens/s`,
              );
            if (e.kind === 'eval') {
              evalRewards.set(e.point.step, { rewards: lastRewards, lengthRatio: lastLengthRatio });
              log(
                `${objective} i${i} step ${e.point.step}: valid reward ${e.point.reward.toFixed(4)}, BLEU ${e.point.bleu.toFixed(2)}${e.best ? ' (best)' : ''}`,
              );
            }
          },
        },
      );
      // Every chain starts from the same policy: the first to validate it gives the start row its
      // reward on the selection set, the bar its first kept checkpoint had to clear.
      const startRow = results.find((x) => x.step === 0)!;
      if (heldOut && startRow.selected === undefined && r.initial !== undefined)
        startRow.selected = { step: 0, reward: r.initial.reward };
      // A step resumed after its best validation has no per-sentence rewards for it: re-validate. A
      // held-out report set is always validated here.
      const kept = heldOut ? undefined : evalRewards.get(r.best.step);
      const reported =
        kept === undefined ? await validateBundle(r.bundleDir) : { ...kept, bleu: r.best.bleu };
      const { rewards, lengthRatio } = reported;
      if (heldOut)
        log(
          `${objective} i${i}: kept step ${r.best.step} (valid ${r.best.reward.toFixed(4)}); ${reportSplit} reward ${stats(rewards).mean.toFixed(4)}, BLEU ${reported.bleu.toFixed(2)}`,
        );
      await writeFile(rewardsFile(objective, i), JSON.stringify(rewards));
      const before = await readRewards(objective, i - 1);
      const s = stats(rewards);
      const d = stats(rewards.map((x, k) => x - before[k]!));
      results.push({
        objective,
        step: i,
        kept: train.length,
        threshold,
        lr: spec.optimizer.learningRate,
        reward: s.mean,
        rewardSe: s.se,
        delta: d.mean,
        deltaSe: d.se,
        bleu: reported.bleu,
        lengthRatio,
        tokensPerSecond: r.tokensPerSecond,
        seconds: (performance.now() - t) / 1000,
        ...(heldOut ? { selected: { step: r.best.step, reward: r.best.reward } } : {}),
      });
      await save();
    }
    parent = join(dir, 'bundle');
  }
}
clearInterval(sampler);
loads.push(loadavg()[0]!);

// ---- The table.
const start = results.find((r) => r.step === 0)!;
console.log(
  formatTable(
    start,
    objectives.flatMap((o) => results.filter((x) => x.objective === o).sort((x, y) => x.step - y.step)),
    heldOut ? reportSplit : 'valid',
    heldOut ? 'valid' : undefined,
  ),
);
const meanLoad = loads.reduce((s, x) => s + x, 0) / loads.length;
console.log(
  `\n${heldOut ? `${reportSet.length} ${reportSplit} sentences reported, ${valid.length} valid sentences for checkpoint selection` : `${valid.length} validation sentences`}; wall ${((performance.now() - started) / 1000).toFixed(0)} s in this process; ` +
    `1-min load average ${meanLoad.toFixed(1)} (min ${Math.min(...loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}) on ${availableParallelism()} cores`,
);
