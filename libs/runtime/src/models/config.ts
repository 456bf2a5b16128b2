/**
 * The encoder–decoder Transformer's configuration and its parameter table. Dimension letters used by
 * the model modules: B batch, S source length, T target length, V vocabulary, D model width,
 * H heads, K = D/H head width, F feed-forward width, N = B·T target tokens.
 */
import type { ParamSpec } from '../params/param-table.js';

/** Hyperparameters of the model. */
export interface TransformerConfig {
  /** V */
  vocabSize: number;
  /** D */
  dModel: number;
  /** H; must divide D */
  heads: number;
  /** F */
  ffnDim: number;
  encoderLayers: number;
  decoderLayers: number;
  /** Longest position the sinusoidal table covers. @default 512 */
  maxPositions?: number;
  /** Pre-LN (norm inside the residual branch) or post-LN (after the residual add). @default true */
  preNorm?: boolean;
  /** @default 'relu' */
  activation?: 'relu' | 'gelu';
  /** Dropout on embeddings, attention weights, branch outputs and FFN activations. @default 0 */
  dropout?: number;
  /** Label smoothing ε of the cross-entropy. @default 0.1 */
  labelSmoothing?: number;
  /** Padding token id (masked in attention and loss). @default 0 */
  padId?: number;
  /** Multiply embeddings by √D (Marian, fairseq). @default true */
  scaleEmbedding?: boolean;
  /** LayerNorm epsilon. @default 1e-5 */
  lnEps?: number;
}

/** Thrown for an inconsistent configuration. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** Checks a config; throws ModelConfigError listing every problem. */
export function checkConfig(c: TransformerConfig): void {
  const problems: string[] = [];
  for (const k of ['vocabSize', 'dModel', 'heads', 'ffnDim', 'encoderLayers', 'decoderLayers'] as const)
    if (!Number.isInteger(c[k]) || c[k] < (k.endsWith('Layers') ? 0 : 1))
      problems.push(`${k}: must be a positive integer, got ${c[k]}`);
  if (c.dModel % c.heads !== 0) problems.push(`heads: ${c.heads} does not divide dModel ${c.dModel}`);
  const p = c.dropout ?? 0;
  if (!(p >= 0 && p < 1)) problems.push(`dropout: must be in [0, 1), got ${p}`);
  if (problems.length > 0) throw new ModelConfigError(problems.join('; '));
}

function linear(name: string, fanIn: number, fanOut: number): ParamSpec[] {
  // Xavier-uniform weights, zero biases (as fairseq/Marian).
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return [
    { name: `${name}.w`, shape: [fanIn, fanOut], init: { kind: 'uniform', limit } },
    { name: `${name}.b`, shape: [fanOut], init: { kind: 'zeros' } },
  ];
}

function norm(name: string, d: number): ParamSpec[] {
  return [
    { name: `${name}.g`, shape: [d], init: { kind: 'ones' } },
    { name: `${name}.b`, shape: [d], init: { kind: 'zeros' } },
  ];
}

function attention(name: string, d: number): ParamSpec[] {
  return ['q', 'k', 'v', 'o'].flatMap((p) => linear(`${name}.${p}`, d, d));
}

/**
 * The ordered parameter table: `embed [V, D]` (shared by encoder input, decoder input and output
 * projection), then per encoder layer `enc.<i>.{self_attn.{q,k,v,o},ln1,ffn.{fc1,fc2},ln2}`, per
 * decoder layer `dec.<i>.{self_attn,ln1,cross_attn,ln2,ffn,ln3}`, and (pre-LN) `enc.ln`, `dec.ln`.
 */
export function transformerParams(c: TransformerConfig): ParamSpec[] {
  checkConfig(c);
  const { vocabSize: V, dModel: D, ffnDim: F } = c;
  const specs: ParamSpec[] = [
    { name: 'embed', shape: [V, D], init: { kind: 'normal', std: D ** -0.5 }, decay: true },
  ];
  const ffn = (name: string): ParamSpec[] => [...linear(`${name}.fc1`, D, F), ...linear(`${name}.fc2`, F, D)];
  for (let i = 0; i < c.encoderLayers; i++) {
    specs.push(
      ...attention(`enc.${i}.self_attn`, D),
      ...norm(`enc.${i}.ln1`, D),
      ...ffn(`enc.${i}.ffn`),
      ...norm(`enc.${i}.ln2`, D),
    );
  }
  for (let i = 0; i < c.decoderLayers; i++) {
    specs.push(
      ...attention(`dec.${i}.self_attn`, D),
      ...norm(`dec.${i}.ln1`, D),
      ...attention(`dec.${i}.cross_attn`, D),
      ...norm(`dec.${i}.ln2`, D),
      ...ffn(`dec.${i}.ffn`),
      ...norm(`dec.${i}.ln3`, D),
    );
  }
  if (c.preNorm ?? true) specs.push(...norm('enc.ln', D), ...norm('dec.ln', D));
  return specs;
}
