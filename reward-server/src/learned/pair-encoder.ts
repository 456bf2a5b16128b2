/**
 * Turns an item into the token ids of one cross-encoder input, following the manifest's pairing
 * template. E.g. `["{source}", "</s>", "{hypothesis}", "</s>"]` gives
 * `source ids · </s> · hypothesis ids · </s>`, and BERT's `["[CLS]", "{source}", "[SEP]",
 * "{hypothesis}", "[SEP]"]` works the same way.
 *
 * Segments (for a `token_type_ids` input): the k-th text slot opens segment k, and a template token
 * belongs to the segment of the last slot before it (0 before any), so BERT's layout gets
 * `0 0… 0 1… 1`. Texts are encoded without the tokenizer's own end-of-sequence id: the template
 * says where specials go.
 */
import type { Tokenizer } from '@rest/text';
import type { ScoreItem } from '../scoring/types.js';
import { RewardModelError, TEMPLATE_SLOTS } from './manifest.js';

type Slot = (typeof TEMPLATE_SLOTS)[keyof typeof TEMPLATE_SLOTS];

/** One compiled template entry. */
export type TemplatePart =
  | { readonly kind: 'slot'; readonly slot: Slot; readonly segment: number }
  | { readonly kind: 'token'; readonly id: number; readonly segment: number };

/** The token ids `[S]` of one pair and the segment of each `[S]`. */
export interface EncodedPair {
  readonly ids: readonly number[];
  readonly segments: readonly number[];
}

/** How a pair longer than `maxLength` is handled. */
export type Truncation = 'none' | 'longest_first';

/**
 * Resolves a template's tokens to ids.
 * @throws RewardModelError naming each template token the vocabulary lacks
 */
export function compileTemplate(template: readonly string[], tokenizer: Tokenizer): TemplatePart[] {
  const idOf = new Map<string, number>();
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const token = tokenizer.idToToken(id);
    if (token !== undefined && !idOf.has(token)) idOf.set(token, id);
  }
  const missing: string[] = [];
  let segment = 0;
  let slots = 0;
  const parts = template.map((entry): TemplatePart => {
    if (entry in TEMPLATE_SLOTS) {
      segment = slots++;
      return { kind: 'slot', slot: TEMPLATE_SLOTS[entry as keyof typeof TEMPLATE_SLOTS], segment };
    }
    const id = idOf.get(entry);
    if (id === undefined) missing.push(JSON.stringify(entry));
    return { kind: 'token', id: id ?? -1, segment };
  });
  if (missing.length > 0) {
    throw new RewardModelError(`pairing.template: ${missing.join(', ')} not in the tokenizer's vocabulary`);
  }
  return parts;
}

/** Whether a compiled template reads the item's reference. */
export function usesReference(parts: readonly TemplatePart[]): boolean {
  return parts.some((p) => p.kind === 'slot' && p.slot === 'reference');
}

/**
 * Encodes one item. Returns a problem string instead when the pair is longer than `maxLength` and
 * cannot be truncated (`none`, or only template tokens would be left).
 */
export function encodePair(
  parts: readonly TemplatePart[],
  tokenizer: Tokenizer,
  item: ScoreItem,
  maxLength: number,
  truncation: Truncation,
): EncodedPair | string {
  const texts = parts.map((p) =>
    p.kind === 'slot' ? tokenizer.encode(item[p.slot] ?? '', { addEos: false }) : undefined,
  );
  let total = 0;
  for (const t of texts) total += t === undefined ? 1 : t.length;
  if (total > maxLength) {
    if (truncation === 'none') {
      return `the pair is ${total} tokens with the template, more than the model's maxLength (${maxLength})`;
    }
    // longest_first: drop the last token of the longest text (the later one on ties) until it fits.
    for (; total > maxLength; total--) {
      let longest: number[] | undefined;
      for (const t of texts)
        if (t !== undefined && t.length > 0 && t.length >= (longest?.length ?? 0)) longest = t;
      if (longest === undefined)
        return `the template alone is more than the model's maxLength (${maxLength})`;
      longest.pop();
    }
  }
  const ids: number[] = [];
  const segments: number[] = [];
  parts.forEach((part, i) => {
    const chunk = part.kind === 'token' ? [part.id] : texts[i]!;
    for (const id of chunk) {
      ids.push(id);
      segments.push(part.segment);
    }
  });
  return { ids, segments };
}
