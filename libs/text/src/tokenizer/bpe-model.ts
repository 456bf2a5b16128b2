/**
 * A trained BPE vocabulary applied by our own code, independently of any library: the trainer's view of
 * how its merges segment text. It exists to check, in tests, that the `tokenizer.json` we write means what
 * the trainer meant; production encoding goes through `Tokenizer` (tokenizers.js).
 *
 * Merge application follows the Hugging Face BPE model: repeatedly merge the adjacent pair of lowest
 * merge rank, the leftmost one on ties; tokens missing from the vocabulary (characters outside the
 * alphabet) become their UTF-8 bytes as `<0xNN>` tokens. Added tokens written literally in the text
 * (`</s>`) are not split out, unlike the full pipeline.
 */
import type { TrainedBpe } from './bpe-trainer.js';
import { metaspaceNormalize, metaspaceWords } from './pre-tokenize.js';
import { byteToken, SPECIAL_TOKEN_IDS } from './special-tokens.js';
import { TokenizerFormatError } from './errors.js';

const UTF8 = new TextEncoder();

/** Reference encoder over a `TrainedBpe`. */
export class BpeModel {
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, readonly number[]>();

  /** @throws TokenizerFormatError when a merge names a token outside the vocabulary. */
  constructor(readonly trained: TrainedBpe) {
    trained.vocab.forEach((token, id) => {
      if (!this.ids.has(token)) this.ids.set(token, id);
    });
    trained.merges.forEach(([a, b], rank) => {
      if (!this.ids.has(a) || !this.ids.has(b) || !this.ids.has(a + b)) {
        throw new TokenizerFormatError(
          `merge ${rank} (${JSON.stringify([a, b])}) uses tokens outside the vocabulary`,
        );
      }
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  /** Token ids of `text` (NFKC-normalised), followed by `</s>` when `addEos`. */
  encode(text: string, addEos = false): number[] {
    const out: number[] = [];
    for (const word of metaspaceWords(metaspaceNormalize(text))) out.push(...this.encodeWord(word));
    if (addEos) out.push(SPECIAL_TOKEN_IDS.eos);
    return out;
  }

  /** Tokens of one Metaspace word, as strings. */
  segment(word: string): string[] {
    const symbols = Array.from(word);
    for (;;) {
      let bestRank = Infinity;
      let bestAt = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        // Keys cannot collide: merges are stored space-separated and no token holds a plain space.
        const rank = this.ranks.get(`${symbols[i] as string} ${symbols[i + 1] as string}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestAt = i;
        }
      }
      if (bestAt < 0) return symbols;
      symbols.splice(bestAt, 2, (symbols[bestAt] as string) + (symbols[bestAt + 1] as string));
    }
  }

  private encodeWord(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const ids: number[] = [];
    for (const token of this.segment(word)) {
      const id = this.ids.get(token);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      for (const byte of UTF8.encode(token)) ids.push(this.ids.get(byteToken(byte)) ?? SPECIAL_TOKEN_IDS.unk);
    }
    this.cache.set(word, ids);
    return ids;
  }
}
