/**
 * The data of an Improve step as a source hands it to the executor (MongoDB shards for the service,
 * a shard file for `rest train`), and the training units the executor prepares from them.
 */

/** One scored candidate of D_g: a Grow sample or a human reference. */
export interface ScoredCandidate {
  /** Unique within the step (e.g. `<idx>/<k>`). */
  readonly key: string;
  /** Identifies the source sentence x (baselines and pairs group by it). */
  readonly sourceId: string;
  /** The source text. */
  readonly source: string;
  /** The candidate translation y. */
  readonly text: string;
  /** y's token ids under the policy's tokenizer, end token included; absent: `text` is encoded. */
  readonly tokenIds?: readonly number[];
  /** R(x, y) on the run's reward scale. */
  readonly reward: number;
  /** True for the human reference y* (it gets its source's baseline but does not count toward it). */
  readonly isReference: boolean;
  /** Σ_t log π_behaviour(y_t | ·), when the data carry it. */
  readonly behaviourLogProb?: number;
  /** Per-token behaviour log-probs (one per token id), when the data carry them. */
  readonly behaviourTokenLogProbs?: readonly number[];
  /**
   * The behaviour policy is the reference policy π_ref (Grow 1 samples from the base policy), so the
   * behaviour log-probs serve as S_ref without a forward pass.
   */
  readonly behaviourIsReference?: boolean;
}

/** A validation source. */
export interface ValidItem {
  readonly source: string;
  /** Its reference, for BLEU and metric rewards. */
  readonly reference?: string;
}

/** Everything a data source provides for one Improve step. */
export interface ImproveData {
  /** D_i: the candidates that passed the step's filter (the shards). */
  readonly train: readonly ScoredCandidate[];
  /**
   * Every scored candidate of the sources in `train` (filtered or not): Monte-Carlo baselines and
   * DPO pairs are built from these. `train` ⊆ `all` by key; pass `train` again when nothing else is known.
   */
  readonly all: readonly ScoredCandidate[];
  readonly valid: readonly ValidItem[];
}

/** One item scored by a reward. */
export interface RewardItem {
  readonly source: string;
  readonly hypothesis: string;
  readonly reference?: string;
}

/** Scores validation outputs: one reward per item, on the run's reward scale. */
export type RewardFn = (items: readonly RewardItem[]) => Promise<number[]>;

/** One target row of a batch, with everything any objective reads about it. */
export interface Row {
  readonly sourceId: string;
  /** [S] source ids, end token included. */
  readonly src: readonly number[];
  /** [T] target ids, end token included when the candidate finished. */
  readonly tgt: readonly number[];
  readonly reward: number;
  /** V(x) of the source: its Monte-Carlo baseline, or the value head's estimate. */
  readonly baseline: number;
  /** S_ref; NaN when no objective input needs it. */
  refSeqLogp: number;
  /** [T] ℓ^ref_t; undefined when no objective input needs it. */
  refTokenLogp: Float64Array | undefined;
}

/** What a batch is cut from: one row, or a preference pair (chosen, rejected). */
export interface Unit {
  readonly rows: readonly Row[];
  /** Priority-sampling weight (A⁺ or R), ≥ 0. */
  readonly weight: number;
  /** Longest source or target among its rows: batching sorts by it. */
  readonly length: number;
}
