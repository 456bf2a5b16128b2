/**
 * The scorers a server offers, by name: the reference metrics and every learned model loaded at
 * start-up. Fixed after start-up (a new model means a new rollout), so lookups need no locking.
 */
import type { RewardScorer, ScorerKind } from './types.js';

/** Two scorers with one name. */
export class DuplicateScorerError extends Error {
  override name = 'DuplicateScorerError';
}

/** Scorers by name; see the module comment. */
export class ScorerRegistry {
  private readonly byName = new Map<string, RewardScorer>();

  /** @throws DuplicateScorerError when two scorers share a name (e.g. a model named `chrf`) */
  constructor(scorers: readonly RewardScorer[]) {
    for (const scorer of scorers) {
      if (this.byName.has(scorer.info.name)) {
        throw new DuplicateScorerError(`two scorers are named "${scorer.info.name}"`);
      }
      this.byName.set(scorer.info.name, scorer);
    }
  }

  /** The scorer named `name`, or undefined. */
  get(name: string): RewardScorer | undefined {
    return this.byName.get(name);
  }

  /** Every scorer, or those of one kind, ordered by name. */
  list(kind?: ScorerKind): RewardScorer[] {
    return [...this.byName.values()]
      .filter((s) => kind === undefined || s.info.kind === kind)
      .sort((a, b) => (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0));
  }

  /** Closes every scorer (learned models finish their queued batches and release their sessions). */
  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((s) => s.close()));
  }
}
