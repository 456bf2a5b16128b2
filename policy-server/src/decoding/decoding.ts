/**
 * Decoding settings in the server's domain: what a request asked for (ranges already checked by the
 * adapters), and the settings resolved against the serving policy's defaults (its
 * generation_config.json) into exactly what `generate` runs.
 *
 * Sampling seeds: the server wants a request to replay exactly whatever it was batched with, so each
 * source gets a seed derived from (request seed, source index in the request), `sourceSeed`, and
 * `generate` draws a source's samples from that seed alone (its `sourceSeeds`): sampled sources of
 * any requests share a call as greedy and beam search ones do.
 */
import { randomBytes } from 'node:crypto';
import type { GenerationDefaults } from '@rest/runtime';

/** A decoding strategy, or `default`: the policy's own (beam when its num_beams > 1, else greedy). */
export type StrategyRequest = 'default' | 'greedy' | 'sample' | 'beam';

/** What a request asked for; 0 / undefined means "the default" as the contract documents it. */
export interface DecodingRequest {
  readonly strategy: StrategyRequest;
  /** > 0; 0 = 1.0. */
  readonly temperature: number;
  /** 0 = no cut. */
  readonly topK: number;
  /** (0, 1]; 0 = 1. */
  readonly topP: number;
  /** Undefined: the server draws one. */
  readonly seed: bigint | undefined;
  /** 0 = the configured default, capped by the policy's max_length − 1. */
  readonly maxNewTokens: number;
  /** 0 = the policy's num_beams for `default`, else 4. */
  readonly numBeams: number;
  /** Undefined = the policy's for `default`, else 1.0. */
  readonly lengthPenalty: number | undefined;
  /** 0 = 1. */
  readonly numReturn: number;
}

/** The settings of one decoding, as `generate` runs them. */
export interface ResolvedDecoding {
  readonly strategy: 'greedy' | 'sample' | 'beam';
  readonly numReturn: number;
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly beamSize: number;
  readonly lengthPenalty: number;
  /** The request's sampler seed (drawn when it had none); 0n for greedy and beam. */
  readonly seed: bigint;
}

/** A problem with a request's decoding that only the serving policy reveals. */
export interface DecodingProblem {
  /** Field under the request's `decoding`, e.g. `num_return_sequences`. */
  readonly field: string;
  readonly problem: string;
}

/** The beam width when a request asks for BEAM with num_beams 0 (the contract's default). */
const DEFAULT_BEAMS = 4;
const UINT64_MASK = (1n << 64n) - 1n;

/** A fresh 64-bit sampler seed. */
export function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

/**
 * Resolves `request` against a policy's defaults; `problems` lists what does not fit (e.g. more
 * return sequences than beams), each naming its field.
 */
export function resolveDecoding(
  request: DecodingRequest,
  defaults: GenerationDefaults,
  defaultMaxNewTokens: number,
): { decoding: ResolvedDecoding; problems: DecodingProblem[] } {
  const problems: DecodingProblem[] = [];
  const policyBeams = Math.max(1, defaults.numBeams);
  const strategy = request.strategy === 'default' ? (policyBeams > 1 ? 'beam' : 'greedy') : request.strategy;
  const beamSize =
    request.numBeams > 0 ? request.numBeams : request.strategy === 'default' ? policyBeams : DEFAULT_BEAMS;
  const lengthPenalty =
    request.lengthPenalty ?? (request.strategy === 'default' ? defaults.lengthPenalty : 1);
  const policyMaxNew = Math.max(1, defaults.maxLength - 1);
  const maxNewTokens =
    request.maxNewTokens > 0 ? request.maxNewTokens : Math.min(defaultMaxNewTokens, policyMaxNew);
  const numReturn = request.numReturn > 0 ? request.numReturn : 1;
  if (strategy === 'greedy' && numReturn !== 1) {
    problems.push({ field: 'num_return_sequences', problem: `must be 1 for GREEDY (got ${numReturn})` });
  }
  if (strategy === 'beam' && numReturn > beamSize) {
    problems.push({
      field: 'num_return_sequences',
      problem: `must be at most num_beams (${beamSize}) for BEAM (got ${numReturn})`,
    });
  }
  const sampling = strategy === 'sample';
  return {
    decoding: {
      strategy,
      numReturn,
      maxNewTokens,
      temperature: sampling && request.temperature > 0 ? request.temperature : 1,
      topK: sampling ? request.topK : 0,
      topP: sampling && request.topP > 0 ? request.topP : 1,
      beamSize: strategy === 'beam' ? beamSize : 1,
      lengthPenalty: strategy === 'beam' ? lengthPenalty : 1,
      seed: sampling ? (request.seed ?? drawSeed()) : 0n,
    },
    problems,
  };
}

/** Rows one source occupies while decoding: its samples or beams. */
export function rowsPerSource(d: ResolvedDecoding): number {
  return d.strategy === 'sample' ? d.numReturn : d.strategy === 'beam' ? d.beamSize : 1;
}

/**
 * A batch's cost in tokens for one source: rows × (source tokens + new tokens), a bound on the
 * decoder cache it holds.
 */
export function sourceCost(d: ResolvedDecoding, sourceTokens: number): number {
  return rowsPerSource(d) * (sourceTokens + d.maxNewTokens);
}

/** The batching key of a decoding: requests with equal keys (and policy) may share batches. */
export function decodingKey(d: ResolvedDecoding): string {
  const { seed: _seed, ...rest } = d;
  return JSON.stringify(rest);
}

/**
 * The generator seed of source `index` of a request sampled under `seed` (splitmix64 of the two,
 * folded to 32 bits, which is what `generate` mixes from a seed).
 */
export function sourceSeed(seed: bigint, index: number): number {
  let z = (seed + 0x9e3779b97f4a7c15n * BigInt(index + 1)) & UINT64_MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & UINT64_MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & UINT64_MASK;
  z ^= z >> 31n;
  return Number((z ^ (z >> 32n)) & 0xffffffffn);
}
