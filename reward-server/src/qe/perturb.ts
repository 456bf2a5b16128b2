/**
 * Cheap extra candidates for QE training: edits of a candidate (the human reference or a policy sample)
 * whose metric score the model must learn to predict without seeing the reference. They spread the
 * training targets over the metric's range and teach the failure modes a policy can drift into under
 * ReST's filtering (dropped content, truncation, scrambled order, repetition, untranslated source, a
 * fluent translation of another sentence). Their targets are the metric's scores like every other
 * pair's, so nothing here decides how bad an edit is. Editing samples as well as references matters:
 * a repeated reference still scores high (chrF ≈ 88), so if only references were edited, repetition
 * would go with high targets and the model would learn to reward it (ReST's reward model did).
 */
import { words } from '../diagnostics/probes.js';

/** The kinds of perturbation. */
export const PERTURBATIONS = [
  'drop-words',
  'truncate',
  'shuffle',
  'repeat',
  'source-copy',
  'other-reference',
] as const;
/** One of {@link PERTURBATIONS}. */
export type Perturbation = (typeof PERTURBATIONS)[number];

/** What a perturbation reads. */
export interface PerturbInput {
  readonly source: string;
  /** The candidate to edit: the reference or a policy sample. */
  readonly text: string;
  /** The reference of another source (for `other-reference`). */
  readonly otherReference: string;
}

/**
 * The perturbed text:
 * - `drop-words`: each word dropped with probability 1/4 (at least one dropped, one kept, when the
 *   text has two or more words);
 * - `truncate`: the first k words, k uniform in [1, n − 1];
 * - `shuffle`: the words in a random order;
 * - `repeat`: the text followed by itself or by a random span of it;
 * - `source-copy`: the source;
 * - `other-reference`: the other source's reference.
 * @param random floats in [0, 1)
 */
export function perturb(kind: Perturbation, input: PerturbInput, random: () => number): string {
  const w = words(input.text);
  const n = w.length;
  switch (kind) {
    case 'drop-words': {
      if (n < 2) return '';
      let keep = w.map(() => random() >= 0.25);
      if (keep.every(Boolean)) keep[Math.floor(random() * n)] = false;
      if (!keep.some(Boolean)) keep = w.map((_, i) => i === Math.floor(random() * n));
      return w.filter((_, i) => keep[i]).join(' ');
    }
    case 'truncate':
      return n < 2 ? '' : w.slice(0, 1 + Math.floor(random() * (n - 1))).join(' ');
    case 'shuffle': {
      const s = [...w];
      for (let i = s.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [s[i], s[j]] = [s[j]!, s[i]!];
      }
      return s.join(' ');
    }
    case 'repeat': {
      if (n === 0 || random() < 0.5) return `${input.text} ${input.text}`;
      const from = Math.floor(random() * n);
      const to = from + 1 + Math.floor(random() * (n - from));
      return [...w, ...w.slice(from, to)].join(' ');
    }
    case 'source-copy':
      return input.source;
    case 'other-reference':
      return input.otherReference;
  }
}

/** `k` distinct perturbation kinds in random order (all of them when k ≥ their number). */
export function pickPerturbations(k: number, random: () => number): Perturbation[] {
  const kinds = [...PERTURBATIONS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds.slice(0, Math.max(0, k));
}
