/**
 * Batches of training units and their feeds. Both orders are functions of (seed, position) only, so
 * a resumed step trains on exactly the batch it would have had:
 *
 * - uniform: per epoch, units sorted by length with seeded jitter, cut so that rows × longest ≤ the
 *   token budget, then the batch order shuffled (as `rest pretrain` batches);
 * - priority: at step s, units drawn with replacement ∝ weight from a generator seeded by (seed, s)
 *   until the token budget is full (A-LoL's `good_priority`).
 *
 * Feed layout (B rows; pairs put every chosen row first, then the rejected rows in the same order):
 * `src [B, S] i64`, `tgt_in [B, T] i64` (start token, then the target shifted right), `tgt_out [B, T]
 * i64`, `mask [B, T] f32`, and the per-row data the objective reads: `reward [B]`, `baseline [B]`,
 * `reference_seq_logp [B]`, `reference_logp [B, T]` / `mle_logp [B, T]` (ℓ^ref_t), `value [B, T]`
 * (V(x) at every position: the Monte-Carlo baseline as OAC's behaviour value, γ = 1).
 */
import { hostTensor, rng, rowSeed, type HostTensor } from '@rest/runtime';
import type { Row, Unit } from './data.js';

/**
 * Batches of unit indices for `epoch`: deterministic in (seed, epoch). A unit longer than the budget
 * gets a batch of its own.
 */
export function epochBatches(
  units: readonly Unit[],
  maxTokens: number,
  seed: number,
  epoch: number,
): number[][] {
  const rand = rng(rowSeed(seed, epoch, 0x5eed));
  const keyed = units.map((u, i) => ({ i, k: u.length + rand() }));
  keyed.sort((a, b) => a.k - b.k);
  const batches: number[][] = [];
  let cur: number[] = [];
  let rows = 0;
  let longest = 0;
  for (const { i } of keyed) {
    const u = units[i]!;
    if (cur.length > 0 && (rows + u.rows.length) * Math.max(longest, u.length) > maxTokens) {
      batches.push(cur);
      cur = [];
      rows = 0;
      longest = 0;
    }
    cur.push(i);
    rows += u.rows.length;
    longest = Math.max(longest, u.length);
  }
  if (cur.length > 0) batches.push(cur);
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [batches[i], batches[j]] = [batches[j]!, batches[i]!];
  }
  return batches;
}

/**
 * The batch of step `step` (1-based) under priority sampling: draws ∝ `weight` (uniform when every
 * weight is 0) until one more unit would pass the token budget; at least one unit.
 */
