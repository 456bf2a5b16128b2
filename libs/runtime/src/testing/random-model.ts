/** Small random models and inputs for decoding tests. */
import { ParamTable } from '../params/param-table.js';
import { transformerParams, type TransformerConfig } from '../models/config.js';
import { rng } from '../params/random.js';
import type { GenerationDefaults } from '../policy/bundle.js';

/** Generation defaults of the decoding tests: start and pad 0 (banned), end 1, 16 tokens at most. */
export const TEST_DEFAULTS: GenerationDefaults = {
  decoderStartTokenId: 0,
  eosTokenId: 1,
  padTokenId: 0,
  bannedTokenIds: [0],
  maxLength: 16,
  numBeams: 4,
  lengthPenalty: 1,
};

/** A tiny encoder–decoder (V = 50, d = 16, 2 + 2 layers): decoding tests in milliseconds. */
export const SMALL: TransformerConfig = {
  vocabSize: 50,
  dModel: 16,
  heads: 2,
  ffnDim: 32,
  encoderLayers: 2,
  decoderLayers: 2,
};

/** The table's initial parameters for `seed`, scaled by `scale` (a larger scale: peakier logits). */
export function randomParams(c: TransformerConfig, seed: number, scale: number): Float32Array {
  const table = new ParamTable(transformerParams(c));
  const p = table.initialize(new Float32Array(table.size), seed);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! * scale;
  return p;
}

/** `n` sources of 1–9 random tokens from [3, vocab) each, ending with the end token 1. */
export function randomSources(n: number, vocab: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const len = 1 + Math.floor(r() * 9);
    return [...Array.from({ length: len }, () => 3 + Math.floor(r() * (vocab - 3))), 1];
  });
}
