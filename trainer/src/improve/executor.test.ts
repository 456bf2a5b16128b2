// The executor on the toy task with a tiny policy (temporary folders only): an interrupted and resumed
// step ends exactly where an uninterrupted one does, and every supported objective trains and validates.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundleManifest } from '@rest/runtime';
import { tinyConfig, tinyPolicy, toyCandidates, toyCorpus, toyValid } from '../testing.js';
import { FolderCheckpointStore } from './checkpoints.js';
import type { ImproveData } from './data.js';
import { runImprove, type ImproveEvent } from './executor.js';
import { metricReward } from './metric-reward.js';
import { IMPROVE_DEFAULTS, SUPPORTED_OBJECTIVES, type ImproveSpec } from './spec.js';
import { BVMPO_DUAL_START, BVMPO_DUALS, improveParamTable } from './step-graph.js';

/** Largest parameter difference between an interrupted-and-resumed step and an uninterrupted one. */
const RESUME_TOLERANCE = 1e-6;

let dir = '';
let policy = '';
let data: ImproveData;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-executor-'));
  policy = await tinyPolicy(join(dir, 'policy'));
  const all = toyCandidates(toyCorpus(16, 5), 4, 7, true);
  data = { train: all.filter((c) => c.reward >= 0.5), all, valid: toyValid(3, 3) };
});
after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function spec(name: ImproveSpec['objective']['name'], maxSteps: number, evalEverySteps: number): ImproveSpec {
  return {
    jobId: `t-${name}`,
    runId: '',
    grow: 0,
    improve: 0,
    objective: { name, hyper: {}, sampling: 'uniform', pairSelection: 'best-worst', minRewardGap: 0.1 },
    optimizer: {
      ...IMPROVE_DEFAULTS,
      learningRate: 3e-3,
      maxGradNorm: 1,
      dropout: 0,
      batchMaxTokens: 120,
      maxSteps,
      evalEverySteps,
    },
    eval: { decoding: { strategy: 'greedy', maxNewTokens: 12 }, maxSources: undefined },
    seed: 4,
  };
}

const inputs = (): Parameters<typeof runImprove>[1] => ({
  policyDir: policy,
  referenceDir: policy,
  data,
  reward: metricReward('chrf', 'clipped01'),
});

/**
 * Runs objective `name` for 8 steps whole, and again killed after step 6 (its last checkpoint is
 * step 4's) and resumed; checks both end alike and returns the final checkpoint's parameters.
 */
async function interruptedMatchesWhole(
  name: ImproveSpec['objective']['name'],
  hyper: Record<string, unknown> = {},
): Promise<Float32Array | Float64Array> {
  const table = improveParamTable(tinyConfig((await readBundleManifest(policy)).vocabSize), name);
  const s = { ...spec(name, 8, 4), objective: { ...spec(name, 8, 4).objective, hyper } };
  const whole = new FolderCheckpointStore(join(dir, `ck-whole-${name}`));
  const a = await runImprove(s, inputs(), {
    checkpoints: whole,
    outDir: join(dir, `out-whole-${name}`),
    session: { intraOpThreads: 1 },
  });
  assert.equal(a.steps, 8);
  assert.equal(a.resumedFromStep, undefined);

  const parts = new FolderCheckpointStore(join(dir, `ck-parts-${name}`));
  let stepsSeen = 0;
  await assert.rejects(
    runImprove(s, inputs(), {
      checkpoints: parts,
      outDir: join(dir, `out-parts-${name}`),
      session: { intraOpThreads: 1 },
      onEvent: (e: ImproveEvent) => {
        if (e.kind === 'step') stepsSeen = e.step;
      },
      // Dies after step 6: the last checkpoint is step 4's, so steps 5 and 6 are lost and redone.
      heartbeat: () => (stepsSeen >= 6 ? Promise.reject(new Error('killed')) : Promise.resolve()),
    }),
    /killed/,
  );
  assert.equal((await parts.load(table))!.progress.step, 4);
  const b = await runImprove(s, inputs(), {
    checkpoints: parts,
    outDir: join(dir, `out-parts-${name}`),
    session: { intraOpThreads: 1 },
  });
  assert.equal(b.resumedFromStep, 4);
  assert.equal(b.steps, a.steps);
  assert.equal(b.tokensSeen, a.tokensSeen);
  assert.deepEqual(
    b.history.map((p) => p.step),
    a.history.map((p) => p.step),
  );
  const pa = (await whole.load(table))!.state.params;
  const pb = (await parts.load(table))!.state.params;
  let worst = 0;
  for (let i = 0; i < pa.length; i++) worst = Math.max(worst, Math.abs(pa[i]! - pb[i]!));
  assert.ok(worst <= RESUME_TOLERANCE, `${name} params: max |Δ| ${worst} > ${RESUME_TOLERANCE}`);
  assert.equal(b.best.step, a.best.step);
  assert.equal(b.best.loss, a.best.loss);
  return pa;
}

