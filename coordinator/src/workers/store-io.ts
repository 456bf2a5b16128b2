/**
 * What the workers read from and write to MongoDB: a shard's or a split's source sentences, the
 * samples already stored for a set of sources, and rewards in bounded writes.
 *
 * Reads go by index ranges: a list of indices is cut into runs of nearby indices, each read as
 * one range in pages, so a shard of scattered indices does not read the whole split and a dense
 * one costs one query per page.
 */
import { FailedPreconditionError } from '@rest/service-kit';
import type { SampleDoc, SentenceDoc, Split, Store } from '@rest/store';

/** Documents per read. */
const PAGE = 2000;
/** Indices closer than this are read as one range (the few documents between them are skipped). */
const MAX_GAP = 64;

/** Cuts ascending indices into [from, to) ranges whose members are at most {@link MAX_GAP} apart. */
function ranges(idxs: readonly number[]): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (const idx of idxs) {
    const last = out[out.length - 1];
    if (last !== undefined && idx - (last.to - 1) <= MAX_GAP) last.to = idx + 1;
    else out.push({ from: idx, to: idx + 1 });
  }
  return out;
}

/** Reads [from, to) of a sorted-by-idx collection in pages; `idxOf` keys the re-read of a cut source. */
async function readRange<T>(
  from: number,
  to: number,
  page: (fromIdx: number) => Promise<T[]>,
  idxOf: (doc: T) => number,
  keep: (doc: T) => void,
): Promise<void> {
  for (let at = from; ;) {
    const docs = await page(at);
    for (const d of docs) keep(d);
    if (docs.length < PAGE) return;
    const next = idxOf(docs[docs.length - 1]!);
    // A full page may end inside one source: read on from that source (callers key by id, so the
    // overlap is harmless); a page holding a single source would never advance.
    if (next === idxOf(docs[0]!))
      throw new FailedPreconditionError(`more than ${PAGE} documents at idx ${next}`);
    at = next;
    if (at >= to) return;
  }
}

/**
 * The sentences at `idxs` (ascending) of a split, in that order.
 * @throws FailedPreconditionError naming the first missing indices when some do not exist.
 */
export async function readSentences(
  store: Store,
  dataset: string,
  split: Split,
  idxs: readonly number[],
): Promise<SentenceDoc[]> {
  const wanted = new Set(idxs);
  const found = new Map<number, SentenceDoc>();
  for (const r of ranges(idxs)) {
    await readRange(
      r.from,
      r.to,
      (fromIdx) => store.datasets.list(dataset, split, { fromIdx, toIdx: r.to, limit: PAGE }),
      (d) => d.idx,
      (d) => {
        if (wanted.has(d.idx)) found.set(d.idx, d);
      },
    );
  }
  const missing = idxs.filter((i) => !found.has(i));
  if (missing.length > 0) {
    const listed = missing.slice(0, 10).join(', ');
    throw new FailedPreconditionError(
      `dataset ${dataset} split ${split} lacks ${missing.length} of the ${idxs.length} sources asked for (idx ${listed}${missing.length > 10 ? ', …' : ''})`,
    );
  }
  return idxs.map((i) => found.get(i)!);
}

/**
 * The first `max` sentences of a split in idx order (all of them when `max` is undefined).
 * @throws FailedPreconditionError when the split is empty.
 */
export async function readFirstSentences(
  store: Store,
  dataset: string,
  split: Split,
  max: number | undefined,
): Promise<SentenceDoc[]> {
  const out: SentenceDoc[] = [];
  for (let fromIdx = 0; max === undefined || out.length < max;) {
    const limit = max === undefined ? PAGE : Math.min(PAGE, max - out.length);
    const docs = await store.datasets.list(dataset, split, { fromIdx, limit });
    out.push(...docs);
    if (docs.length < limit) break;
    fromIdx = docs[docs.length - 1]!.idx + 1;
  }
  if (out.length === 0) throw new FailedPreconditionError(`dataset ${dataset} has no ${split} sentences`);
  return out;
}

/** Key of a sample within a (run, grow): `<idx>/<k>`. */
export function sampleKey(idx: number, k: number): string {
  return `${idx}/${k}`;
}

/** The stored samples of (run, grow) whose source is one of `idxs` (ascending), by {@link sampleKey}. */
export async function readSamples(
  store: Store,
  run: string,
  grow: number,
  idxs: readonly number[],
): Promise<Map<string, SampleDoc>> {
  const wanted = new Set(idxs);
  const found = new Map<string, SampleDoc>();
  for (const r of ranges(idxs)) {
    await readRange(
      r.from,
      r.to,
      (fromIdx) => store.samples.find(run, grow, { fromIdx, toIdx: r.to, limit: PAGE }),
      (s) => s.idx,
      (s) => {
        if (wanted.has(s.idx)) found.set(sampleKey(s.idx, s.k), s);
      },
    );
  }
  return found;
}
