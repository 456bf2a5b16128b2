/**
 * Tiny policies and data for the trainer's tests: a word-for-word "German → English" toy corpus over a
 * 20-word lexicon, a BPE tokenizer trained on it, a 1+1-layer d=16 Transformer bundle with random
 * weights and its trainer state, and Grow-like candidates (the reference with words dropped or
 * swapped) scored by sentence chrF. Nothing is downloaded; everything is seeded.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ParamTable, rng, transformerParams, writePolicyBundle, type TransformerConfig } from '@rest/runtime';
import { loadTokenizer, sentenceChrf, trainBpe, writeTokenizerFiles } from '@rest/text';
import type { ScoredCandidate, ValidItem } from '../improve/data.js';

const LEXICON: readonly (readonly [string, string])[] = [
  ['ein', 'a'],
  ['mann', 'man'],
  ['frau', 'woman'],
  ['hund', 'dog'],
  ['katze', 'cat'],
  ['läuft', 'runs'],
  ['sitzt', 'sits'],
  ['spielt', 'plays'],
  ['im', 'in the'],
  ['park', 'park'],
  ['haus', 'house'],
  ['rot', 'red'],
  ['groß', 'big'],
  ['klein', 'small'],
  ['und', 'and'],
  ['mit', 'with'],
  ['ball', 'ball'],
  ['garten', 'garden'],
  ['kind', 'child'],
  ['schnell', 'fast'],
];

/** `n` toy sentence pairs, seeded. */
export function toyCorpus(n: number, seed: number): { source: string; reference: string }[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const len = 2 + Math.floor(r() * 4);
    const words = Array.from({ length: len }, () => LEXICON[Math.floor(r() * LEXICON.length)]!);
    return { source: words.map((w) => w[0]).join(' '), reference: words.map((w) => w[1]).join(' ') };
  });
}

/** The tiny model's config (vocabulary from the tokenizer). */
export function tinyConfig(vocabSize: number): TransformerConfig {
  return {
    vocabSize,
    dModel: 16,
    heads: 2,
    ffnDim: 32,
    encoderLayers: 1,
    decoderLayers: 1,
    maxPositions: 64,
    padId: 0,
    dropout: 0,
    preNorm: true,
  };
}

/** Writes a tokenizer and a random tiny policy bundle (with trainer state) under `dir`; returns the bundle folder. */
export async function tinyPolicy(dir: string, seed = 1): Promise<string> {
  const corpus = toyCorpus(400, 99);
  const tokDir = join(dir, 'tokenizer');
  await mkdir(tokDir, { recursive: true });
  await writeTokenizerFiles(
    tokDir,
    trainBpe(
      corpus.flatMap((p) => [p.source, p.reference]),
      { vocabSize: 320 },
    ),
  );
  const tok = await loadTokenizer(tokDir);
  const config = tinyConfig(tok.vocabSize);
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), seed);
  const bundle = join(dir, 'base');
  await writePolicyBundle(bundle, {
    config,
    params,
    tokenizerDir: tokDir,
    trainerState: { step: 0, params, slots: {} },
    lineage: { producer: 'trainer tests' },
    generation: { maxLength: 24, numBeams: 1 },
  });
  return bundle;
}

/** Sentence chrF / 100, the tests' reward. */
export function chrfReward(hypothesis: string, reference: string): number {
  return sentenceChrf(hypothesis, [reference]).score / 100;
}

/**
 * `perSource` candidates per source (the reference with words dropped or swapped, seeded), scored by
 * chrF against the reference; `withReference` adds the reference itself as a candidate.
 */
export function toyCandidates(
  pairs: readonly { source: string; reference: string }[],
  perSource: number,
  seed: number,
  withReference = false,
): ScoredCandidate[] {
  const r = rng(seed);
  const vocab = LEXICON.map((w) => w[1]);
  const out: ScoredCandidate[] = [];
  pairs.forEach((p, idx) => {
    for (let k = 0; k < perSource; k++) {
      const words = p.reference.split(' ').flatMap((w) => {
        const x = r();
        if (x < (0.2 * k) / perSource) return [];
        if (x < (0.5 * k) / perSource) return [vocab[Math.floor(r() * vocab.length)]!];
        return [w];
      });
      const text = words.length === 0 ? vocab[0]! : words.join(' ');
      out.push({
        key: `${idx}/${k}`,
        sourceId: String(idx),
        source: p.source,
        text,
        reward: chrfReward(text, p.reference),
        isReference: false,
      });
    }
    if (withReference)
      out.push({
        key: `${idx}/ref`,
        sourceId: String(idx),
        source: p.source,
        text: p.reference,
        reward: 1,
        isReference: true,
      });
  });
  return out;
}

/** Validation items of the toy task. */
export function toyValid(n: number, seed: number): ValidItem[] {
  return toyCorpus(n, seed).map((p) => ({ source: p.source, reference: p.reference }));
}
