/**
 * Turns an Improve step's scored candidates into training units: token ids, per-source baselines V(x)
 * (Monte-Carlo: from every scored candidate of the source, not just the filtered ones; or the value
 * head's, when the executor fitted one), DPO pairs
 * for the pair objectives, and the frozen reference policy's log-probs where the objective reads them
 * (`scoreTargets`, batched; skipped for candidates whose behaviour policy is the reference).
 *
 * Which candidates: row objectives train on D_i (the filtered candidates); the A-LoL family keeps only
 * those with A = R − V(x) > 0 (their loss is zero otherwise); DPO/HyPO build pairs from all scored
 * candidates of the sources in D_i, since a rejected y_l rarely clears the threshold.
 */
import { scoreTargets, type Seq2SeqModel } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';
import { buildPreferencePairs, type PairSource } from '@rest/coordinator';
import { monteCarloValues } from '../objectives/mc-baseline.js';
import { objectiveInputs, type ObjectiveName, type ObjectiveHyper } from '../objectives/registry.js';
import type { Row, ScoredCandidate, Unit } from './data.js';
import { ADVANTAGE_OBJECTIVES, PAIR_OBJECTIVES, type ObjectiveChoice } from './spec.js';

/** What {@link prepareUnits} needs besides the data. */
export interface PrepareOptions {
  readonly objective: ObjectiveChoice;
  readonly tokenizer: Tokenizer;
  /** Longest source or target accepted (the model's position table); longer candidates are dropped. */
  readonly maxLength: number;
  /** Opens the reference policy (called at most once, only when a log-prob is needed). */
  readonly reference: () => Promise<Seq2SeqModel>;
  /** Called between scoring batches (heartbeats, cancellation). */
  readonly heartbeat?: () => Promise<void>;
  /** Pairs scored per reference forward. @default 32 */
  readonly scoreBatch?: number;
  /**
   * V(x) by source id (the value head's); a source without one gets its Monte-Carlo baseline.
   * @default the Monte-Carlo baselines
   */
  readonly values?: ReadonlyMap<string, number>;
}

/** The units and what was left out. */
export interface PreparedUnits {
  readonly units: Unit[];
  /** Candidates dropped for length, empty targets, or a non-positive advantage. */
  readonly dropped: { readonly tooLong: number; readonly empty: number; readonly noAdvantage: number };
  /** Distinct sources among the units. */
  readonly sources: number;
  /** Target rows scored by the reference policy (0 when the behaviour log-probs served). */
  readonly referenceScored: number;
}

/** The input names objective `name` reads under `hyper`. */
export function inputNames(name: ObjectiveName, hyper: unknown): Set<string> {
  return new Set(objectiveInputs(name, hyper as ObjectiveHyper<typeof name>).map((i) => i.name));
}

function baselines(all: readonly ScoredCandidate[]): Map<string, number> {
  const values = monteCarloValues(
    all.map((c) => ({ sourceId: c.sourceId, reward: c.reward, sampled: !c.isReference })),
  );
  // A source with only a reference gets that reward as its value (A = 0): nothing else is known.
  for (const c of all) if (!values.has(c.sourceId)) values.set(c.sourceId, c.reward);
  return values;
}

/**
 * Builds the units of `train` (row objectives) or of pairs over `all` (dpo, hypo). Throws
 * InvalidArgumentError for a non-finite reward.
 */
