/**
 * The checks of a request that depend on the serving policy: tokenised lengths, target token ids
 * inside the vocabulary, decoding settings resolved against the policy's defaults, and each
 * source's batch cost. Every problem is recorded with the caller's field path, then thrown at once.
 * (Text-level checks, such as empty or over-long texts, happen at the edge before a policy is known.)
 */
import { Violations } from '@rest/service-kit';
import {
  resolveDecoding,
  sourceCost,
  type DecodingRequest,
  type ResolvedDecoding,
} from '../decoding/decoding.js';
import type { LoadedPolicy } from '../policies/loaded-policy.js';

/** Where a request's fields are, for violation messages. */
export interface SourcePaths {
  /** The policy reference, e.g. `GenerateRequest.policy`. */
  readonly policy: string;
  /** Source `i`, e.g. `GenerateRequest.sources[3]`. */
  source(index: number): string;
  /** A decoding field, e.g. `GenerateRequest.decoding.num_return_sequences`. */
  decoding(field: string): string;
}

/** Token limits of the server. */
export interface TokenLimits {
  readonly maxSourceTokens: number;
  readonly maxTargetTokens: number;
  readonly maxBatchTokens: number;
  readonly defaultMaxNewTokens: number;
}

/** Sources tokenised for a policy, with the decoding they run under. */
export interface PreparedSources {
  /** Per source [S] token ids, end token included. */
  readonly ids: number[][];
  readonly decoding: ResolvedDecoding;
}

/**
 * Tokenises `sources` and resolves `request` for `policy`.
 * @throws InvalidArgumentError listing every problem
 */
export function prepareSources(
  policy: LoadedPolicy,
  sources: readonly string[],
  request: DecodingRequest,
  limits: TokenLimits,
  paths: SourcePaths,
): PreparedSources {
  const v = new Violations();
  const { decoding, problems } = resolveDecoding(
    request,
    policy.manifest.generation,
    limits.defaultMaxNewTokens,
  );
  for (const p of problems) v.add(paths.decoding(p.field), p.problem);
  const ids = sources.map((text, i) => {
    const tokens = policy.tokenizer.encode(text);
    if (tokens.length > limits.maxSourceTokens) {
      v.add(
        paths.source(i),
        `is ${tokens.length} tokens long under policy "${policy.id}", more than ${limits.maxSourceTokens}`,
      );
    } else if (sourceCost(decoding, tokens.length) > limits.maxBatchTokens) {
      v.add(
        paths.source(i),
        `needs ${sourceCost(decoding, tokens.length)} batch tokens (rows × (source tokens + max_new_tokens)), more than a batch holds (${limits.maxBatchTokens}); lower num_return_sequences, num_beams or max_new_tokens`,
      );
    }
    return tokens;
  });
  v.throwIfAny();
  return { ids, decoding };
}

/** A pair to score as the edge decoded it. */
export interface PairInput {
  readonly source: string;
  /** Used when `targetIds` is empty. */
  readonly target: string;
  readonly targetIds: readonly number[];
}

/** Where a ScoreSequences pair's fields are. */
export interface PairPaths {
  readonly policy: string;
  pair(index: number, field: 'source' | 'target' | 'target_token_ids'): string;
}

/**
 * Tokenises pairs for `policy` (targets given as ids are checked against its vocabulary).
 * @throws InvalidArgumentError listing every problem
 */
export function preparePairs(
  policy: LoadedPolicy,
  pairs: readonly PairInput[],
  limits: TokenLimits,
  paths: PairPaths,
): { source: number[]; target: number[] }[] {
  const v = new Violations();
  const vocab = policy.manifest.vocabSize;
  const out = pairs.map((pair, i) => {
    const source = policy.tokenizer.encode(pair.source);
    if (source.length > limits.maxSourceTokens) {
      v.add(paths.pair(i, 'source'), `is ${source.length} tokens long, more than ${limits.maxSourceTokens}`);
    }
    const given = pair.targetIds.length > 0;
    const target = given ? [...pair.targetIds] : policy.tokenizer.encode(pair.target);
    const field = given ? 'target_token_ids' : 'target';
    if (target.length > limits.maxTargetTokens) {
      v.add(paths.pair(i, field), `is ${target.length} tokens long, more than ${limits.maxTargetTokens}`);
    }
    if (given) {
      const bad = target.findIndex((t) => !(Number.isInteger(t) && t >= 0 && t < vocab));
      if (bad >= 0) {
        v.add(
          `${paths.pair(i, field)}[${bad}]`,
          `must be a token id in [0, ${vocab}) of policy "${policy.id}" (got ${target[bad]})`,
        );
      }
    }
    if (source.length + target.length > limits.maxBatchTokens) {
      v.add(
        paths.pair(i, 'source'),
        `the pair is longer than a batch holds (${limits.maxBatchTokens} tokens)`,
      );
    }
    return { source, target };
  });
  v.throwIfAny();
  return out;
}
