/**
 * Deterministic, realistic-looking MT hypotheses for tests and benchmarks, until the policy can
 * produce real ones (a later issue swaps in the policy's outputs): each reference is edited by a
 * seeded RNG with the errors systems make — dropped, repeated, swapped and untranslated (source)
 * words, character typos, case and punctuation changes, truncation — or left intact.
 * This is test data, not a metric; nothing in the metrics depends on it.
 */

/** A seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

function typo(word: string, rand: () => number): string {
  const chars = Array.from(word);
  if (chars.length < 3) return word;
  const i = 1 + randomInt(rand, chars.length - 2);
  if (rand() < 0.5) chars.splice(i, 1);
  else [chars[i - 1], chars[i]] = [chars[i]!, chars[i - 1]!];
  return chars.join('');
}

/**
 * One hypothesis made from `reference` by 0..4 random edits.
 * @param source words of the source sentence, for untranslated-word errors (may be empty).
 */
export function perturbSentence(reference: string, source: readonly string[], rand: () => number): string {
  let words = reference.split(' ').filter((w) => w.length > 0);
  const edits = randomInt(rand, 5);
  for (let e = 0; e < edits && words.length > 0; e++) {
    const i = randomInt(rand, words.length);
    const kind = randomInt(rand, 10);
    switch (kind) {
      case 0:
        words.splice(i, 1);
        break;
      case 1:
        if (i + 1 < words.length) [words[i], words[i + 1]] = [words[i + 1]!, words[i]!];
        break;
      case 2:
        words.splice(i, 0, words[i]!);
        break;
      case 3:
        if (source.length > 0) words[i] = source[randomInt(rand, source.length)]!;
        break;
      case 4:
        words[i] = typo(words[i]!, rand);
        break;
      case 5: {
        const w = words[i]!;
        words[i] = w === w.toLowerCase() ? w.charAt(0).toUpperCase() + w.slice(1) : w.toLowerCase();
        break;
      }
      case 6:
        words[i] = `${words[i]!}${[',', ';', ' -', ' .', '!'][randomInt(rand, 5)]!}`;
        break;
      case 7: {
        const last = words[words.length - 1]!;
        words[words.length - 1] = /[.!?]$/.test(last) ? last.slice(0, -1) : `${last}.`;
        break;
      }
      case 8:
        words = words.slice(0, Math.max(1, Math.ceil(words.length * (0.5 + rand() * 0.4))));
        break;
      default: {
        const j = randomInt(rand, words.length);
        const [moved] = words.splice(i, 1);
        words.splice(j, 0, moved!);
      }
    }
  }
  return words.join(' ');
}

/**
 * Hypotheses for a parallel corpus: `perturbSentence` on each reference, with its source words.
 * @param seed the RNG seed; equal seeds give equal outputs.
 */
export function perturbCorpus(
  references: readonly string[],
  sources: readonly string[],
  seed: number,
): string[] {
  const rand = seededRandom(seed);
  return references.map((r, i) =>
    perturbSentence(
      r,
      (sources[i] ?? '').split(' ').filter((w) => w.length > 0),
      rand,
    ),
  );
}
