/**
 * rest.v1.RewardService: Score and ListRewardModels. Decode, validate, call the domain, encode.
 */
import { reward } from '@rest/proto';
import { unary, Violations, type GrpcServiceBinding } from '@rest/service-kit';
import { NORMALIZATIONS } from '../scoring/types.js';
import { scoreRequest, type ItemPaths, type ScoringDeps } from './scoring.js';
import { kindOf, normalizationOf, wireModelInfo, wireNormalization } from './wire.js';

const PATHS: ItemPaths = {
  items: 'ScoreRequest.items',
  item: (i, field) => `ScoreRequest.items[${i}]${field === undefined ? '' : `.${field}`}`,
};

/** The RewardService binding for `startGrpcServer`. */
export function rewardService(deps: ScoringDeps): GrpcServiceBinding {
  return {
    definition: reward.RewardServiceService,
    implementation: {
      score: unary<reward.ScoreRequest, reward.ScoreResponse>(async (wire, ctx) => {
        const violations = new Violations();
        if (wire.model.trim() === '') {
          violations.add('ScoreRequest.model', 'must be non-empty (a name from ListRewardModels)');
          violations.throwIfAny();
        }
        let normalization = normalizationOf(wire.normalization);
        if (normalization === undefined) {
          violations.add(
            'ScoreRequest.normalization',
            `must be one of NORMALIZATION_UNSPECIFIED, ${NORMALIZATIONS.map((n) => reward.normalizationToJSON(wireNormalization(n))).join(', ')} (got ${wire.normalization})`,
          );
          normalization = 'raw';
        }
        const result = await scoreRequest(
          deps,
          {
            model: wire.model,
            items: wire.items.map((item) => ({ ...item })),
            normalization,
            violations,
          },
          PATHS,
          'score',
          ctx,
        );
        return {
          scores: [...result.scores],
          rawScores: [...result.raw],
          normalization: wireNormalization(normalization),
          model: wireModelInfo(result.scorer.info),
        };
      }),
      listRewardModels: unary<reward.ListRewardModelsRequest, reward.ListRewardModelsResponse>((wire) => {
        const kind = kindOf(wire.kind);
        if (kind === undefined && wire.kind !== reward.RewardModelKind.REWARD_MODEL_KIND_UNSPECIFIED) {
          const v = new Violations();
          v.add('ListRewardModelsRequest.kind', `unknown kind ${wire.kind}`);
          v.throwIfAny();
        }
        return Promise.resolve({ models: deps.scorers.list(kind).map((s) => wireModelInfo(s.info)) });
      }),
    },
  };
}
