/**
 * The Improve-step executor, shared by the trainer service and `rest train` (one code path): from a
 * starting policy bundle and the step's scored candidates to a new policy bundle.
 *
 *   A-LoL with a value head: decode validation with π_ref, fit the head, V(x) of every source
 *   prepare units (tokens, baselines, pairs, reference log-probs)
 *   → resume from the latest checkpoint, or start from the parent's parameters with fresh moments
 *   → step 1..maxSteps: batch → side inputs (GOLD's π̃, HyPO's online samples) → one fused train step
 *   → every evalEverySteps and at the last step: validate (mean reward, BLEU), keep the best parameters,
 *     checkpoint; in between, a checkpoint every checkpointEverySteps
 *   → the bundle of the best validation checkpoint (by mean reward) in `outDir`.
 *
 * The step count is the trainer state's own: a restart continues at the checkpoint's step and redoes
 * the steps after it, so a job always ends at exactly `maxSteps` optimizer updates. Batches are
 * functions of (seed, position), so the redone steps see the same data.
 *
 * It does not touch MongoDB or NATS: sources of data, checkpoint stores and event sinks are passed in.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  BUNDLE_FILES,
  loadCheckpoint,
  OPTIMIZER_SLOTS,
  ParamTable,
  readBundleManifest,
  Seq2SeqModel,
  hostTensor,
  Trainer,
  transformerParams,
  type HostTensor,
  writePolicyBundle,
  type BundleLineage,
  type DecodingOptions,
  type SessionOptions,
  type TrainState,
} from '@rest/runtime';
import { loadTokenizer, type Tokenizer } from '@rest/text';
import { FailedPreconditionError } from '@rest/service-kit';
import { parseObjectiveHyper } from '../objectives/registry.js';
import type { HypoHyper } from '../objectives/hypo.js';
import type { GoldHyper } from '../objectives/gold.js';
import { bvmpoKlWeight, type BvmpoHyper } from '../objectives/bvmpo.js';
import { batchRows, epochBatches, priorityBatch, rowFeeds } from './batches.js';
import type { Checkpoint, CheckpointStore, EvalPoint, LoopProgress } from './checkpoints.js';
import type { ImproveData, RewardFn, Unit, ValidItem } from './data.js';
import { translate, validate } from './evaluate.js';
import { encodeSources, fitValueHead } from '../objectives/value-head.js';
import { inputNames, prepareUnits } from './prepare.js';
import { LaggedPolicy, onlineSamples } from './side-inputs.js';
import { checkImproveSpec, learningRateAtStep, type ImproveSpec } from './spec.js';
import { BVMPO_DUAL_START, BVMPO_DUALS, improveForward, improveParamTable } from './step-graph.js';

/** A periodic training report (the service turns it into `improve.progress`). */
export interface ProgressReport {
  readonly step: number;
  readonly totalSteps: number;
  /** Mean loss over the steps since the previous report. */
  readonly loss: number;
  /** Target tokens per second of training (steps and side inputs) since the previous report. */
  readonly tokensPerSecond: number;
  readonly learningRate: number;
  readonly tokensSeen: number;
  /** Objective metrics (means since the previous report), `grad_norm`, and the latest `valid_*`. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** What the executor tells its caller. */
export type ImproveEvent =
  | { readonly kind: 'info'; readonly message: string }
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly totalSteps: number;
      readonly loss: number;
      readonly learningRate: number;
      readonly tokensPerSecond: number;
      readonly tokensSeen: number;
    }
  | { readonly kind: 'progress'; readonly report: ProgressReport }
  | { readonly kind: 'eval'; readonly point: EvalPoint; readonly best: boolean }
  | { readonly kind: 'checkpoint'; readonly step: number };

/** The policies and data of a step. */
export interface ExecutorInputs {
  /** Bundle folder of the starting policy; must hold `trainer/state.safetensors` and our config. */
  readonly policyDir: string;
  /** Bundle folder of the frozen reference policy π_ref (may be `policyDir`). */
  readonly referenceDir: string;
  readonly data: ImproveData;
  /** The run's reward, for validation outputs. */
  readonly reward: RewardFn;
}

