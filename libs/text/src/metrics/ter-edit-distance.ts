/**
 * The word-level edit distance inside TER, reproducing sacrebleu's `BeamEditDistance`
 * (sacrebleu/metrics/lib_ter.py): Levenshtein distance with unit costs, computed only in a band of
 * ±25 cells (wider for very unequal lengths) around the "pseudo-diagonal" i·|ref|/|hyp|, except in
 * the last row; ties prefer match/substitution, then deletion, then insertion (the order that,
 * after sacrebleu flips the trace, reproduces Tercom's alignment). Rows are cached in a trie keyed
 * by hypothesis prefixes, because the shift search re-scores many permutations that share prefixes;
 * a cached row is only reused for hypotheses of the same length, which every call within one TER
 * computation has (shifts preserve length), so results never depend on the cache.
 *
 * Rows are stored as their band only: outside it a cell is "infinite" with an undefined operation,
 * exactly what sacrebleu's pre-filled rows hold there.
 */

/** Edit operations of a trace, from the hypothesis' point of view (rewriting hyp into ref). */
export const EDIT_OP = { nop: 0, sub: 1, ins: 2, del: 3, undef: 4 } as const;

const COST_INS = 1;
const COST_DEL = 1;
const COST_SUB = 1;
const BEAM_WIDTH = 25;
const MAX_CACHE_SIZE = 10000;
// Stands in for sacrebleu's int(1e16); +1 still fits in int32, and no finite cost gets near it.
const INF = 0x3fffffff;

interface Row {
  /** first column held */
  lo: number;
  /** number of columns held: lo..lo+width-1 */
  width: number;
  /** [>= width] cost of cells lo.. */
  cost: Int32Array;
  /** [>= width] EDIT_OP of cells lo.. */
  op: Uint8Array;
}

interface CacheNode {
  readonly row: Row;
  readonly children: Map<number, CacheNode>;
}

function costAt(row: Row, j: number): number {
  const k = j - row.lo;
  return k >= 0 && k < row.width ? row.cost[k]! : INF;
}

function opAt(row: Row, j: number): number {
  const k = j - row.lo;
  return k >= 0 && k < row.width ? row.op[k]! : EDIT_OP.undef;
}

function newRow(width: number): Row {
  return { lo: 0, width, cost: new Int32Array(width), op: new Uint8Array(width) };
}

/** Beam edit distance against one reference, with its prefix cache. Not shared across threads. */
export class BeamEditDistance {
  private readonly ref: Int32Array;
  private readonly initialRow: Row;
  private readonly cache = new Map<number, CacheNode>();
  private cacheSize = 0;
  private rows: Row[] = [];
  /** reusable rows for calls made once the cache is full (their rows are not kept) */
  private scratch: Row[] = [];
  /** [traceLength] the last call's operations in order, see EDIT_OP */
  trace = new Uint8Array(64);
  /** Number of valid entries in {@link trace}. */
  traceLength = 0;

  /** @param ref reference word ids. */
  constructor(ref: Int32Array) {
    this.ref = ref;
    const n = ref.length;
    const cost = new Int32Array(n + 1);
    for (let j = 0; j <= n; j++) cost[j] = j * COST_INS;
    this.initialRow = { lo: 0, width: n + 1, cost, op: new Uint8Array(n + 1).fill(EDIT_OP.ins) };
  }

