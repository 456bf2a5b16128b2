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
  readonly lo: number;
  /** [hi - lo] cost of cells lo..hi-1 */
  readonly cost: Int32Array;
  /** [hi - lo] EDIT_OP of cells lo..hi-1 */
  readonly op: Uint8Array;
}

interface CacheNode {
  readonly row: Row;
  readonly children: Map<number, CacheNode>;
}

function costAt(row: Row, j: number): number {
  const k = j - row.lo;
  return k >= 0 && k < row.cost.length ? row.cost[k]! : INF;
}

function opAt(row: Row, j: number): number {
  const k = j - row.lo;
  return k >= 0 && k < row.op.length ? row.op[k]! : EDIT_OP.undef;
}

/** Beam edit distance against one reference, with its prefix cache. Not shared across threads. */
export class BeamEditDistance {
  private readonly ref: Int32Array;
  private readonly initialRow: Row;
  private readonly cache = new Map<number, CacheNode>();
  private cacheSize = 0;
  private rows: Row[] = [];
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
    this.initialRow = { lo: 0, cost, op: new Uint8Array(n + 1).fill(EDIT_OP.ins) };
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

    const ratio = nH > 0 ? nR / nH : 1;
    const beam = BEAM_WIDTH < ratio / 2 ? Math.ceil(ratio / 2 + BEAM_WIDTH) : BEAM_WIDTH;
    for (let i = start + 1; i <= nH; i++) {
      const diag = Math.floor(i * ratio);
      const lo = Math.max(0, diag - beam);
      const hi = i === nH ? nR + 1 : Math.min(nR + 1, diag + beam);
      const width = Math.max(0, hi - lo);
      const cost = new Int32Array(width).fill(INF);
      const op = new Uint8Array(width).fill(EDIT_OP.undef);
      const prev = rows[i - 1]!;
      const w = hyp[i - 1]!;
      for (let j = lo; j < hi; j++) {
        const k = j - lo;
        if (j === 0) {
          cost[k] = costAt(prev, 0) + COST_DEL;
          op[k] = EDIT_OP.del;
          continue;
        }
        let best = INF;
        let bestOp: number = EDIT_OP.undef;
        const same = w === ref[j - 1];
        const viaSub = costAt(prev, j - 1) + (same ? 0 : COST_SUB);
        if (best > viaSub) {
          best = viaSub;
          bestOp = same ? EDIT_OP.nop : EDIT_OP.sub;
        }
        const viaDel = costAt(prev, j) + COST_DEL;
        if (best > viaDel) {
          best = viaDel;
          bestOp = EDIT_OP.del;
        }
        const viaIns = (k > 0 ? cost[k - 1]! : INF) + COST_INS;
        if (best > viaIns) {
          best = viaIns;
          bestOp = EDIT_OP.ins;
        }
        cost[k] = best;
        op[k] = bestOp;
      }
      rows[i] = { lo, cost, op };
    }

    this.addToCache(hyp, start);
    this.backtrack(nH, nR);
    return costAt(rows[nH]!, nR);
  }

  private addToCache(hyp: Int32Array, start: number): void {
    if (this.cacheSize >= MAX_CACHE_SIZE) return;
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
