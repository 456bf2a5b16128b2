/**
 * A run's stored spec (proto3 JSON of rest.v1.RunSpec, conventions) read for display: resolved with
 * the coordinator's own parser, so the report shows the defaults the run used, and described as
 * label/value rows. A spec that no longer parses (written by another version) still yields what the
 * tolerant proto3 JSON reader finds, plus the parser's complaint, so an old run stays reportable.
 */
import { parseRunSpec, type DecodingSpec, type RunSpec, type ThresholdSchedule } from '@rest/coordinator';
import { runSpec as wire } from '@rest/proto';

/** The threshold schedule's kind and its per-step values (τ, percentile p, or γ). */
export interface ScheduleFacts {
  readonly kind: ThresholdSchedule['kind'];
  /** One value per Improve step. */
  readonly values: readonly number[];
}

/** What the report and the inspector need from a spec. */
export interface SpecFacts {
  /** The resolved spec, or undefined when the stored one does not parse. */
  readonly resolved: RunSpec | undefined;
  /** Why the spec could not be resolved. */
  readonly problem: string | undefined;
  readonly rewardModel: string | undefined;
  readonly normalization: string | undefined;
  readonly growSteps: number | undefined;
  readonly improveSteps: number | undefined;
  /** N. */
  readonly samplesPerSource: number | undefined;
  readonly schedule: ScheduleFacts | undefined;
  readonly dataset: { readonly name: string; readonly trainSplit: string } | undefined;
  /** Label/value rows of the run summary. */
  readonly rows: readonly (readonly [string, string])[];
}

const NORMALIZATION_NAMES: Readonly<Record<string, string>> = {
  NORMALIZATION_RAW: 'raw',
  NORMALIZATION_CLIPPED_01: 'clipped01',
  NORMALIZATION_ZSCORE: 'zscore',
};

/** Short human form of decoding settings, e.g. `sample, T 0.8, ≤ 128 tokens`. */
export function describeDecoding(d: DecodingSpec): string {
  const parts: string[] = [d.strategy];
  if (d.strategy === 'sample') {
    parts.push(`temperature ${d.temperature}`);
    if (d.topK > 0) parts.push(`top-k ${d.topK}`);
    if (d.topP < 1) parts.push(`top-p ${d.topP}`);
  }
  if (d.strategy === 'beam') parts.push(`${d.numBeams} beams`, `length penalty ${d.lengthPenalty}`);
  parts.push(`≤ ${d.maxNewTokens} tokens`, `${d.numReturnSequences} per source`);
  return parts.join(', ');
}

function describeSchedule(t: ThresholdSchedule): string {
  switch (t.kind) {
    case 'fixed':
      return `fixed τ = ${t.thresholds.join(', ')} (${t.meanGuard ? 'with' : 'without'} the τ₁ > mean guard)`;
    case 'percentile':
      return `per-source percentile p = ${t.percentiles.join(', ')}`;
    case 'interpolation':
      return `per-source mean→max interpolation γ = ${t.gammas.join(', ')}`;
  }
}

function scheduleValues(t: ThresholdSchedule): ScheduleFacts {
  switch (t.kind) {
    case 'fixed':
      return { kind: t.kind, values: t.thresholds };
    case 'percentile':
      return { kind: t.kind, values: t.percentiles };
    case 'interpolation':
      return { kind: t.kind, values: t.gammas };
  }
}

