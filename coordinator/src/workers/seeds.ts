/**
 * Seeds of the workers' Generate calls. A Grow shard's sources are cut into fixed chunks (one
 * Generate call each) and chunk c samples under a seed mixed from the shard's seed and c, so a
 * redelivered message regenerates exactly the chunks it lacks with exactly the same samples, and
 * no two chunks of a shard share a random stream.
 *
 * It does not derive per-source seeds: the policy server seeds each source of a call from the
 * call's seed and the source's position (its contract: a request replays exactly with its seed),
 * so fixed chunks are what make a chunk's samples reproducible.
 */

const UINT64_MASK = (1n << 64n) - 1n;
/** 2^64 / φ, splitmix64's increment. */
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
/** FNV-1a 64-bit offset basis and prime. */
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;

/** splitmix64's output function of `x` (a bijection on uint64 with good avalanche). */
function mix64(x: bigint): bigint {
  let z = x & UINT64_MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & UINT64_MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & UINT64_MASK;
  return z ^ (z >> 31n);
}

/**
 * The sampler seed of chunk `chunk` (0-based) of a work message sampled under `seed`: a uint64,
 * the same for the same pair on every delivery and every worker.
 */
export function chunkSeed(seed: bigint, chunk: number): bigint {
  return mix64(seed + GOLDEN_GAMMA * BigInt(chunk + 1));
}

/**
 * A uint64 seed derived from a text (FNV-1a, then mixed): the fallback seed of a work message that
 * carries none, taken from its identity so that every delivery uses the same one.
 */
export function seedFromText(text: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) h = ((h ^ BigInt(byte)) * FNV_PRIME) & UINT64_MASK;
  return mix64(h);
}

/** Cuts `items` into consecutive chunks of at most `size` (≥ 1) items, in order. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