export async function prepareUnits(
  train: readonly ScoredCandidate[],
  all: readonly ScoredCandidate[],
  hyper: unknown,
  o: PrepareOptions,
): Promise<PreparedUnits> {
  const name = o.objective.name;
  const needs = inputNames(name, hyper);
  const needSeq = needs.has('reference_seq_logp');
  const needTok = needs.has('reference_logp') || needs.has('mle_logp');
  const values = baselines(all);
  for (const [id, v] of o.values ?? []) if (values.has(id)) values.set(id, v);
  const srcIds = new Map<string, number[]>();
  const dropped = { tooLong: 0, empty: 0, noAdvantage: 0 };
  const rows = new Map<string, Row>();
  const candidates = new Map<string, ScoredCandidate>();

  const rowOf = (c: ScoredCandidate): Row | undefined => {
    const known = rows.get(c.key);
    if (known !== undefined) return known;
    let src = srcIds.get(c.sourceId);
    if (src === undefined) {
      src = o.tokenizer.encode(c.source);
      srcIds.set(c.sourceId, src);
    }
    const tgt = c.tokenIds !== undefined ? [...c.tokenIds] : o.tokenizer.encode(c.text);
    if (tgt.length === 0 || src.length === 0) {
      dropped.empty++;
      return undefined;
    }
    if (tgt.length > o.maxLength || src.length > o.maxLength) {
      dropped.tooLong++;
      return undefined;
    }
    const row: Row = {
      sourceId: c.sourceId,
      src,
      tgt,
      reward: c.reward,
      baseline: values.get(c.sourceId)!,
      refSeqLogp: Number.NaN,
      refTokenLogp: undefined,
    };
    rows.set(c.key, row);
    candidates.set(c.key, c);
    return row;
  };

  const units: Unit[] = [];
  if (PAIR_OBJECTIVES.has(name)) {
    const inTrain = new Set(train.map((c) => c.sourceId));
    const bySource = new Map<string, ScoredCandidate[]>();
    for (const c of all) {
      if (!inTrain.has(c.sourceId)) continue;
      const list = bySource.get(c.sourceId) ?? [];
      list.push(c);
      bySource.set(c.sourceId, list);
    }
    const byKey = new Map(all.map((c) => [c.key, c]));
    const sources: PairSource[] = [...bySource].map(([sourceId, list]) => ({
      sourceId,
      candidates: list.map((c) => ({
        key: c.key,
        text: c.text,
        reward: c.reward,
        isReference: c.isReference,
      })),
    }));
    const pairs = buildPreferencePairs(sources, {
      selection: o.objective.pairSelection,
      minRewardGap: o.objective.minRewardGap,
    });
    for (const p of pairs) {
      const chosen = rowOf(byKey.get(p.chosenKey)!);
      const rejected = rowOf(byKey.get(p.rejectedKey)!);
      if (chosen === undefined || rejected === undefined) continue;
      units.push({
        rows: [chosen, rejected],
        weight: p.rewardGap,
        length: Math.max(chosen.src.length, chosen.tgt.length, rejected.tgt.length),
      });
    }
  } else {
    const advantage = ADVANTAGE_OBJECTIVES.has(name);
    for (const c of train) {
      if (advantage && !(c.reward - values.get(c.sourceId)! > 0)) {
        dropped.noAdvantage++;
        continue;
      }
      const row = rowOf(c);
      if (row === undefined) continue;
      const weight = advantage ? row.reward - row.baseline : Math.max(row.reward, 0);
      units.push({ rows: [row], weight, length: Math.max(row.src.length, row.tgt.length) });
    }
  }

  let referenceScored = 0;
  if (needSeq || needTok) {
    const pending: [string, Row][] = [];
    for (const [key, row] of rows) {
      const c = candidates.get(key)!;
      const tokens = c.behaviourTokenLogProbs;
      const fromBehaviour =
        c.behaviourIsReference === true &&
        c.behaviourLogProb !== undefined &&
        (!needTok || (tokens !== undefined && tokens.length === row.tgt.length));
      if (fromBehaviour) {
        row.refSeqLogp = c.behaviourLogProb!;
        if (needTok) row.refTokenLogp = Float64Array.from(tokens!);
      } else pending.push([key, row]);
    }
    if (pending.length > 0) {
      const model = await o.reference();
      pending.sort((a, b) => a[1].tgt.length - b[1].tgt.length);
      const size = o.scoreBatch ?? 32;
      for (let i = 0; i < pending.length; i += size) {
        const chunk = pending.slice(i, i + size);
        const scored = await scoreTargets(
          model,
          chunk.map(([, r]) => r.src),
          chunk.map(([, r]) => r.tgt),
        );
        chunk.forEach(([, row], j) => {
          row.refSeqLogp = scored[j]!.sequenceLogprob;
          if (needTok) row.refTokenLogp = Float64Array.from(scored[j]!.tokenLogprobs);
        });
        referenceScored += chunk.length;
        await o.heartbeat?.();
      }
    }
  }
  return { units, dropped, sources: new Set(units.map((u) => u.rows[0]!.sourceId)).size, referenceScored };
}
