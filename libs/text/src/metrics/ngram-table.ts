/**
 * Reference n-gram counts over integer symbols, and clipped matching of a hypothesis against them:
 * the inner loop of BLEU (word n-grams, orders 1..4) and chrF (character n-grams 1..6, word n-grams
 * 1..2). sacrebleu counts n-grams in `Counter`s keyed by tuples or substrings; here symbols (tokens
 * or code points) are interned to small integers once per reference, and each distinct reference
 * n-gram gets an id through a trie stored in one `Map`: the id of (prefix, symbol) is found under the
 * key `prefixId * vocabSize + symbol`. Unigram ids are the symbol ids themselves.
 *
 * Matching walks each hypothesis position forward order by order and stops at the first extension
 * the references never contain (no longer n-gram from there can match), so it builds no strings and
 * allocates nothing per call: clipped counts (`min(hyp count, ref count)`, summed per order) come from
 * a scratch array of per-n-gram hypothesis counts that is reset through a list of touched ids.
 *
 * A table is not re-entrant (the scratch is shared), which is safe in single-threaded JS because
 * {@link NgramTable.addMatches} never yields.
 */

/** Interns `items` into `vocab` (new items get the next id) and returns their ids. */
export function internAll<K>(vocab: Map<K, number>, items: Iterable<K>): number[] {
  const ids: number[] = [];
  for (const item of items) {
    let id = vocab.get(item);
    if (id === undefined) {
      id = vocab.size;
      vocab.set(item, id);
    }
    ids.push(id);
  }
  return ids;
}

/**
 * Reference n-gram counts of orders 1..maxOrder, merged over several sequences by taking each
 * n-gram's maximum count (sacrebleu's multi-reference BLEU clipping); one sequence gives its counts.
 */
export class NgramTable {
  /** Highest n-gram order stored. */
  readonly maxOrder: number;
  private readonly vocabSize: number;
  private readonly children = new Map<number, number>();
  /** [ngram id] the reference count (max over sequences) */
  private readonly counts: Int32Array;
  /** [ngram id] hypothesis count during one addMatches call, zero between calls */
  private readonly scratch: Int32Array;
  /** ids whose scratch entry is non-zero */
  private readonly touched: Int32Array;

  /**
   * @param sequences symbol ids, each in [0, vocabSize).
   * @param vocabSize number of distinct symbols.
   * @param maxOrder highest order (>= 1).
   */
  constructor(sequences: readonly (readonly number[])[], vocabSize: number, maxOrder: number) {
    this.maxOrder = maxOrder;
    this.vocabSize = vocabSize;
    const counts: number[] = new Array<number>(vocabSize).fill(0);
    const local = new Map<number, number>();
    for (const seq of sequences) {
      local.clear();
      const len = seq.length;
      for (let i = 0; i < len; i++) {
        let id = seq[i]!;
        local.set(id, (local.get(id) ?? 0) + 1);
        for (let n = 1; n < maxOrder && i + n < len; n++) {
          const key = id * vocabSize + seq[i + n]!;
          let child = this.children.get(key);
          if (child === undefined) {
            child = counts.length;
            counts.push(0);
            this.children.set(key, child);
          }
          id = child;
          local.set(id, (local.get(id) ?? 0) + 1);
        }
      }
      for (const [id, c] of local) if (c > counts[id]!) counts[id] = c;
    }
    this.counts = Int32Array.from(counts);
    this.scratch = new Int32Array(counts.length);
    this.touched = new Int32Array(counts.length);
  }

  /**
   * Adds to `matches[n - 1]` the clipped count of the hypothesis n-grams of order n, for
   * n = 1..maxOrder: the sum over distinct n-grams of min(hypothesis count, reference count).
   * @param hyp symbol ids in this table's vocabulary; a negative id is a symbol the references lack.
   * @param length how many entries of `hyp` to read.
   * @param matches accumulators, at least maxOrder long.
   */
  addMatches(hyp: Int32Array, length: number, matches: Float64Array): void {
    const { children, counts, scratch, touched, maxOrder, vocabSize } = this;
    let nTouched = 0;
    for (let i = 0; i < length; i++) {
      let id = hyp[i]!;
      if (id < 0) continue;
      for (let n = 0; ;) {
        const c = scratch[id]!;
        if (c === 0) touched[nTouched++] = id;
        scratch[id] = c + 1;
        if (c < counts[id]!) matches[n] = matches[n]! + 1;
        n++;
        if (n >= maxOrder || i + n >= length) break;
        const sym = hyp[i + n]!;
        if (sym < 0) break;
        const child = children.get(id * vocabSize + sym);
        if (child === undefined) break;
        id = child;
      }
    }
    for (let t = 0; t < nTouched; t++) scratch[touched[t]!] = 0;
  }
}
