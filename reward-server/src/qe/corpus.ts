/**
 * Where a QE model's training pairs and inspect-reward's items come from: a parallel corpus laid out as
 * `<dir>/<split>.<lang>` (Multi30k's layout), a held-out split *by source* (every candidate of a
 * source lands on the same side, so held-out numbers measure sources the model never saw), and a
 * policy's translations, decoded in length-sorted batches through @rest/runtime's `generate` (the code
 * the policy server and the trainer decode with).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate, rng, type DecodingOptions, type Seq2SeqModel } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';

/** Aligned source and reference lines of one split. */
export interface Corpus {
  readonly sources: readonly string[];
  readonly references: readonly string[];
}

/**
 * Reads `<dir>/<split>.<srcLang>` and `<dir>/<split>.<tgtLang>`, keeping the pairs where both sides
 * are non-empty.
 * @throws Error naming the file when one is missing or the two differ in length
 */
export async function readCorpus(
  dir: string,
  split: string,
  srcLang: string,
  tgtLang: string,
): Promise<Corpus> {
  const read = async (lang: string): Promise<string[]> => {
    const path = join(dir, `${split}.${lang}`);
    const text = await readFile(path, 'utf8').catch((cause: unknown) => {
      throw new Error(`${path}: cannot read it`, { cause });
    });
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines;
  };
  const src = await read(srcLang);
  const tgt = await read(tgtLang);
  if (src.length !== tgt.length)
    throw new Error(`${dir}: ${split}.${srcLang} has ${src.length} lines, ${split}.${tgtLang} ${tgt.length}`);
  const keep = src.map((s, i) => s.trim() !== '' && tgt[i]!.trim() !== '');
  return {
    sources: src.filter((_, i) => keep[i]),
    references: tgt.filter((_, i) => keep[i]),
  };
}

/** Source indices by role: training, model selection (dev) and the reported held-out numbers (test). */
export interface SourceSplit {
  readonly train: readonly number[];
  readonly dev: readonly number[];
  readonly test: readonly number[];
}

/**
 * Picks `count` of `total` sources at random (seeded; 0 or ≥ total = all) and holds out
 * `heldOutFraction` of them, halved into dev and test (each at least one source).
 * @throws RangeError when fewer than 4 sources are picked or the fraction is outside (0, 0.5]
 */
export function splitSources(
  total: number,
  count: number,
  heldOutFraction: number,
  seed: number,
): SourceSplit {
  if (!(heldOutFraction > 0 && heldOutFraction <= 0.5))
    throw new RangeError(`held-out fraction must be in (0, 0.5], got ${heldOutFraction}`);
  const n = count > 0 ? Math.min(count, total) : total;
  if (n < 4) throw new RangeError(`need at least 4 sources, got ${n}`);
  const order = Array.from({ length: total }, (_, i) => i);
  const random = rng(seed);
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const picked = order.slice(0, n);
  const heldOut = Math.max(2, Math.round(n * heldOutFraction));
  const dev = Math.floor(heldOut / 2);
  return {
    train: picked.slice(0, n - heldOut),
    dev: picked.slice(n - heldOut, n - heldOut + dev),
    test: picked.slice(n - heldOut + dev),
  };
}

/** Options of {@link decodeAll}. */
export interface DecodeAllOptions {
  /** Sources per `generate` call. @default 32 */
  readonly batchSources?: number;
  /** Called after each batch with the sources done so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Decodes every source with `model` and returns, per source, the detokenized candidates
 * (`decoding.numReturn` of them; one for greedy). Sources are decoded in batches of similar length;
 * for sampling, each batch gets its own seed (from `decoding.seed` and the batch's position), so
 * batches do not repeat each other's random streams; the same sources, options and batch size give the
 * same candidates.
 * @throws DecodingError for options out of range
 */
export async function decodeAll(
  model: Seq2SeqModel,
  tokenizer: Tokenizer,
  sources: readonly string[],
  decoding: DecodingOptions,
  options: DecodeAllOptions = {},
): Promise<string[][]> {
  const batch = options.batchSources ?? 32;
  const order = sources
    .map((text, i) => ({ i, ids: tokenizer.encode(text) }))
    .sort((a, b) => a.ids.length - b.ids.length || a.i - b.i);
  const out = new Array<string[]>(sources.length);
  for (let start = 0; start < order.length; start += batch) {
    const chunk = order.slice(start, start + batch);
    const seed = (decoding.seed ?? 0) * 65_537 + start;
    const candidates = await generate(
      model,
      chunk.map((c) => c.ids),
      { ...decoding, seed },
    );
    chunk.forEach((c, k) => (out[c.i] = candidates[k]!.map((cand) => tokenizer.decode(cand.tokenIds))));
    options.onProgress?.(Math.min(start + batch, order.length), order.length);
  }
  return out;
}
