/**
 * Conversions between rest.v1's wire types and the server's domain types, with the text-level and
 * range checks that need no policy (STYLE.md §5: parse at the edge, every problem at once).
 */
import { common, policy as wire } from '@rest/proto';
import type { Violations } from '@rest/service-kit';
import type { Config } from '../config.js';
import type { DecodingRequest, StrategyRequest } from '../decoding/decoding.js';
import type { Route } from '../routing/route.js';
import type { GeneratedCandidate } from '../serving/policy-serving.js';
import type { PolicyTarget, ServedBy } from '../serving/resolve.js';

const { DecodingStrategy } = common;

/** Largest temperature accepted (as `generate` does). */
const MAX_TEMPERATURE = 100;
/** Length penalties beyond this are certainly mistakes (len^±20). */
const MAX_ABS_LENGTH_PENALTY = 20;

const STRATEGY_OF_WIRE = new Map<number, StrategyRequest>([
  [DecodingStrategy.DECODING_STRATEGY_UNSPECIFIED, 'default'],
  [DecodingStrategy.DECODING_STRATEGY_GREEDY, 'greedy'],
  [DecodingStrategy.DECODING_STRATEGY_SAMPLE, 'sample'],
  [DecodingStrategy.DECODING_STRATEGY_BEAM, 'beam'],
]);

/** Limits the decoding checks read. */
export type DecodingLimits = Pick<Config['limits'], 'maxNewTokens' | 'maxReturnSequences' | 'maxBeams'>;

/** The decoding a request asks for when it sends none: the policy's defaults. */
export const DEFAULT_DECODING: DecodingRequest = {
  strategy: 'default',
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: undefined,
  maxNewTokens: 0,
  numBeams: 0,
  lengthPenalty: undefined,
  numReturn: 0,
};

/**
 * Parses DecodingParams (undefined: the policy's defaults), recording problems under `path`
 * (e.g. `GenerateRequest.decoding`).
 */
export function decodingOf(
  params: common.DecodingParams | undefined,
  limits: DecodingLimits,
  v: Violations,
  path: string,
): DecodingRequest {
  if (params === undefined) return DEFAULT_DECODING;
  const strategy = STRATEGY_OF_WIRE.get(params.strategy);
  if (strategy === undefined) {
    v.add(`${path}.strategy`, `unknown strategy ${params.strategy}`);
  }
  if (!(params.temperature >= 0 && params.temperature <= MAX_TEMPERATURE)) {
    v.add(
      `${path}.temperature`,
      `must be in (0, ${MAX_TEMPERATURE}], or 0 for 1.0 (got ${params.temperature})`,
    );
  }
  if (!(params.topP >= 0 && params.topP <= 1)) {
    v.add(`${path}.top_p`, `must be in (0, 1], or 0 for no cut (got ${params.topP})`);
  }
  if (params.maxNewTokens > limits.maxNewTokens) {
    v.add(`${path}.max_new_tokens`, `must be at most ${limits.maxNewTokens} (got ${params.maxNewTokens})`);
  }
  if (params.numBeams > limits.maxBeams) {
    v.add(`${path}.num_beams`, `must be at most ${limits.maxBeams} (got ${params.numBeams})`);
  }
  if (params.numReturnSequences > limits.maxReturnSequences) {
    v.add(
      `${path}.num_return_sequences`,
      `must be at most ${limits.maxReturnSequences} (got ${params.numReturnSequences})`,
    );
  }
  const lp = params.lengthPenalty;
  if (lp !== undefined && !(Math.abs(lp) <= MAX_ABS_LENGTH_PENALTY)) {
    v.add(
      `${path}.length_penalty`,
      `must be in [-${MAX_ABS_LENGTH_PENALTY}, ${MAX_ABS_LENGTH_PENALTY}] (got ${lp})`,
    );
  }
  return {
    strategy: strategy ?? 'default',
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    seed: params.seed,
    maxNewTokens: params.maxNewTokens,
    numBeams: params.numBeams,
    lengthPenalty: lp,
    numReturn: params.numReturnSequences,
  };
}

/** Parses a PolicyRef (undefined or empty: the default route), recording problems under `path`. */
export function targetOf(ref: common.PolicyRef | undefined, v: Violations, path: string): PolicyTarget {
  const choice = ref?.ref;
  if (choice === undefined) return { kind: 'default' };
  switch (choice.$case) {
    case 'policyId':
      v.nonEmpty(`${path}.policy_id`, choice.policyId);
      return { kind: 'policy', policyId: choice.policyId };
    case 'route':
      v.nonEmpty(`${path}.route`, choice.route);
      return { kind: 'route', alias: choice.route };
  }
}

/** Checks that each text is non-empty and at most `maxChars` long, recording problems in `v`. */
export function checkTexts(
  texts: readonly string[],
  maxChars: number,
  v: Violations,
  path: (index: number) => string,
): void {
  texts.forEach((text, i) => v.maxLength(path(i), v.nonEmpty(path(i), text), maxChars));
}

/** ServedBy on the wire. */
export function wireServedBy(s: ServedBy): common.ServedBy {
  return { policyId: s.policyId, route: s.route, variant: s.variant, routeVersion: s.routeVersion };
}

/** A candidate on the wire. */
export function wireCandidate(c: GeneratedCandidate): wire.Candidate {
  return {
    text: c.text,
    tokenIds: c.tokenIds,
    tokenLogprobs: c.tokenLogprobs,
    sequenceLogprob: c.sequenceLogprob,
    finishReason:
      c.finishReason === 'eos' ? wire.FinishReason.FINISH_REASON_EOS : wire.FinishReason.FINISH_REASON_LENGTH,
  };
}

/** A route on the wire. */
export function wireRoute(route: Route): wire.Route {
  return {
    alias: route.alias,
    variants: route.variants.map((v) => ({ name: v.name, policyId: v.policyId, weight: v.weight })),
    shadow: route.shadow === null ? undefined : { ...route.shadow },
    version: route.version,
    updatedAt: route.updatedAt,
  };
}
