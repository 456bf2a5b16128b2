/**
 * Probes of a reward model: cheap edits of a hypothesis that should never raise its reward. ReST's
 * authors found their reward model's score *rose* when a sentence was repeated and unit-tested reward
 * models on permutations and repetitions (ALGORITHMS.md, "Reward"); these are those tests. Every probe
 * is deterministic: the permutation is seeded by (seed, item index).
 */
import { rng } from '@rest/runtime';

/** The probes, in the order reports list them. */
export const PROBES = ['repeated', 'truncated', 'permuted', 'source-copied'] as const;
/** One of {@link PROBES}. */
export type Probe = (typeof PROBES)[number];

/** What a probe reads. */
export interface ProbeInput {
  readonly source: string;
  readonly hypothesis: string;
}

/** Words of a text: split on whitespace, empty strings dropped. */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/**
 * The probed hypothesis:
 * - `repeated`: the hypothesis twice, joined by a space;
 * - `truncated`: its first ⌊n/2⌋ words (one word becomes the empty string);
 * - `permuted`: its words shuffled (Fisher–Yates seeded by `seed` and `index`; reshuffled up to 8
 *   times when the order comes out unchanged and another order exists);
 * - `source-copied`: the source itself.
 * @param index the item's index, so each item gets its own permutation
 */
export function applyProbe(probe: Probe, item: ProbeInput, index: number, seed = 1): string {
  switch (probe) {
    case 'repeated':
      return item.hypothesis === '' ? '' : `${item.hypothesis} ${item.hypothesis}`;
    case 'truncated': {
      const w = words(item.hypothesis);
      return w.slice(0, Math.floor(w.length / 2)).join(' ');
    }
    case 'permuted': {
      const w = words(item.hypothesis);
      const original = w.join(' ');
      const random = rng(mix(seed, index));
      let shuffled = original;
      for (let attempt = 0; attempt < 8 && shuffled === original && new Set(w).size > 1; attempt++) {
        for (let i = w.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [w[i], w[j]] = [w[j]!, w[i]!];
        }
        shuffled = w.join(' ');
      }
      return shuffled;
    }
    case 'source-copied':
      return item.source;
  }
}

/** A 32-bit seed from (seed, index). */
function mix(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (index >>> 0) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
