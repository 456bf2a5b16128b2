/**
 * What RewardService.Score and GRPCInferenceService.ModelInfer share once their wire formats are
 * decoded: look the scorer up (NOT_FOUND), bound the item count (RESOURCE_EXHAUSTED), validate the
 * texts (INVALID_ARGUMENT, every problem at once, with the caller's field paths), let the scorer
 * check the items (a missing reference, a pair over the model's maxLength), score, normalise, and
 * record the per-model metrics.
 */
import {
  codeName,
  NotFoundError,
  ResourceExhaustedError,
  ServiceError,
  Violations,
  type CallContext,
} from '@rest/service-kit';
import { status } from '@grpc/grpc-js';
import type { Config } from '../config.js';
import type { RewardMetrics, ScoringApi } from '../reward-metrics.js';
import { normalize } from '../scoring/normalize.js';
import type { ScorerRegistry } from '../scoring/registry.js';
import type { Normalization, RewardScorer, ScoreItem } from '../scoring/types.js';

/** What the scoring adapters need from the server. */
export interface ScoringDeps {
  readonly scorers: ScorerRegistry;
  readonly limits: Config['limits'];
  readonly metrics: RewardMetrics;
}

/** Where an item's fields live in the caller's message, for violation paths. */
export interface ItemPaths {
  /** The list of items, e.g. `ScoreRequest.items`. */
  readonly items: string;
  /** One field of item `index`, or the item as a whole when `field` is undefined. */
  item(index: number, field: keyof ScoreItem | undefined): string;
}

/** A scoring request decoded from either API, before validation. */
export interface ScoringRequest {
  readonly model: string;
  /** Raw texts; `reference` "" or undefined means none. */
  readonly items: readonly ScoreItem[];
  /** `raw` when the wire value was invalid (and a violation was recorded in `violations`). */
  readonly normalization: Normalization;
  /** Problems the adapter found while decoding (bad enum, bad tensor shape, …). */
  readonly violations: Violations;
}

/** Scores of one request. */
export interface ScoringResult {
  readonly scorer: RewardScorer;
  /** [items] f64 */
  readonly raw: readonly number[];
  /** [items] f64, normalised */
  readonly scores: readonly number[];
}

/**
 * Looks up the scorer, or throws NOT_FOUND.
 * @throws NotFoundError naming the model and where to find the served ones
 */
export function scorerOf(deps: ScoringDeps, model: string): RewardScorer {
  const scorer = deps.scorers.get(model);
  if (scorer === undefined) {
    throw new NotFoundError(
      `model "${model}" not found; ListRewardModels lists the models and metrics served`,
    );
  }
  return scorer;
}

/**
 * Runs one scoring request end to end; see the module comment. The caller has checked that the
 * model name is non-empty.
 * @throws NotFoundError, ResourceExhaustedError (too many items, queue full), InvalidArgumentError,
 *   and the call's cancellation or deadline error
 */
export async function scoreRequest(
  deps: ScoringDeps,
  request: ScoringRequest,
  paths: ItemPaths,
  api: ScoringApi,
  ctx: CallContext,
): Promise<ScoringResult> {
  const scorer = scorerOf(deps, request.model);
  const startedMs = performance.now();
  let code = 'OK';
  try {
    const { maxItems, maxTextChars } = deps.limits;
    if (request.items.length > maxItems) {
      throw new ResourceExhaustedError(
        `${paths.items}: ${request.items.length} items, more than this server scores in one request (${maxItems}); split the request`,
      );
    }
    const v = request.violations;
    if (request.items.length === 0) v.add(paths.items, 'must have at least 1 item');
    const items = request.items.map((item, i): ScoreItem => {
      v.maxLength(paths.item(i, 'source'), v.nonEmpty(paths.item(i, 'source'), item.source), maxTextChars);
      v.maxLength(paths.item(i, 'hypothesis'), item.hypothesis, maxTextChars);
      const reference = item.reference ?? '';
      v.maxLength(paths.item(i, 'reference'), reference, maxTextChars);
      return { ...item, reference: reference.trim() === '' ? undefined : reference };
    });
    v.throwIfAny();
    const prepared = scorer.prepare(items);
    for (const p of prepared.problems) v.add(paths.item(p.index, p.field), p.problem);
    v.throwIfAny();
    const raw = await prepared.score(ctx.signal);
    const scores = raw.map((r) => normalize(r, scorer.info, request.normalization));
    return { scorer, raw, scores };
  } catch (error) {
    const reason: unknown = ctx.signal.aborted ? ctx.signal.reason : error;
    code = codeName(reason instanceof ServiceError ? reason.code : status.INTERNAL);
    throw error;
  } finally {
    deps.metrics.observeRequest(
      scorer.info.name,
      api,
      code,
      performance.now() - startedMs,
      request.items.length,
    );
  }
}