test('runImprove: an interrupted step resumes from its checkpoint and ends at the same step, tokens and parameters', async () => {
  await interruptedMatchesWhole('bc');
});

test('runImprove: bvmpo trains its duals beside the policy and resumes with its π_old snapshot', async () => {
  // π_old is refreshed after steps 3 and 6: the resumed run redoes 5 and 6 with step 3's snapshot,
  // which only the checkpoint holds.
  const params = await interruptedMatchesWhole('bvmpo', { targetRefreshSteps: 3 });
  const table = improveParamTable(tinyConfig((await readBundleManifest(policy)).vocabSize), 'bvmpo');
  for (const d of BVMPO_DUALS) {
    const raw = params[table.get(d.name).offset]!;
    assert.ok(Number.isFinite(raw) && Math.abs(raw - BVMPO_DUAL_START) > 1e-6, `${d.name} stayed at ${raw}`);
  }
  // The bundle holds the policy alone.
  const m = await readBundleManifest(join(dir, 'out-whole-bvmpo'));
  assert.equal(m.lineage.metrics?.steps, 8);
});

test('runImprove: every supported objective trains, validates and writes a bundle', async () => {
  for (const name of SUPPORTED_OBJECTIVES) {
    const losses: number[] = [];
    const r = await runImprove(spec(name, 2, 2), inputs(), {
      checkpoints: new FolderCheckpointStore(join(dir, `ck-${name}`)),
      outDir: join(dir, `out-${name}`),
      onEvent: (e: ImproveEvent) => {
        if (e.kind === 'step') losses.push(e.loss);
      },
    });
    assert.equal(r.steps, 2, name);
    assert.ok(losses.length === 2 && losses.every(Number.isFinite), `${name}: losses ${losses.join(', ')}`);
    assert.ok(Number.isFinite(r.best.reward), `${name}: validation reward`);
    const m = await readBundleManifest(r.bundleDir);
    assert.equal(m.lineage.metrics?.steps, 2, name);
  }
});

test('runImprove: alol with a value head fits it on the reference policy’s validation outputs and trains on its advantages', async () => {
  const messages: string[] = [];
  const s = spec('alol', 2, 2);
  const r = await runImprove(
    { ...s, objective: { ...s.objective, valueEstimate: 'head' } },
    { ...inputs(), data: { ...data, valid: toyValid(20, 9) } },
    {
      checkpoints: new FolderCheckpointStore(join(dir, 'ck-alol-head')),
      outDir: join(dir, 'out-alol-head'),
      onEvent: (e: ImproveEvent) => {
        if (e.kind === 'info') messages.push(e.message);
      },
    },
  );
  assert.equal(r.steps, 2);
  assert.ok(Number.isFinite(r.best.reward));
  const fit = messages.find((m) => m.startsWith('value head: fitted'));
  assert.ok(fit !== undefined, messages.join('\n'));
  // 20 validation sources: 16 fit the head, 4 pick its epoch; every training source gets a value.
  assert.match(fit, /outputs for 16 validation sources .*\(4 sources\); V\(x\) of 16 training sources/);
  // Four validation sources are too few to hold one out.
  await assert.rejects(
    runImprove(
      { ...s, jobId: 't-alol-head-1', objective: { ...s.objective, valueEstimate: 'head' } },
      { ...inputs(), data: { ...data, valid: toyValid(4, 9) } },
      {
        checkpoints: new FolderCheckpointStore(join(dir, 'ck-alol-head-1')),
        outDir: join(dir, 'out-alol-head-1'),
      },
    ),
    /needs at least 5 validation sources, it has 4/,
  );
});