/** Where things go and how often. */
export interface ExecutorOptions {
  readonly checkpoints: CheckpointStore;
  /** The new bundle is written here (replacing what is there). */
  readonly outDir: string;
  /** onnxruntime settings of training and decoding sessions. */
  readonly session?: SessionOptions;
  /** @default 20 */
  readonly progressEverySteps?: number;
  /** Checkpoints besides those at validations; 0: none. @default 0 */
  readonly checkpointEverySteps?: number;
  /** @default 64 */
  readonly evalBatchSize?: number;
  /** Recorded in the bundle's rest.json (metrics are added). */
  readonly lineage?: BundleLineage;
  readonly onEvent?: (e: ImproveEvent) => void | Promise<void>;
  /** Awaited between steps and decoding batches; throw to abort (e.g. a lost lease). */
  readonly heartbeat?: () => Promise<void>;
}

/** The outcome of a step. */
export interface ImproveResult {
  readonly bundleDir: string;
  /** Optimizer steps of the step (= spec.optimizer.maxSteps). */
  readonly steps: number;
  readonly tokensSeen: number;
  /** The chosen checkpoint's validation (the last step's when there are no validation sources). */
  readonly best: EvalPoint;
  /** The starting policy's validation, when it was run in this job. */
  readonly initial: EvalPoint | undefined;
  readonly history: readonly EvalPoint[];
  readonly units: number;
  /** The step a checkpoint was resumed from, if any. */
  readonly resumedFromStep: number | undefined;
  /** Target tokens per second over this process's training steps. */
  readonly tokensPerSecond: number;
}

function fingerprint(spec: ImproveSpec, units: readonly Unit[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([spec.jobId, spec.objective, spec.optimizer, spec.seed, units.length]));
  for (const u of units) for (const r of u.rows) h.update(`${r.sourceId}:${r.tgt.join(',')};`);
  return h.digest('hex').slice(0, 32);
}

/**
 * Runs (or resumes) one Improve step. Throws InvalidArgumentError for a bad spec, FailedPreconditionError
 * when the starting bundle cannot be trained (no trainer state, not ours) or no unit is left to train on,
 * and whatever the heartbeat, the reward or the runtime throws.
 */
