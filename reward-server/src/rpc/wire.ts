/**
 * Conversions between the domain's scorer types and rest.v1's wire types.
 */
import { reward } from '@rest/proto';
import type { Normalization, ScorerInfo, ScorerKind } from '../scoring/types.js';

const NORMALIZATION_OF_WIRE = new Map<number, Normalization>([
  [reward.Normalization.NORMALIZATION_UNSPECIFIED, 'raw'],
  [reward.Normalization.NORMALIZATION_RAW, 'raw'],
  [reward.Normalization.NORMALIZATION_CLIPPED_01, 'clipped01'],
  [reward.Normalization.NORMALIZATION_ZSCORE, 'zscore'],
]);

const WIRE_OF_NORMALIZATION: Record<Normalization, reward.Normalization> = {
  raw: reward.Normalization.NORMALIZATION_RAW,
  clipped01: reward.Normalization.NORMALIZATION_CLIPPED_01,
  zscore: reward.Normalization.NORMALIZATION_ZSCORE,
};

const WIRE_OF_KIND: Record<ScorerKind, reward.RewardModelKind> = {
  learned: reward.RewardModelKind.REWARD_MODEL_KIND_LEARNED,
  metric: reward.RewardModelKind.REWARD_MODEL_KIND_METRIC,
};

/** The domain normalisation of a wire value (UNSPECIFIED is RAW), or undefined for an unknown value. */
export function normalizationOf(wire: number): Normalization | undefined {
  return NORMALIZATION_OF_WIRE.get(wire);
}

/** The wire value of a domain normalisation. */
export function wireNormalization(normalization: Normalization): reward.Normalization {
  return WIRE_OF_NORMALIZATION[normalization];
}

/** The domain kind of a wire filter: undefined for UNSPECIFIED (all kinds) and unknown values. */
export function kindOf(wire: number): ScorerKind | undefined {
  if (wire === reward.RewardModelKind.REWARD_MODEL_KIND_LEARNED) return 'learned';
  if (wire === reward.RewardModelKind.REWARD_MODEL_KIND_METRIC) return 'metric';
  return undefined;
}

/** A scorer's info on the wire. */
export function wireModelInfo(info: ScorerInfo): reward.RewardModelInfo {
  return {
    name: info.name,
    kind: WIRE_OF_KIND[info.kind],
    version: info.version,
    description: info.description,
    requiresReference: info.requiresReference,
    higherIsBetter: info.higherIsBetter,
    rawMin: info.rawMin,
    rawMax: info.rawMax,
    calibrationMean: info.calibration.mean,
    calibrationStd: info.calibration.std,
  };
}