  /**
   * The edit distance of `hyp` to the reference; also sets {@link trace}.
   * @throws {Error} if the trace leaves the band (sacrebleu raises there too; not seen in practice).
   */
  distance(hyp: Int32Array): number {
    const nH = hyp.length;
    const nR = this.ref.length;
    const ref = this.ref;
    if (this.rows.length < nH + 1) this.rows = new Array<Row>(nH + 1);
    const rows = this.rows;
    rows[0] = this.initialRow;

    let start = 0;
    let level: Map<number, CacheNode> | undefined = this.cache;
    while (start < nH) {
      const hit: CacheNode | undefined = level.get(hyp[start]!);
      if (hit === undefined) break;
      start++;
      rows[start] = hit.row;
      level = hit.children;
    }

    // Rows are kept only while the cache has room; afterwards reuse the same buffers.
    const keep = this.cacheSize < MAX_CACHE_SIZE;
    const ratio = nH > 0 ? nR / nH : 1;
    const beam = BEAM_WIDTH < ratio / 2 ? Math.ceil(ratio / 2 + BEAM_WIDTH) : BEAM_WIDTH;
    for (let i = start + 1; i <= nH; i++) {
      const pseudoDiag = Math.floor(i * ratio);
      const lo = Math.max(0, pseudoDiag - beam);
      const hi = i === nH ? nR + 1 : Math.min(nR + 1, pseudoDiag + beam);
      const width = Math.max(0, hi - lo);
      const row = keep ? newRow(width) : this.scratchRow(i, width);
      row.lo = lo;
      const { cost, op } = row;
      const prev = rows[i - 1]!;
      const pc = prev.cost;
      const plo = prev.lo;
      const phi = prev.lo + prev.width;
      const w = hyp[i - 1]!;
      // every cell of the band is written below, so no INF pre-fill is needed; `diag` carries the
      // previous row's cell j-1 from one column to the next, `left` this row's cell j-1
      let diag = lo - 1 >= plo && lo - 1 < phi ? pc[lo - 1 - plo]! : INF;
      let left = INF;
      for (let j = lo; j < hi; j++) {
        const k = j - lo;
        const up = j >= plo && j < phi ? pc[j - plo]! : INF;
        if (j === 0) {
          left = up + COST_DEL;
          cost[k] = left;
          op[k] = EDIT_OP.del;
          diag = up;
          continue;
        }
        // ties prefer substitution/match, then deletion, then insertion (strict comparisons)
        let best = INF;
        let bestOp: number = EDIT_OP.undef;
        const same = w === ref[j - 1];
        const viaSub = diag + (same ? 0 : COST_SUB);
        if (best > viaSub) {
          best = viaSub;
          bestOp = same ? EDIT_OP.nop : EDIT_OP.sub;
        }
        const viaDel = up + COST_DEL;
        if (best > viaDel) {
          best = viaDel;
          bestOp = EDIT_OP.del;
        }
        const viaIns = left + COST_INS;
        if (best > viaIns) {
          best = viaIns;
          bestOp = EDIT_OP.ins;
        }
        cost[k] = best;
        op[k] = bestOp;
        left = best;
        diag = up;
      }
      rows[i] = row;
    }

    if (keep) this.addToCache(hyp, start);
    this.backtrack(nH, nR);
    return costAt(rows[nH]!, nR);
  }

  private scratchRow(i: number, width: number): Row {
    let row = this.scratch[i];
    if (row === undefined || row.cost.length < width) {
      row = newRow(Math.max(width, 2 * BEAM_WIDTH + 2));
      this.scratch[i] = row;
    }
    row.width = width;
    return row;
  }

  private addToCache(hyp: Int32Array, start: number): void {
    let level = this.cache;
    for (let i = 0; i < start; i++) level = level.get(hyp[i]!)!.children;
    for (let i = start; i < hyp.length; i++) {
      const node: CacheNode = { row: this.rows[i + 1]!, children: new Map() };
      level.set(hyp[i]!, node);
      this.cacheSize++;
      level = node.children;
    }
  }

  private backtrack(nH: number, nR: number): void {
    if (this.trace.length < nH + nR) this.trace = new Uint8Array(Math.max(nH + nR, this.trace.length * 2));
    const trace = this.trace;
    let k = nH + nR;
    let i = nH;
    let j = nR;
    while (i > 0 || j > 0) {
      const op = opAt(this.rows[i]!, j);
      trace[--k] = op;
      if (op === EDIT_OP.nop || op === EDIT_OP.sub) {
        i--;
        j--;
      } else if (op === EDIT_OP.ins) {
        j--;
      } else if (op === EDIT_OP.del) {
        i--;
      } else {
        throw new Error(`TER edit distance: trace left the beam at (${i}, ${j})`);
      }
    }
    // the trace was written right-aligned; move it to the front
    const length = nH + nR - k;
    trace.copyWithin(0, k, nH + nR);
    this.traceLength = length;
  }
}