export async function runImprove(
  spec: ImproveSpec,
  inputs: ExecutorInputs,
  opts: ExecutorOptions,
): Promise<ImproveResult> {
  checkImproveSpec(spec);
  const emit = async (e: ImproveEvent): Promise<void> => {
    await opts.onEvent?.(e);
  };
  const beat = async (): Promise<void> => {
    await opts.heartbeat?.();
  };
  const session = opts.session ?? {};
  const name = spec.objective.name;
  const hyper = parseObjectiveHyper(name, spec.objective.hyper);
  const manifest = await readBundleManifest(inputs.policyDir);
  const base = manifest.transformer;
  if (base === undefined || !manifest.hasTrainerState)
    throw new FailedPreconditionError(
      `policy bundle ${inputs.policyDir} has no ${base === undefined ? 'rest_transformer config' : BUNDLE_FILES.trainerState}: it cannot be trained`,
    );
  const config = { ...base, dropout: spec.optimizer.dropout };
  // BVMPO appends its duals: the policy's parameters are the first `policySize` of every buffer.
  const policyTable = new ParamTable(transformerParams(config));
  const table = improveParamTable(config, name);
  const policySize = policyTable.size;
  const policyOf = (params: Float32Array | Float64Array): Float32Array =>
    Float32Array.from(params.subarray(0, policySize));
  const defaults = manifest.generation;
  const tok = await loadTokenizer(inputs.policyDir);

  let reference: Seq2SeqModel | undefined;
  const openReference = async (): Promise<Seq2SeqModel> =>
    (reference ??= (await Seq2SeqModel.load(inputs.referenceDir, session)).model);
  const lagged =
    name === 'gold' ? new LaggedPolicy(config, defaults, session, new Float32Array(0)) : undefined;
  let trainer: Trainer | undefined;
  try {
    // Validation sources past the position table cannot be decoded; nor can outputs past it.
    const maxPositions = config.maxPositions ?? 512;
    const validItems = inputs.data.valid
      .filter((v) => tok.encode(v.source).length <= maxPositions)
      .slice(0, spec.eval.maxSources);
    if (validItems.length < Math.min(inputs.data.valid.length, spec.eval.maxSources ?? Infinity))
      await emit({ kind: 'info', message: 'validation sources longer than the position table are left out' });
    const evalDecoding = {
      ...spec.eval.decoding,
      maxNewTokens: Math.min(spec.eval.decoding.maxNewTokens ?? defaults.maxLength - 1, maxPositions - 1),
    };
    const evalBatch = opts.evalBatchSize ?? 64;

    const values =
      spec.objective.valueEstimate === 'head'
        ? await headValues(await openReference(), {
            tok,
            valid: validItems,
            all: inputs.data.all,
            reward: inputs.reward,
            decoding: evalDecoding,
            evalBatch,
            maxPositions,
            valueMax: spec.objective.valueMax ?? 1,
            seed: spec.seed,
            session,
            emit,
            beat,
          })
        : undefined;
    const prepared = await prepareUnits(inputs.data.train, inputs.data.all, hyper, {
      objective: spec.objective,
      tokenizer: tok,
      maxLength: maxPositions,
      reference: openReference,
      heartbeat: beat,
      ...(values === undefined ? {} : { values }),
    });
    const units = prepared.units;
    await emit({
      kind: 'info',
      message:
        `${units.length} training units from ${inputs.data.train.length} candidates over ${prepared.sources} sources ` +
        `(dropped: ${prepared.dropped.tooLong} too long, ${prepared.dropped.empty} empty, ${prepared.dropped.noAdvantage} A ≤ 0; ` +
        `${prepared.referenceScored} scored by the reference policy)`,
    });
    if (units.length === 0)
      throw new FailedPreconditionError(`Improve step ${spec.jobId}: no training units after preparation`);
    if (name !== 'hypo' && reference !== undefined) {
      await reference.release();
      reference = undefined;
    }
    const names = inputNames(name, hyper);
    const o = spec.optimizer;
    trainer = await Trainer.create(
      {
        table,
        dtype: 'f32',
        forward: improveForward(config, name, hyper),
        optimizer: 'adamw',
        // The schedule is applied on the host (learningRateAtStep) through hp.lr: the run spec's
        // constant-with-warm-up and linear-decay shapes are not graph schedules.
        schedule: { kind: 'constant' },
        clip: o.maxGradNorm !== undefined,
      },
      {
        lr: learningRateAtStep(o, 1),
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.epsilon,
        weightDecay: o.weightDecay,
        ...(o.maxGradNorm === undefined ? {} : { maxGradNorm: o.maxGradNorm }),
      },
      { ...session, seed: spec.seed },
    );
    // BVMPO: π_BC is the reference policy's parameters, π_old a snapshot of the trained ones
    // (table-sized, so checkpoints keep it as a slot), both fed as frozen inputs `bc.*` / `old.*`.
    const bvmpo =
      name === 'bvmpo'
        ? await bvmpoState(inputs.referenceDir, policyTable, table.size, hyper as BvmpoHyper)
        : undefined;
    const print = fingerprint(spec, units);
    const saved = await opts.checkpoints.load(table);
    let progress: LoopProgress;
    let best: Float32Array | undefined;
    let resumedFromStep: number | undefined;
    if (saved !== null && saved.progress.fingerprint === print) {
      trainer.loadState(saved.state);
      progress = saved.progress;
      const b = saved.state.slots.best;
      if (b !== undefined) best = Float32Array.from(b);
      if (lagged !== undefined)
        await lagged.refresh(Float32Array.from(saved.state.slots.lagged ?? trainer.parameters));
      if (bvmpo !== undefined) bvmpo.old.set(saved.state.slots.old ?? trainer.parameters);
      resumedFromStep = progress.step;
      await emit({ kind: 'info', message: `resuming at step ${progress.step} of ${o.maxSteps}` });
    } else {
      if (saved !== null)
        await emit({
          kind: 'info',
          message: 'ignoring a checkpoint of another job or data set; starting over',
        });
      const parent = await loadCheckpoint(join(inputs.policyDir, BUNDLE_FILES.trainerState), policyTable);
      const zeros = Object.fromEntries(OPTIMIZER_SLOTS.adamw.map((s) => [s, new Float32Array(table.size)]));
      const start = new Float32Array(table.size);
      start.set(parent.params);
      for (const d of BVMPO_DUALS)
        if (name === 'bvmpo')
          start.fill(BVMPO_DUAL_START, table.get(d.name).offset, table.get(d.name).offset + 1);
      trainer.loadState({ step: 0, params: start, slots: zeros });
      progress = {
        fingerprint: print,
        step: 0,
        epoch: 0,
        batchInEpoch: 0,
        tokensSeen: 0,
        lossSinceEval: { sum: 0, steps: 0 },
        best: null,
        history: [],
      };
      if (lagged !== undefined) await lagged.refresh(trainer.parameters as Float32Array);
      bvmpo?.old.set(trainer.parameters);
    }

    const validateNow = async (step: number, loss: number): Promise<EvalPoint | undefined> => {
      if (validItems.length === 0) return undefined;
      const model = await Seq2SeqModel.fromParams(config, policyOf(trainer!.parameters), defaults, session);
      try {
        const v = await validate(model, tok, validItems, inputs.reward, evalDecoding, evalBatch, beat);
        return { step, reward: v.reward, bleu: v.bleu, loss };
      } finally {
        await model.release();
      }
    };
    const checkpoint = async (): Promise<void> => {
      const live = trainer!.state();
      const slots = { ...live.slots };
      if (best !== undefined) slots.best = best;
      if (lagged !== undefined) slots.lagged = lagged.params;
      if (bvmpo !== undefined) slots.old = bvmpo.old;
      const state: TrainState = { step: live.step, params: live.params, slots };
      const c: Checkpoint = { progress, state };
      await opts.checkpoints.save(table, c);
      await emit({ kind: 'checkpoint', step: progress.step });
    };

    let initial: EvalPoint | undefined;
    if (progress.step === 0 && progress.history.length === 0) {
      initial = await validateNow(0, Number.NaN);
      if (initial !== undefined) {
        progress.history.push(initial);
        await emit({ kind: 'eval', point: initial, best: false });
      }
    }

    // Windows: progress reports and the loss between validations.
    const win = { steps: 0, loss: 0, tokens: 0, ms: 0, metrics: {} as Record<string, number> };
    let totalTokens = 0;
    let totalMs = 0;
    let latestValid: Record<string, number> = {};
    const epochCache = new Map<number, number[][]>();
    const nextBatch = (): number[] => {
      if (spec.objective.sampling === 'priority')
        return priorityBatch(units, o.batchMaxTokens, spec.seed, progress.step + 1);
      for (;;) {
        let batches = epochCache.get(progress.epoch);
        if (batches === undefined) {
          epochCache.clear();
          batches = epochBatches(units, o.batchMaxTokens, spec.seed, progress.epoch);
          epochCache.set(progress.epoch, batches);
        }
        if (progress.batchInEpoch < batches.length) return batches[progress.batchInEpoch++]!;
        progress.epoch++;
        progress.batchInEpoch = 0;
      }
    };
    const goldK = name === 'gold' ? (hyper as GoldHyper).lagRefreshSteps : 0;

    while (progress.step < o.maxSteps) {
      const step = progress.step + 1;
      const t0 = performance.now();
      const idx = nextBatch();
      const rows = batchRows(units, idx);
      const { feeds, tokens } = rowFeeds(rows, names, defaults.padTokenId, defaults.decoderStartTokenId);
      let stepTokens = tokens;
      if (lagged !== undefined) {
        if (progress.step > 0 && progress.step % goldK === 0)
          await lagged.refresh(trainer.parameters as Float32Array);
        feeds.lagged_logp = await lagged.feed(rows);
      }
      if (bvmpo !== undefined) {
        if (progress.step > 0 && progress.step % bvmpo.hyper.targetRefreshSteps === 0)
          bvmpo.old.set(trainer.parameters);
        Object.assign(feeds, bvmpo.frozen, {
          kl_weight: hostTensor('f32', [], Float32Array.of(bvmpoKlWeight(bvmpo.hyper, step, o.maxSteps))),
        });
      }
      if (name === 'hypo') {
        const h = hyper as HypoHyper;
        const online = await onlineSamples({
          config,
          defaults,
          session,
          params: Float32Array.from(trainer.parameters),
          reference: await openReference(),
          prompts: rows.slice(0, idx.length),
          k: h.onlineSamples,
          fraction: h.onlineSourceFraction,
          seed: spec.seed,
          step,
          maxNewTokens: Math.max(1, Math.min(defaults.maxLength - 1, (config.maxPositions ?? 512) - 1)),
        });
        Object.assign(feeds, online.feeds);
        stepTokens += online.tokens;
      }
      const lr = learningRateAtStep(o, step);
      trainer.hyper.lr = lr;
      const r = await trainer.trainStep(feeds);
      const dt = performance.now() - t0;
      if (!Number.isFinite(r.loss))
        throw new Error(`Improve step ${spec.jobId} diverged at step ${step} (loss ${r.loss})`);
      progress.step = trainer.step;
      progress.tokensSeen += stepTokens;
      totalTokens += stepTokens;
      totalMs += dt;
      win.steps++;
      win.loss += r.loss;
      win.tokens += stepTokens;
      win.ms += dt;
      for (const [k, v] of Object.entries(r.metrics)) win.metrics[k] = (win.metrics[k] ?? 0) + v;
      if (Number.isFinite(r.gradNorm)) win.metrics.grad_norm = (win.metrics.grad_norm ?? 0) + r.gradNorm;
      progress.lossSinceEval.sum += r.loss;
      progress.lossSinceEval.steps++;
      await emit({
        kind: 'step',
        step: progress.step,
        totalSteps: o.maxSteps,
        loss: r.loss,
        learningRate: lr,
        tokensPerSecond: (win.tokens / Math.max(win.ms, 1e-9)) * 1000,
        tokensSeen: progress.tokensSeen,
      });
      const last = progress.step >= o.maxSteps;
      let saved = false;
      if (progress.step % o.evalEverySteps === 0 || last) {
        const { sum, steps } = progress.lossSinceEval;
        const point = await validateNow(progress.step, sum / Math.max(1, steps));
        progress.lossSinceEval = { sum: 0, steps: 0 };
        if (point !== undefined) {
          progress.history.push(point);
          const isBest = progress.best === null || point.reward > progress.best.reward;
          if (isBest) {
            progress.best = point;
            best = Float32Array.from(trainer.parameters);
          }
          latestValid = { valid_reward_mean: point.reward, valid_bleu: point.bleu };
          await emit({ kind: 'eval', point, best: isBest });
        }
        await checkpoint();
        saved = true;
      }
      if (progress.step % (opts.progressEverySteps ?? 20) === 0 || last) {
        const metrics: Record<string, number> = {};
        for (const [k, v] of Object.entries(win.metrics)) metrics[k] = v / win.steps;
        Object.assign(metrics, latestValid);
        await emit({
          kind: 'progress',
          report: {
            step: progress.step,
            totalSteps: o.maxSteps,
            loss: win.loss / win.steps,
            tokensPerSecond: (win.tokens / Math.max(win.ms, 1e-9)) * 1000,
            learningRate: lr,
            tokensSeen: progress.tokensSeen,
            metrics,
          },
        });
        win.steps = 0;
        win.loss = 0;
        win.tokens = 0;
        win.ms = 0;
        win.metrics = {};
      }
      const every = opts.checkpointEverySteps ?? 0;
      if (!saved && every > 0 && progress.step % every === 0) await checkpoint();
      await beat();
    }

    // Without validation sources the last parameters are the result.
    const chosen: EvalPoint = progress.best ?? {
      step: progress.step,
      reward: Number.NaN,
      bleu: Number.NaN,
      loss: Number.NaN,
    };
    const params = policyOf(best ?? trainer.parameters);
    const first = progress.history.find((p) => p.step === 0);
    const metrics: Record<string, number> = { step: chosen.step, steps: progress.step };
    if (Number.isFinite(chosen.reward)) metrics.validRewardMean = chosen.reward;
    if (Number.isFinite(chosen.bleu)) metrics.validBleu = chosen.bleu;
    if (first !== undefined && Number.isFinite(first.reward)) metrics.validRewardInitial = first.reward;
    await writePolicyBundle(opts.outDir, {
      config,
      params,
      tokenizerDir: inputs.policyDir,
      trainerState: { step: chosen.step, params, slots: {} },
      lineage: {
        ...opts.lineage,
        ...(spec.runId === '' ? {} : { runId: spec.runId, growStep: spec.grow, improveStep: spec.improve }),
        metrics: { ...opts.lineage?.metrics, ...metrics },
      },
      generation: {
        maxLength: defaults.maxLength,
        numBeams: defaults.numBeams,
        lengthPenalty: defaults.lengthPenalty,
      },
    });
    return {
      bundleDir: opts.outDir,
      steps: progress.step,
      tokensSeen: progress.tokensSeen,
      best: chosen,
      initial: initial ?? first,
      history: progress.history,
      units: units.length,
      resumedFromStep,
      tokensPerSecond: totalMs > 0 ? (totalTokens / totalMs) * 1000 : Number.NaN,
    };
  } finally {
    await trainer?.release();
    await reference?.release();
    await lagged?.release();
  }
}

