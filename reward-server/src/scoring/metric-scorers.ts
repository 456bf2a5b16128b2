/**
 * The reference metrics as scorers: sentence-level BLEU, chrF, chrF++ and TER from @rest/text, equal
 * to sacrebleu's `sentence_bleu` / `sentence_chrf` / `sentence_ter` with default options. Each
 * item is scored against its one reference. Raw scores keep the metric's own scale and orientation
 * (all in percent; TER lower-is-better, unbounded above); see `normalize.ts` for the mappings.
 *
 * Scoring runs on the event loop, so it yields every {@link CHUNK_ITEMS} items: other calls, health
 * checks and cancellations get their turn during a 1,000-item request.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Bleu, Chrf, Ter, type BleuReference, type ChrfReference, type TerReference } from '@rest/text';
import { meanStd } from './normalize.js';
import type {
  Calibration,
  ItemProblem,
  PreparedItems,
  RewardScorer,
  ScoreItem,
  ScorerInfo,
} from './types.js';

/** The metric names a request may use, in listing order. */
export const METRIC_NAMES = ['bleu', 'chrf', 'chrf++', 'ter'] as const;
/** One of {@link METRIC_NAMES}. */
export type MetricName = (typeof METRIC_NAMES)[number];

/** Items scored between two yields to the event loop. */
const CHUNK_ITEMS = 64;

/**
 * The calibration used until a calibration file is configured: the middle of the [0, 100] range and a
 * quarter of it. A placeholder that keeps ZSCORE defined, not a measurement.
 */
export const PLACEHOLDER_CALIBRATION: Calibration = {
  mean: 50,
  std: 25,
  origin: 'placeholder (mean 50, std 25)',
};

/** One metric: prepares a reference once, scores hypotheses against it. */
interface MetricImpl<R> {
  readonly signature: string;
  prepare(reference: string): R;
  score(hypothesis: string, reference: R): number;
}

function metricImpl(name: MetricName): MetricImpl<unknown> {
  switch (name) {
    case 'bleu': {
      // Effective order, as sacrebleu.sentence_bleu (and @rest/text's sentenceBleu) use it.
      const m = new Bleu({ effectiveOrder: true });
      return {
        signature: m.signature(1),
        prepare: (r) => m.prepare([r]),
        score: (h, r) => m.sentenceScore(h, r as BleuReference).score,
      };
    }
    case 'chrf':
    case 'chrf++': {
      const m = new Chrf({ wordOrder: name === 'chrf' ? 0 : 2 });
      return {
        signature: m.signature(1),
        prepare: (r) => m.prepare([r]),
        score: (h, r) => m.sentenceScore(h, r as ChrfReference).score,
      };
    }
    case 'ter': {
      const m = new Ter();
      return {
        signature: m.signature(1),
        prepare: (r) => m.prepare([r]),
        score: (h, r) => m.sentenceScore(h, r as TerReference).score,
      };
    }
  }
}

const DESCRIPTIONS: Record<MetricName, string> = {
  bleu: 'sentence BLEU (sacrebleu sentence_bleu: 13a, exp smoothing, effective order), 0-100',
  chrf: 'sentence chrF (character 6-grams, beta 2), 0-100',
  'chrf++': 'sentence chrF++ (character 6-grams + word 2-grams, beta 2), 0-100',
  ter: 'sentence TER in percent, lower is better; CLIPPED_01 = clip(1 - TER/100, 0, 1), ZSCORE = (mean - TER)/std',
};

/** A reference metric as a {@link RewardScorer}. */
class MetricScorer implements RewardScorer {
  readonly info: ScorerInfo;
  readonly queuedItems = 0;
  private readonly impl: MetricImpl<unknown>;

  constructor(name: MetricName, calibration: Calibration) {
    this.impl = metricImpl(name);
    this.info = {
      name,
      kind: 'metric',
      version: this.impl.signature,
      description: DESCRIPTIONS[name],
      requiresReference: true,
      higherIsBetter: name !== 'ter',
      rawMin: 0,
      rawMax: 100,
      calibration,
    };
  }

  prepare(items: readonly ScoreItem[]): PreparedItems {
    const problems: ItemProblem[] = [];
    items.forEach((item, index) => {
      if (item.reference === undefined || item.reference.trim() === '') {
        problems.push({ index, field: 'reference', problem: `required by "${this.info.name}"` });
      }
    });
    return { problems, score: (signal) => this.score(items, signal) };
  }

  /** Raw scores of items that all have references, yielding between chunks. */
  async score(items: readonly ScoreItem[], signal?: AbortSignal): Promise<number[]> {
    // Grow sends N candidates per source with the same reference: prepare each reference once.
    const prepared = new Map<string, unknown>();
    const scores: number[] = [];
    for (let start = 0; start < items.length; start += CHUNK_ITEMS) {
      if (start > 0) await yieldToEventLoop();
      signal?.throwIfAborted();
      for (const item of items.slice(start, start + CHUNK_ITEMS)) {
        const reference = item.reference ?? '';
        let ref = prepared.get(reference);
        if (ref === undefined) {
          ref = this.impl.prepare(reference);
          prepared.set(reference, ref);
        }
        scores.push(this.impl.score(item.hypothesis, ref));
      }
    }
    return scores;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The four metric scorers. `calibrationItems` (every one with a reference), when given, sets each
 * metric's ZSCORE statistics to its raw mean and std over them; otherwise
 * {@link PLACEHOLDER_CALIBRATION} is used.
 * @throws RangeError when an item lacks a reference or a metric's scores are all equal
 */
export async function createMetricScorers(calibrationItems?: {
  readonly items: readonly ScoreItem[];
  readonly origin: string;
}): Promise<RewardScorer[]> {
  const scorers: RewardScorer[] = [];
  for (const name of METRIC_NAMES) {
    let calibration = PLACEHOLDER_CALIBRATION;
    if (calibrationItems !== undefined) {
      const probe = new MetricScorer(name, PLACEHOLDER_CALIBRATION);
      const missing = probe.prepare(calibrationItems.items).problems[0];
      if (missing !== undefined)
        throw new RangeError(`calibration item ${missing.index + 1} has no reference`);
      const stats = meanStd(await probe.score(calibrationItems.items));
      calibration = {
        ...stats,
        origin: `${calibrationItems.origin} (${calibrationItems.items.length} items)`,
      };
    }
    scorers.push(new MetricScorer(name, calibration));
  }
  return scorers;
}