function resolvedRows(s: RunSpec): [string, string][] {
  const { name, referencePolicyId, ...hyper } = s.objective;
  const o = s.optimizer;
  const d = s.dataset;
  return [
    ['display name', s.displayName === '' ? '–' : s.displayName],
    [
      'dataset',
      `${d.name} (train: ${d.trainSplit}, valid: ${d.validSplit}, test: ${d.testSplit}` +
        `${d.maxTrainSources === undefined ? '' : `, first ${d.maxTrainSources} sources`})`,
    ],
    ['base policy', s.basePolicyId],
    ['reward', `${s.reward.model} (${s.reward.normalization})`],
    ['steps', `G = ${s.growSteps} Grow × I = ${s.improveSteps} Improve`],
    ['samples per source (N)', String(s.samplesPerSource)],
    ['include references', s.includeReferences ? 'yes' : 'no'],
    ['thresholds', describeSchedule(s.thresholds)],
    [
      'improve stop rule',
      `fewer than ${s.improveStop.minExamples} examples or source coverage below ${s.improveStop.minSourceCoverage}` +
        (s.continueWithoutGain ? '' : ', or a step not above its parent on validation'),
    ],
    ['grow decoding', describeDecoding(s.growDecoding)],
    [
      'objective',
      `${name} (reference policy ${referencePolicyId})` +
        (Object.keys(hyper).length === 0 ? '' : ` ${JSON.stringify(hyper)}`),
    ],
    [
      'optimizer',
      `lr ${o.learningRate} × ${o.lrDecayPerImprove} per Improve step, ${o.lrSchedule}, ` +
        `≤ ${o.maxStepsPerImprove} steps, ${o.batchMaxTokens} tokens per batch`,
    ],
    [
      'evaluation',
      `${describeDecoding(s.eval.decoding)}; metrics: ${s.eval.metrics.length === 0 ? '–' : s.eval.metrics.join(', ')}` +
        (s.eval.maxSources === undefined ? '' : `; first ${s.eval.maxSources} sources`),
    ],
    ['seed', s.seed === undefined ? '–' : s.seed.toString()],
  ];
}

function fromResolved(s: RunSpec): SpecFacts {
  return {
    resolved: s,
    problem: undefined,
    rewardModel: s.reward.model,
    normalization: s.reward.normalization,
    growSteps: s.growSteps,
    improveSteps: s.improveSteps,
    samplesPerSource: s.samplesPerSource,
    schedule: scheduleValues(s.thresholds),
    dataset: { name: s.dataset.name, trainSplit: s.dataset.trainSplit },
    rows: resolvedRows(s),
  };
}

/** What the tolerant reader finds in a spec the parser rejects. */
function fromWire(stored: Readonly<Record<string, unknown>>, problem: string): SpecFacts {
  let w: wire.RunSpec | undefined;
  try {
    w = wire.RunSpec.fromJSON(stored);
  } catch {
    w = undefined;
  }
  const positive = (n: number | undefined): number | undefined => (n !== undefined && n > 0 ? n : undefined);
  const t = w?.thresholdSchedule?.schedule;
  const schedule: ScheduleFacts | undefined =
    t === undefined
      ? undefined
      : t.$case === 'fixed'
        ? { kind: 'fixed', values: t.fixed.thresholds }
        : t.$case === 'percentile'
          ? { kind: 'percentile', values: t.percentile.percentiles }
          : { kind: 'interpolation', values: t.interpolation.gammas };
  const rawNorm = typeof stored['reward'] === 'object' ? (stored['reward'] as Record<string, unknown>) : {};
  const normalization =
    typeof rawNorm['normalization'] === 'string'
      ? NORMALIZATION_NAMES[rawNorm['normalization']]
      : 'clipped01';
  const rows: [string, string][] = Object.entries(stored).map(([k, v]) => {
    const text = JSON.stringify(v);
    return [k, text.length > 200 ? `${text.slice(0, 200)}…` : text];
  });
  rows.push(['spec problem', problem]);
  return {
    resolved: undefined,
    problem,
    rewardModel: w?.reward?.model === '' ? undefined : w?.reward?.model,
    normalization,
    growSteps: positive(w?.growSteps),
    improveSteps: positive(w?.improveSteps),
    samplesPerSource: positive(w?.samplesPerSource),
    schedule,
    dataset:
      w?.dataset === undefined || w.dataset.name === ''
        ? undefined
        : { name: w.dataset.name, trainSplit: w.dataset.trainSplit === '' ? 'train' : w.dataset.trainSplit },
    rows,
  };
}

/** Reads a stored spec; never throws (an unreadable spec is described, not fatal). */
export function readSpec(stored: Readonly<Record<string, unknown>>): SpecFacts {
  try {
    return fromResolved(parseRunSpec(wire.RunSpec.fromJSON(stored), 'run.spec'));
  } catch (err) {
    return fromWire(stored, err instanceof Error ? err.message : String(err));
  }
}