/**
 * A-LoL's value head (objectives/value-head.ts) for this step: decodes the validation sources with the
 * frozen reference policy (the run's evaluation decoding), fits the head on its encoder states to
 * the rewards of those outputs, and returns V(x) for every source of `all` that fits the position
 * table. Throws FailedPreconditionError when there are no validation sources to fit on.
 */
async function headValues(
  reference: Seq2SeqModel,
  o: {
    readonly tok: Tokenizer;
    readonly valid: readonly ValidItem[];
    readonly all: ImproveData['all'];
    readonly reward: RewardFn;
    readonly decoding: DecodingOptions;
    readonly evalBatch: number;
    readonly maxPositions: number;
    readonly valueMax: number;
    readonly seed: number;
    readonly session: SessionOptions;
    readonly emit: (e: ImproveEvent) => Promise<void>;
    readonly beat: () => Promise<void>;
  },
): Promise<Map<string, number>> {
  // A fifth of them is held out to pick the epoch: five give one.
  if (o.valid.length < 5)
    throw new FailedPreconditionError(
      `the value head is fitted to the reference policy's validation outputs: the step needs at least 5 validation sources, it has ${o.valid.length}`,
    );
  const t0 = performance.now();
  const outputs = await translate(
    reference,
    o.tok,
    o.valid.map((v) => v.source),
    o.decoding,
    o.evalBatch,
    o.beat,
  );
  const rewards = await o.reward(
    o.valid.map((v, i) => ({
      source: v.source,
      hypothesis: outputs[i]!,
      ...(v.reference === undefined ? {} : { reference: v.reference }),
    })),
  );
  // A reward above the head's range cannot be reached by its sigmoid: aim at the bound instead.
  const targets = rewards.map((r) => Math.min(Math.max(r, 0), o.valueMax));
  const encoded = await encodeSources(
    reference,
    o.valid.map((v) => o.tok.encode(v.source)),
    o.evalBatch,
    o.beat,
  );
  const head = await fitValueHead(encoded, targets, {
    valueMax: o.valueMax,
    seed: o.seed,
    session: o.session,
  });
  try {
    const ids = new Map<string, number[]>();
    for (const c of o.all) {
      if (ids.has(c.sourceId)) continue;
      const src = o.tok.encode(c.source);
      if (src.length > 0 && src.length <= o.maxPositions) ids.set(c.sourceId, src);
    }
    const keys = [...ids.keys()];
    const values = new Map<string, number>();
    // In chunks, so that the encoder states of a whole Grow are never held at once.
    const CHUNK = 1024;
    for (let k = 0; k < keys.length; k += CHUNK) {
      const chunk = keys.slice(k, k + CHUNK);
      const v = await head.values(
        await encodeSources(
          reference,
          chunk.map((id) => ids.get(id)!),
          o.evalBatch,
          o.beat,
        ),
      );
      chunk.forEach((id, i) => values.set(id, v[i]!));
    }
    const f = head.fit;
    const mean = [...values.values()].reduce((a, b) => a + b, 0) / Math.max(1, values.size);
    await o.emit({
      kind: 'info',
      message:
        `value head: fitted on the reference policy's outputs for ${f.trainExamples} validation sources ` +
        `(mean reward ${(targets.reduce((a, b) => a + b, 0) / targets.length).toFixed(4)}); ` +
        `held-out MSE ${f.heldOutMse.toFixed(5)} at epoch ${f.epoch} against ${f.heldOutMseOfMean.toFixed(5)} for the mean ` +
        `(${f.heldOutExamples} sources); V(x) of ${values.size} training sources, mean ${mean.toFixed(4)} ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    });
    return values;
  } finally {
    await head.release();
  }
}

/** BVMPO's frozen inputs: π_BC from the reference bundle, π_old's live snapshot (see the loop). */
async function bvmpoState(
  referenceDir: string,
  policyTable: ParamTable,
  tableSize: number,
  hyper: BvmpoHyper,
): Promise<{ hyper: BvmpoHyper; old: Float32Array; frozen: Record<string, HostTensor> }> {
  const manifest = await readBundleManifest(referenceDir);
  if (!manifest.hasTrainerState)
    throw new FailedPreconditionError(
      `bvmpo reads π_BC's parameters: the reference bundle ${referenceDir} has no ${BUNDLE_FILES.trainerState}`,
    );
  const behaviour = Float32Array.from(
    (await loadCheckpoint(join(referenceDir, BUNDLE_FILES.trainerState), policyTable)).params,
  );
  const old = new Float32Array(tableSize);
  const frozen: Record<string, HostTensor> = {};
  const oldViews = policyTable.views(old.subarray(0, policyTable.size));
  for (const [n, view] of policyTable.views(behaviour)) {
    const dims = policyTable.get(n).shape;
    frozen[`bc.${n}`] = hostTensor('f32', dims, view);
    frozen[`old.${n}`] = hostTensor('f32', dims, oldViews.get(n)!);
  }
  return { hyper, old, frozen };
}