export function priorityBatch(
  units: readonly Unit[],
  maxTokens: number,
  seed: number,
  step: number,
): number[] {
  const rand = rng(rowSeed(seed, step, 0x9a11));
  const cumulative = new Float64Array(units.length);
  let total = 0;
  units.forEach((u, i) => {
    total += Math.max(u.weight, 0);
    cumulative[i] = total;
  });
  const draw = (): number => {
    if (!(total > 0)) return Math.min(units.length - 1, Math.floor(rand() * units.length));
    const x = rand() * total;
    let lo = 0;
    let hi = units.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const out: number[] = [];
  let rows = 0;
  let longest = 0;
  // Bounded: a batch never holds more draws than the budget has tokens.
  for (let n = 0; n < maxTokens; n++) {
    const i = draw();
    const u = units[i]!;
    if (out.length > 0 && (rows + u.rows.length) * Math.max(longest, u.length) > maxTokens) break;
    out.push(i);
    rows += u.rows.length;
    longest = Math.max(longest, u.length);
  }
  return out;
}

/** The rows of a batch: single rows in order; for pairs every chosen row, then every rejected row. */
export function batchRows(units: readonly Unit[], idx: readonly number[]): Row[] {
  const width = units[idx[0]!]!.rows.length;
  const out: Row[] = [];
  for (let r = 0; r < width; r++) for (const i of idx) out.push(units[i]!.rows[r]!);
  return out;
}

/** Token-id feeds of rows: `<prefix>src`, `<prefix>tgt_in`, `<prefix>tgt_out` and the mask `[B, T] f32`. */
export function tokenFeeds(
  rows: readonly { readonly src: readonly number[]; readonly tgt: readonly number[] }[],
  pad: number,
  decoderStart: number,
  prefix = '',
): { feeds: Record<string, HostTensor>; mask: Float32Array; T: number; tokens: number } {
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.src.length));
  const T = Math.max(...rows.map((r) => r.tgt.length));
  const src = new BigInt64Array(B * S).fill(BigInt(pad));
  const tgtIn = new BigInt64Array(B * T).fill(BigInt(pad));
  const tgtOut = new BigInt64Array(B * T).fill(BigInt(pad));
  const mask = new Float32Array(B * T);
  let tokens = 0;
  rows.forEach((r, b) => {
    r.src.forEach((t, j) => (src[b * S + j] = BigInt(t)));
    tgtIn[b * T] = BigInt(decoderStart);
    r.tgt.forEach((t, j) => {
      tgtOut[b * T + j] = BigInt(t);
      mask[b * T + j] = 1;
      if (j + 1 < T) tgtIn[b * T + j + 1] = BigInt(t);
    });
    tokens += r.tgt.length;
  });
  return {
    feeds: {
      [`${prefix}src`]: hostTensor('i64', [B, S], src),
      [`${prefix}tgt_in`]: hostTensor('i64', [B, T], tgtIn),
      [`${prefix}tgt_out`]: hostTensor('i64', [B, T], tgtOut),
    },
    mask,
    T,
    tokens,
  };
}

/**
 * The feeds of a batch of rows for an objective reading `names` (its data inputs; `token_logp`,
 * `mean_logp` and the online inputs are not fed here). Throws when a needed reference log-prob is
 * missing (a preparation bug).
 */
export function rowFeeds(
  rows: readonly Row[],
  names: ReadonlySet<string>,
  pad: number,
  decoderStart: number,
): { feeds: Record<string, HostTensor>; tokens: number } {
  const { feeds, mask, T, tokens } = tokenFeeds(rows, pad, decoderStart);
  const B = rows.length;
  const perRow = (f: (r: Row) => number): HostTensor => hostTensor('f32', [B], Float32Array.from(rows, f));
  const perToken = (f: (r: Row, t: number) => number): HostTensor => {
    const out = new Float32Array(B * T);
    rows.forEach((r, b) => {
      for (let t = 0; t < r.tgt.length; t++) out[b * T + t] = f(r, t);
    });
    return hostTensor('f32', [B, T], out);
  };
  const refTok = (r: Row, t: number): number => {
    if (r.refTokenLogp === undefined) throw new Error('reference token log-probs were not prepared');
    return r.refTokenLogp[t]!;
  };
  for (const name of names) {
    switch (name) {
      case 'token_logp':
      case 'mean_logp':
      case 'online_logp':
      case 'online_mask':
      case 'online_reference_seq_logp':
      case 'lagged_logp':
      // BVMPO's: computed in the step graph, its duals are parameters, λ is fed by the executor.
      case 'policy_logprobs':
      case 'behaviour_logprobs':
      case 'old_logprobs':
      case 'eta_raw':
      case 'alpha_raw':
      case 'kl_weight':
        break;
      case 'mask':
        feeds.mask = hostTensor('f32', [B, T], mask);
        break;
      case 'reward':
        feeds.reward = perRow((r) => r.reward);
        break;
      case 'baseline':
        feeds.baseline = perRow((r) => r.baseline);
        break;
      case 'reference_seq_logp':
        feeds.reference_seq_logp = perRow((r) => {
          if (Number.isNaN(r.refSeqLogp)) throw new Error('reference log-probs were not prepared');
          return r.refSeqLogp;
        });
        break;
      case 'reference_logp':
      case 'mle_logp':
        feeds[name] = perToken(refTok);
        break;
      case 'value':
        feeds.value = perToken((r) => r.baseline);
        break;
      default:
        throw new Error(`objective input ${name} has no feed`);
    }
  }
  return { feeds, tokens };
}
