// The benchmark's model, optimizer settings and batches, shared by bench.ts and profile.ts.
import { rng, type TransformerConfig } from '@rest/runtime';

/** d=256, 8 heads, FFN 1024, 3+3 layers, 8k vocabulary, pre-LN, ReLU, dropout off. */
export const CFG: TransformerConfig = {
  vocabSize: 8000,
  dModel: 256,
  heads: 8,
  ffnDim: 1024,
  encoderLayers: 3,
  decoderLayers: 3,
  maxPositions: 256,
  preNorm: true,
  activation: 'relu',
  dropout: 0,
  labelSmoothing: 0.1,
  padId: 0,
};
export const HYPER = { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
export const WARMUP = 20;

/** One batch: `[B, L] i64` each, row-major. */
export interface Batch {
  src: BigInt64Array;
  tgtIn: BigInt64Array;
  tgtOut: BigInt64Array;
}

/** `steps` batches of B sentences, lengths in [L*3/4, L], ids in [3, V), pad 0, BOS 1, EOS 2. */
export function makeBatches(steps: number, B: number, L: number): Batch[] {
  const r = rng(1234);
  return Array.from({ length: steps }, () => {
    const src = new BigInt64Array(B * L);
    const tgtIn = new BigInt64Array(B * L);
    const tgtOut = new BigInt64Array(B * L);
    for (let b = 0; b < B; b++) {
      const ls = L - Math.floor(r() * (L / 4));
      const lt = L - Math.floor(r() * (L / 4));
      for (let i = 0; i < ls; i++) src[b * L + i] = BigInt(3 + Math.floor(r() * (CFG.vocabSize - 3)));
      // A learnable target: a fixed permutation-ish function of the source.
      const y = Array.from(
        { length: lt },
        (_, i) => 3 + ((Number(src[b * L + (i % ls)]!) * 7 + i) % (CFG.vocabSize - 3)),
      );
      for (let i = 0; i < lt; i++) {
        tgtIn[b * L + i] = BigInt(i === 0 ? 1 : y[i - 1]!);
        tgtOut[b * L + i] = BigInt(i === lt - 1 ? 2 : y[i]!);
      }
    }
    return { src, tgtIn, tgtOut };
  });
}
