/**
 * QE training examples: per source, its candidates (the human reference, the policy's distinct
 * samples, perturbations of the reference), each with its target — the metric's sentence score against
 * the reference, computed by the reward server's own metric scorer — and its token ids, encoded by the
 * server's own pair encoder with the bundle's template (so training sees exactly what serving feeds).
 * Plus token-bounded batches and their feeds.
 *
 * Dimensions: B batch (pairs), S longest pair of the batch in tokens.
 */
import { hostTensor, rng, type HostTensor } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';
import { encodePair, type TemplatePart } from '../learned/pair-encoder.js';
import type { RewardScorer, ScoreItem } from '../scoring/types.js';
import type { Corpus } from './corpus.js';
import { perturb, pickPerturbations, type Perturbation } from './perturb.js';
import { QE_IO } from './qe-model.js';

/** Where a candidate comes from. */
export type Origin = 'reference' | 'sample' | Perturbation;

/** One (source, candidate) pair with its target. */
export interface Example {
  /** The source's index in the corpus. */
  readonly source: number;
  readonly hypothesis: string;
  readonly origin: Origin;
  /** The metric's raw score of the hypothesis against the reference. */
  readonly target: number;
  /** The encoded pair `[S]`. */
  readonly ids: readonly number[];
  /** The segment of each token `[S]`: 0 source, 1 hypothesis. */
  readonly segments: readonly number[];
}

/** Options of {@link buildExamples}. */
export interface BuildExamplesOptions {
  /** Perturbations per source, each of the reference or of one of the source's samples. */
  readonly perturbations: number;
  /** Include the reference itself as a candidate (target: the metric's maximum). */
  readonly references: boolean;
  readonly seed: number;
  readonly maxLength: number;
}

/**
 * The examples of the sources `indices` (one side of the split): each source's reference (when asked),
 * its samples (`samples[i]`, duplicates and copies of the reference dropped) and perturbations of the
 * reference or of a sample, half and half (the `other-reference` one borrows a reference of another
 * source of the same side).
 */
export async function buildExamples(
  corpus: Corpus,
  indices: readonly number[],
  samples: ReadonlyMap<number, readonly string[]>,
  metric: RewardScorer,
  tokenizer: Tokenizer,
  template: readonly TemplatePart[],
  options: BuildExamplesOptions,
): Promise<Example[]> {
  const random = rng(options.seed);
  const pending: { source: number; hypothesis: string; origin: Origin }[] = [];
  indices.forEach((i, position) => {
    const reference = corpus.references[i]!;
    const seen = new Set<string>();
    const add = (hypothesis: string, origin: Origin): void => {
      if (seen.has(hypothesis)) return;
      seen.add(hypothesis);
      pending.push({ source: i, hypothesis, origin });
    };
    if (options.references) add(reference, 'reference');
    else seen.add(reference);
    for (const s of samples.get(i) ?? []) add(s, 'sample');
    // Another source of the same side, never this one (when there is another).
    const shift = indices.length > 1 ? 1 + Math.floor(random() * (indices.length - 1)) : 0;
    const drawn = samples.get(i) ?? [];
    for (const kind of pickPerturbations(options.perturbations, random)) {
      // Half the edits start from a policy sample, half from the reference (see ./perturb.ts).
      const text =
        drawn.length > 0 && random() < 0.5 ? drawn[Math.floor(random() * drawn.length)]! : reference;
      const input = {
        source: corpus.sources[i]!,
        text,
        otherReference: corpus.references[indices[(position + shift) % indices.length]!]!,
      };
      add(perturb(kind, input, random), kind);
    }
  });
  const items: ScoreItem[] = pending.map((p) => ({
    source: corpus.sources[p.source]!,
    hypothesis: p.hypothesis,
    reference: corpus.references[p.source]!,
  }));
  const targets = await metric.prepare(items).score(new AbortController().signal);
  return pending.map((p, k) => {
    const pair = encodePair(template, tokenizer, items[k]!, options.maxLength, 'longest_first');
    if (typeof pair === 'string') throw new RangeError(pair);
    return { ...p, target: targets[k]!, ids: pair.ids, segments: pair.segments };
  });
}

/**
 * Batches of example indices, cut so that rows × longest pair ≤ `maxTokens`, from examples sorted by
 * length with seeded jitter; the batch order is shuffled. Deterministic in `seed`.
 */
export function tokenBatches(examples: readonly Example[], maxTokens: number, seed: number): number[][] {
  const random = rng(seed);
  const keyed = examples.map((e, i) => ({ i, k: e.ids.length + random() }));
  keyed.sort((a, b) => a.k - b.k);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const { i } of keyed) {
    const length = examples[i]!.ids.length;
    if (current.length > 0 && (current.length + 1) * Math.max(longest, length) > maxTokens) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, length);
  }
  if (current.length > 0) batches.push(current);
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [batches[i], batches[j]] = [batches[j]!, batches[i]!];
  }
  return batches;
}

/**
 * Feeds of one batch: `input_ids [B, S] i64` (padded with `padId`), `attention_mask [B, S] i64`,
 * `token_type_ids [B, S] i64` (0 on padding), and with `withTarget` also `target [B] f32`.
 */
export function batchFeeds(
  examples: readonly Example[],
  batch: readonly number[],
  padId: number,
  withTarget: boolean,
): Record<string, HostTensor> {
  const b = batch.length;
  let s = 1;
  for (const i of batch) s = Math.max(s, examples[i]!.ids.length);
  const ids = new BigInt64Array(b * s).fill(BigInt(padId)); // [B, S] i64
  const mask = new BigInt64Array(b * s); // [B, S] i64
  const types = new BigInt64Array(b * s); // [B, S] i64
  const target = new Float32Array(b); // [B] f32
  batch.forEach((i, row) => {
    const e = examples[i]!;
    e.ids.forEach((id, col) => {
      ids[row * s + col] = BigInt(id);
      mask[row * s + col] = 1n;
      types[row * s + col] = BigInt(e.segments[col]!);
    });
    target[row] = e.target;
  });
  return {
    [QE_IO.inputIds]: hostTensor('i64', [b, s], ids),
    [QE_IO.attentionMask]: hostTensor('i64', [b, s], mask),
    [QE_IO.tokenTypeIds]: hostTensor('i64', [b, s], types),
    ...(withTarget ? { target: hostTensor('f32', [b], target) } : {}),
  };
}
