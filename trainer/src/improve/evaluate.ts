/**
 * Validation of a policy inside an Improve step (docs/ALGORITHMS.md §2.3): decode the validation
 * sources with the run's fixed decoding, score the outputs with the run's reward, and report their mean
 * reward (what checkpoints are chosen by) and corpus BLEU against the references.
 */
import { generate, type DecodingOptions, type Seq2SeqModel } from '@rest/runtime';
import { corpusBleu, type Tokenizer } from '@rest/text';
import type { RewardFn, ValidItem } from './data.js';

/** One validation's result. */
export interface Validation {
  /** Mean reward of the outputs. */
  readonly reward: number;
  /** Corpus BLEU; NaN when some source has no reference. */
  readonly bleu: number;
  readonly hypotheses: readonly string[];
}

/** Decodes `sources` in length-sorted batches; returns the best candidate's text per source, in order. */
export async function translate(
  model: Seq2SeqModel,
  tok: Tokenizer,
  sources: readonly string[],
  decoding: DecodingOptions,
  batch: number,
  heartbeat?: () => Promise<void>,
): Promise<string[]> {
  const order = sources
    .map((s, i) => ({ i, ids: tok.encode(s) }))
    .sort((a, b) => a.ids.length - b.ids.length);
  const texts = new Array<string>(sources.length).fill('');
  for (let k = 0; k < order.length; k += batch) {
    const chunk = order.slice(k, k + batch).filter((c) => c.ids.length > 0);
    if (chunk.length > 0) {
      const res = await generate(
        model,
        chunk.map((c) => c.ids),
        { ...decoding, numReturn: 1 },
      );
      chunk.forEach((c, j) => (texts[c.i] = tok.decode(res[j]![0]!.tokenIds)));
    }
    await heartbeat?.();
  }
  return texts;
}

/** Validates `model` on `valid`. Rethrows the reward function's errors. */
export async function validate(
  model: Seq2SeqModel,
  tok: Tokenizer,
  valid: readonly ValidItem[],
  reward: RewardFn,
  decoding: DecodingOptions,
  batch: number,
  heartbeat?: () => Promise<void>,
): Promise<Validation> {
  const hypotheses = await translate(
    model,
    tok,
    valid.map((v) => v.source),
    decoding,
    batch,
    heartbeat,
  );
  const rewards = await reward(
    valid.map((v, i) => ({
      source: v.source,
      hypothesis: hypotheses[i]!,
      ...(v.reference === undefined ? {} : { reference: v.reference }),
    })),
  );
  const mean = rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length);
  const refs = valid.map((v) => v.reference);
  const bleu = refs.every((r): r is string => r !== undefined)
    ? corpusBleu(hypotheses, [refs]).score
    : Number.NaN;
  return { reward: mean, bleu, hypotheses };
}
