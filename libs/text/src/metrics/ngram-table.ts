/**
 * Reference n-gram counts over integer symbols, and clipped matching of a hypothesis against them:
 * the inner loop of BLEU (word n-grams, orders 1..4) and chrF (character n-grams 1..6, word n-grams
 * 1..2). sacrebleu counts n-grams in `Counter`s keyed by tuples or substrings; here each distinct
 * reference n-gram gets an integer id through a trie whose edges (parent id, next symbol) → child id
 * live in one open-addressing hash table of typed arrays (unigrams hang off a root of id -1).
 * Symbols are any non-negative int32: code points for characters, interned ids for words.
 *
 * Matching walks each hypothesis position forward order by order and stops at the first extension
 * the references never contain (no longer n-gram from there can match), so it builds no strings and
 * allocates nothing: clipped counts (`min(hyp count, ref count)`, summed per order) come from a
 * scratch array of per-n-gram hypothesis counts, reset through a list of touched ids.
 *
 * A table is not re-entrant (the scratch is shared), which is safe in single-threaded JS because
 * {@link NgramTable.addMatches} never yields.
 */

/** Interns `items` into `vocab` (new items get the next id) and returns their ids. */
export function internAll<K>(vocab: Map<K, number>, items: readonly K[]): Int32Array {
  const ids = new Int32Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    let id = vocab.get(item);
    if (id === undefined) {
      id = vocab.size;
      vocab.set(item, id);
    }
    ids[i] = id;
  }
  return ids;
}

const ROOT = -1;

/** Slot of edge (parent, symbol) in a table of 2^(32 - shift) slots (Fibonacci hashing). */
function hash(parent: number, symbol: number, shift: number): number {
  return Math.imul(Math.imul(parent, 0x85ebca6b) ^ symbol, 0x9e3779b1) >>> shift;
}

/**
 * Reference n-gram counts of orders 1..maxOrder, merged over several sequences by taking each
 * n-gram's maximum count (sacrebleu's multi-reference BLEU clipping); one sequence gives its counts.
 * {@link build} may be called again to reuse the buffers for other references: scoring against
 * raw reference strings does that, so it allocates nothing per call once warm.
 */
export class NgramTable {
  /** Highest n-gram order stored. */
  readonly maxOrder: number;
  /** Number of distinct n-grams. */
  size = 0;
  private mask = 0;
  /** 32 - log2(capacity): multiplicative hashing keeps the top bits */
  private shift = 32;
  /** [capacity] edge parent id per slot */
  private keyParent = new Int32Array(0);
  /** [capacity] edge symbol per slot */
  private keySymbol = new Int32Array(0);
  /** [capacity] child n-gram id per slot, -1 when empty */
  private child = new Int32Array(0);
  /** [>= size] the slot of each n-gram id, to clear the hash table in O(size) */
  private slotOf = new Int32Array(0);
  /** [>= size] reference count of each n-gram (max over sequences) */
  private counts = new Int32Array(0);
  /** [>= size] per-sequence counts while merging several sequences */
  private local = new Int32Array(0);
  /** [>= size] hypothesis count during one addMatches call, zero between calls */
  private scratch = new Int32Array(0);
  /** [>= size] ids whose scratch (or local) entry is non-zero */
  private touched = new Int32Array(0);

  /**
   * An empty table; fill it with {@link build}.
   * @param maxOrder highest order (>= 1).
   */
  constructor(maxOrder: number) {
    this.maxOrder = maxOrder;
  }

  /**
   * Replaces the contents with the n-grams of `sequences` and returns `this`.
   * @param sequences symbols (non-negative int32) of each reference.
   */
  build(sequences: readonly Int32Array[]): this {
    const maxOrder = this.maxOrder;
    for (let id = 0; id < this.size; id++) this.child[this.slotOf[id]!] = -1;
    this.counts.fill(0, 0, this.size);
    let bound = 0;
    for (const seq of sequences) bound += seq.length * maxOrder;
    if (this.child.length < 2 * bound || this.child.length === 0) {
      let capacity = 16;
      while (capacity < 2 * bound) capacity *= 2;
      this.mask = capacity - 1;
      this.shift = 32 - Math.log2(capacity);
      this.keyParent = new Int32Array(capacity);
      this.keySymbol = new Int32Array(capacity);
      this.child = new Int32Array(capacity).fill(-1);
    }
    if (this.counts.length < bound) {
      this.slotOf = new Int32Array(bound);
      this.counts = new Int32Array(bound);
      this.local = new Int32Array(bound);
      this.scratch = new Int32Array(bound);
      this.touched = new Int32Array(bound);
    }
    const { counts, local, touched, slotOf, keyParent, keySymbol, child } = this;
    // one sequence: count directly; several: count each into `local`, then keep the maximum
    const merge = sequences.length > 1;
    let size = 0;
    for (const seq of sequences) {
      let nSeen = 0;
      const len = seq.length;
      for (let i = 0; i < len; i++) {
        let id = ROOT;
        for (let n = 0; n < maxOrder && i + n < len; n++) {
          const slot = this.slot(id, seq[i + n]!);
          let next = child[slot]!;
          if (next < 0) {
            next = size++;
            keyParent[slot] = id;
            keySymbol[slot] = seq[i + n]!;
            child[slot] = next;
            slotOf[next] = slot;
          }
          id = next;
          if (!merge) {
            counts[id] = counts[id]! + 1;
          } else {
            if (local[id] === 0) touched[nSeen++] = id;
            local[id] = local[id]! + 1;
          }
        }
      }
      for (let t = 0; t < nSeen; t++) {
        const id = touched[t]!;
        if (local[id]! > counts[id]!) counts[id] = local[id]!;
        local[id] = 0;
      }
    }
    this.size = size;
    return this;
  }

  /** The slot holding edge (parent, symbol), or the empty slot where it would go. */
  private slot(parent: number, symbol: number): number {
    const { mask, keyParent, keySymbol, child } = this;
    let h = hash(parent, symbol, this.shift);
    while (child[h]! >= 0 && (keyParent[h] !== parent || keySymbol[h] !== symbol)) h = (h + 1) & mask;
    return h;
  }

  /**
   * Adds to `matches[n - 1]` the clipped count of the hypothesis n-grams of order n, for
   * n = 1..maxOrder: the sum over distinct n-grams of min(hypothesis count, reference count).
   * @param hyp hypothesis symbols; a negative symbol matches nothing.
   * @param length how many entries of `hyp` to read.
   * @param matches accumulators, at least maxOrder long.
   */
  addMatches(hyp: Int32Array, length: number, matches: Float64Array): void {
    if (this.size === 0) return;
    const { counts, scratch, touched, maxOrder, child, keyParent, keySymbol, mask, shift } = this;
    let nTouched = 0;
    for (let i = 0; i < length; i++) {
      let id = ROOT;
      for (let n = 0; n < maxOrder && i + n < length; n++) {
        const sym = hyp[i + n]!;
        if (sym < 0) break;
        let h = hash(id, sym, shift);
        let next = child[h]!;
        while (next >= 0 && (keyParent[h] !== id || keySymbol[h] !== sym)) {
          h = (h + 1) & mask;
          next = child[h]!;
        }
        if (next < 0) break;
        id = next;
        const c = scratch[id]!;
        if (c === 0) touched[nTouched++] = id;
        scratch[id] = c + 1;
        if (c < counts[id]!) matches[n] = matches[n]! + 1;
      }
    }
    for (let t = 0; t < nTouched; t++) scratch[touched[t]!] = 0;
  }
}
