/**
 * The reward server's domain types: what a scorer is, what it reports about itself, and the items it
 * scores. No wire types here (STYLE.md §4): `src/rpc/` converts to and from these.
 */

/** How raw scores are mapped; every mapping but `raw` is oriented so that higher is better. */
export const NORMALIZATIONS = ['raw', 'clipped01', 'zscore'] as const;
/** One of {@link NORMALIZATIONS}. */
export type Normalization = (typeof NORMALIZATIONS)[number];

/** A learned (ONNX) reward model, or a reference-based string metric. */
export type ScorerKind = 'learned' | 'metric';

/** One item to score. */
export interface ScoreItem {
  readonly source: string;
  readonly hypothesis: string;
  /** The human reference, or `undefined` when there is none. */
  readonly reference: string | undefined;
}

/** Fixed statistics of a scorer's raw score on a calibration set, for ZSCORE. */
export interface Calibration {
  readonly mean: number;
  /** > 0. */
  readonly std: number;
  /** Where the numbers came from, e.g. `file calibration.tsv (2000 items)` or `manifest`. */
  readonly origin: string;
}

/** What a scorer is and what its raw scores mean. */
export interface ScorerInfo {
  /** The name requests use, e.g. `chrf` or `rm-qe-small`. */
  readonly name: string;
  readonly kind: ScorerKind;
  /** A learned model's version (manifest `version` or a hash of its ONNX file); a metric's signature. */
  readonly version: string;
  /** One line on what it measures. */
  readonly description: string;
  readonly requiresReference: boolean;
  /** False for TER (edits per reference word): lower raw is better. */
  readonly higherIsBetter: boolean;
  /** The raw range CLIPPED_01 maps onto [0, 1]; `rawMin < rawMax`. */
  readonly rawMin: number;
  readonly rawMax: number;
  readonly calibration: Calibration;
}

/** Why one item cannot be scored by a scorer, e.g. a missing reference or too many tokens. */
export interface ItemProblem {
  /** Index of the item in the request. */
  readonly index: number;
  /** The item's field at fault, or `undefined` when the item as a whole is (e.g. its pair is too long). */
  readonly field: keyof ScoreItem | undefined;
  readonly problem: string;
}

/** Items checked by a scorer, ready to score. */
export interface PreparedItems {
  /** Every item the scorer cannot score; when non-empty, `score` must not be called. */
  readonly problems: readonly ItemProblem[];
  /**
   * Raw scores [items] f64, in item order.
   * @throws the signal's reason when it fires first; ResourceExhaustedError when a queue is full
   */
  score(signal: AbortSignal): Promise<number[]>;
}

/** A reward model or metric. */
export interface RewardScorer {
  readonly info: ScorerInfo;
  /** Checks (and for a learned model tokenizes) the items; never throws for bad items. */
  prepare(items: readonly ScoreItem[]): PreparedItems;
  /** Items queued and not yet started (0 for a metric). */
  readonly queuedItems: number;
  /** Finishes queued work and releases native resources. Idempotent. */
  close(): Promise<void>;
}
