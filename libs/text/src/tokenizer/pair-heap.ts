/**
 * A binary max-heap of candidate merges for the BPE trainer, ordered by count and then, for a stable
 * and deterministic tie-break, by the smaller left id and the smaller right id. Entries go stale as
 * counts change; the trainer re-checks each popped entry against its live count (lazy deletion), which
 * is cheaper than a decrease-key heap over the ~10^5 pairs of a real corpus.
 */

/** One candidate merge: `count` occurrences (word-frequency weighted) of left id `a` followed by `b`. */
export interface PairEntry {
  readonly count: number;
  readonly a: number;
  readonly b: number;
}

function before(x: PairEntry, y: PairEntry): boolean {
  if (x.count !== y.count) return x.count > y.count;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}

/** Max-heap of `PairEntry` by (count desc, a asc, b asc). */
export class PairHeap {
  private readonly items: PairEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: PairEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as PairEntry;
      if (!before(entry, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = entry;
  }

  /** Removes and returns the first entry, or `undefined` when empty. */
  pop(): PairEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(items[r] as PairEntry, items[l] as PairEntry)) child = r;
      const c = items[child] as PairEntry;
      if (!before(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
