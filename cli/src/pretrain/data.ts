/**
 * Parallel data for supervised pretraining: reading `<split>.<lang>` files, tokenizing, and cutting
 * token-bounded batches (similar lengths together, order shuffled per epoch by a seeded generator, so
 * that epoch e's batch i is the same after a restart).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rng, hostTensor, type HostTensor } from '@rest/runtime';
import type { Tokenizer } from '@rest/text';

/** One sentence pair as token ids (both end with the end token). */
export interface Pair {
  src: number[];
  tgt: number[];
}

/** Reads the non-empty aligned lines of `<dir>/<split>.<src|tgt>`; throws naming the file on a mismatch. */
export async function readParallel(
  dir: string,
  split: string,
  src: string,
  tgt: string,
): Promise<{ src: string[]; tgt: string[] }> {
  const read = async (lang: string): Promise<string[]> => {
    const path = join(dir, `${split}.${lang}`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new Error(`data: ${path} does not exist`);
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  };
  const s = await read(src);
  const t = await read(tgt);
  if (s.length !== t.length)
    throw new Error(`data: ${split}.${src} has ${s.length} lines but ${split}.${tgt} has ${t.length}`);
  const keep = s.map((line, i) => line.trim() !== '' && t[i]!.trim() !== '');
  return { src: s.filter((_, i) => keep[i]), tgt: t.filter((_, i) => keep[i]) };
}

/** Tokenizes pairs, dropping those longer than `maxLen` tokens on either side. */
export function tokenizePairs(
  tok: Tokenizer,
  src: readonly string[],
  tgt: readonly string[],
  maxLen: number,
): Pair[] {
  const out: Pair[] = [];
  src.forEach((s, i) => {
    const a = tok.encode(s);
    const b = tok.encode(tgt[i]!);
    if (a.length <= maxLen && b.length <= maxLen) out.push({ src: a, tgt: b });
  });
  return out;
}

/**
 * Batches of pair indices for `epoch`: pairs sorted by length (with seeded jitter), cut so that
 * rows × longest side ≤ `maxTokens`, then the batch order shuffled. Deterministic in (seed, epoch).
 */
export function epochBatches(
  pairs: readonly Pair[],
  maxTokens: number,
  seed: number,
  epoch: number,
): number[][] {
  const rand = rng((seed * 7919 + epoch * 104729) >>> 0);
  const keyed = pairs.map((p, i) => ({ i, k: Math.max(p.src.length, p.tgt.length) + rand() }));
  keyed.sort((a, b) => a.k - b.k);
  const batches: number[][] = [];
  let cur: number[] = [];
  let longest = 0;
  for (const { i } of keyed) {
    const len = Math.max(pairs[i]!.src.length, pairs[i]!.tgt.length);
    if (cur.length > 0 && (cur.length + 1) * Math.max(longest, len) > maxTokens) {
      batches.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(i);
    longest = Math.max(longest, len);
  }
  if (cur.length > 0) batches.push(cur);
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [batches[i], batches[j]] = [batches[j]!, batches[i]!];
  }
  return batches;
}

/** Feeds of the training forward (`src`, `tgt_in`, `tgt_out`), padded with `pad`. */
export function batchFeeds(
  pairs: readonly Pair[],
  idx: readonly number[],
  pad: number,
  decoderStart: number,
): { feeds: Record<string, HostTensor>; tokens: number } {
  const B = idx.length;
  const S = Math.max(...idx.map((i) => pairs[i]!.src.length));
  const T = Math.max(...idx.map((i) => pairs[i]!.tgt.length));
  const src = new BigInt64Array(B * S).fill(BigInt(pad));
  const tgtIn = new BigInt64Array(B * T).fill(BigInt(pad));
  const tgtOut = new BigInt64Array(B * T).fill(BigInt(pad));
  let tokens = 0;
  idx.forEach((pi, b) => {
    const p = pairs[pi]!;
    p.src.forEach((t, j) => (src[b * S + j] = BigInt(t)));
    tgtIn[b * T] = BigInt(decoderStart);
    p.tgt.forEach((t, j) => {
      tgtOut[b * T + j] = BigInt(t);
      if (j + 1 < T) tgtIn[b * T + j + 1] = BigInt(t);
    });
    tokens += p.tgt.length;
  });
  return {
    feeds: {
      src: hostTensor('i64', [B, S], src),
      tgt_in: hostTensor('i64', [B, T], tgtIn),
      tgt_out: hostTensor('i64', [B, T], tgtOut),
    },
    tokens,
  };
}
