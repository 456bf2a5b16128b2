/**
 * Parses a run spec's wire `DecodingParams` (Grow or evaluation decoding) into a resolved
 * `DecodingSpec`. The run owns every seed (RunSpec.seed; shard seeds derive from it), so a seed
 * inside a run's decoding parameters is rejected rather than silently overridden.
 */
import { common } from '@rest/proto';
import type { Violations } from '@rest/service-kit';
import type { DecodingSpec, DecodingStrategy } from '../run/spec.js';
import { interval, nonNegative, orDefault, positive, wireEnum } from './checks.js';

/** Largest `max_new_tokens` a run may ask for. */
export const MAX_NEW_TOKENS = 1024;
/** Largest beam width a run may ask for. */
export const MAX_BEAMS = 64;

const STRATEGIES: ReadonlyMap<number, DecodingStrategy | undefined> = new Map([
  [common.DecodingStrategy.DECODING_STRATEGY_UNSPECIFIED, undefined],
  [common.DecodingStrategy.DECODING_STRATEGY_GREEDY, 'greedy'],
  [common.DecodingStrategy.DECODING_STRATEGY_SAMPLE, 'sample'],
  [common.DecodingStrategy.DECODING_STRATEGY_BEAM, 'beam'],
]);

/** What a role (Grow or evaluation) fills in and requires. */
export interface DecodingRole {
  /** Used for unset fields, including an unset message. */
  readonly defaults: Omit<DecodingSpec, 'numReturnSequences'>;
  /** The sequences per source the role needs (N for Grow, 1 for evaluation); the wire field must be 0 or this. */
  readonly numReturnSequences: number;
  /** How the required count is named in messages, e.g. "samples_per_source (4)". */
  readonly requiredBy: string;
}

/** Reads `wire` (or the role's defaults when it is unset) into `v`, under `field`. */
export function readDecoding(
  v: Violations,
  field: string,
  wire: common.DecodingParams | undefined,
  role: DecodingRole,
): DecodingSpec {
  const w = wire ?? common.DecodingParams.create();
  const d = role.defaults;
  const strategy =
    wireEnum(v, `${field}.strategy`, w.strategy, STRATEGIES, common.decodingStrategyToJSON) ?? d.strategy;
  const n = role.numReturnSequences;
  if (w.numReturnSequences !== 0 && w.numReturnSequences !== n) {
    v.add(`${field}.num_return_sequences`, `must be 0 or ${role.requiredBy} (got ${w.numReturnSequences})`);
  }
  if (strategy === 'greedy' && n !== 1) {
    v.add(
      `${field}.strategy`,
      `GREEDY returns one sequence per source; ${role.requiredBy} needs SAMPLE or BEAM`,
    );
  }
  if (w.seed !== undefined) v.add(`${field}.seed`, 'must be unset: sampling seeds derive from the run seed');
  const numBeams = orDefault(w.numBeams, d.numBeams, (x) => v.integer(`${field}.num_beams`, x, 1, MAX_BEAMS));
  if (strategy === 'beam' && numBeams < n) {
    v.add(`${field}.num_beams`, `must be >= ${role.requiredBy} for BEAM (got ${numBeams})`);
  }
  return {
    strategy,
    temperature: orDefault(w.temperature, d.temperature, (x) => positive(v, `${field}.temperature`, x)),
    topK: w.topK,
    topP: orDefault(w.topP, d.topP, (x) => interval(v, `${field}.top_p`, x, 0, 1, '(]')),
    maxNewTokens: orDefault(w.maxNewTokens, d.maxNewTokens, (x) =>
      v.integer(`${field}.max_new_tokens`, x, 1, MAX_NEW_TOKENS),
    ),
    numBeams,
    lengthPenalty:
      w.lengthPenalty === undefined
        ? d.lengthPenalty
        : nonNegative(v, `${field}.length_penalty`, w.lengthPenalty),
    numReturnSequences: n,
  };
}
