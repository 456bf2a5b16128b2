/**
 * Inputs that depend on the policy while it trains, computed on the host between steps:
 *
 * - GOLD's lagged copy π̃ (`lagged_logp [B, T]`): a snapshot of the parameters refreshed every K
 *   optimizer updates, scored teacher-forced on each batch;
 * - HyPO's online samples (`online_* [Q, ·]`): k fresh samples per prompt from the current policy (no
 *   temperature or truncation), with their reference log-probs `online_reference_seq_logp [Q]`.
 *
 * Both build inference sessions from parameters in memory (`Seq2SeqModel.fromParams`), the same
 * decoding code the policy server runs.
 */
import {
  generate,
  hostTensor,
  rng,
  rowSeed,
  scoreTargets,
  Seq2SeqModel,
  type GenerationDefaults,
  type HostTensor,
  type SessionOptions,
  type TransformerConfig,
} from '@rest/runtime';
import type { Row } from './data.js';
import { tokenFeeds } from './batches.js';

/** π̃ of GOLD: a parameter snapshot and its sessions. */
export class LaggedPolicy {
  private model: Seq2SeqModel | undefined;

  constructor(
    private readonly config: TransformerConfig,
    private readonly defaults: GenerationDefaults,
    private readonly session: SessionOptions,
    /** The snapshot (table layout); replaced by {@link refresh}. */
    public params: Float32Array,
  ) {}

  /** Takes a new snapshot of `params` (copied). */
  async refresh(params: Float32Array): Promise<void> {
    this.params = Float32Array.from(params);
    await this.model?.release();
    this.model = undefined;
  }

  /** `lagged_logp [B, T] f32`: π̃'s teacher-forced token log-probs of the batch's targets (0 on padding). */
  async feed(rows: readonly Row[]): Promise<HostTensor> {
    this.model ??= await Seq2SeqModel.fromParams(this.config, this.params, this.defaults, this.session);
    const scored = await scoreTargets(
      this.model,
      rows.map((r) => r.src),
      rows.map((r) => r.tgt),
    );
    const T = Math.max(...rows.map((r) => r.tgt.length));
    const out = new Float32Array(rows.length * T);
    scored.forEach((s, b) => s.tokenLogprobs.forEach((lp, t) => (out[b * T + t] = lp)));
    return hostTensor('f32', [rows.length, T], out);
  }

  async release(): Promise<void> {
    await this.model?.release();
    this.model = undefined;
  }
}

/** What the online samples of one HyPO step add to the feeds. */
export interface OnlineFeeds {
  readonly feeds: Record<string, HostTensor>;
  /** Target tokens of the samples. */
  readonly tokens: number;
}

/**
 * Draws k samples per prompt for a fraction of the batch's prompts (the chosen rows' sources, in a
 * seeded order) from the current parameters, and scores them under the reference policy.
 */
export async function onlineSamples(args: {
  readonly config: TransformerConfig;
  readonly defaults: GenerationDefaults;
  readonly session: SessionOptions;
  readonly params: Float32Array;
  readonly reference: Seq2SeqModel;
  /** The batch's chosen rows (one per pair). */
  readonly prompts: readonly Row[];
  readonly k: number;
  readonly fraction: number;
  readonly seed: number;
  readonly step: number;
  readonly maxNewTokens: number;
}): Promise<OnlineFeeds> {
  const distinct = [...new Map(args.prompts.map((r) => [r.sourceId, r.src])).values()];
  const rand = rng(rowSeed(args.seed, args.step, 0x0411e));
  for (let i = distinct.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [distinct[i], distinct[j]] = [distinct[j]!, distinct[i]!];
  }
  const chosen = distinct.slice(0, Math.max(1, Math.ceil(args.fraction * distinct.length)));
  const policy = await Seq2SeqModel.fromParams(args.config, args.params, args.defaults, args.session);
  let samples;
  try {
    samples = await generate(policy, chosen, {
      strategy: 'sample',
      numReturn: args.k,
      temperature: 1,
      seed: rowSeed(args.seed, args.step, 0x5a),
      maxNewTokens: args.maxNewTokens,
    });
  } finally {
    await policy.release();
  }
  // k consecutive rows per prompt, as the objective's leave-one-out baseline expects.
  const rows = chosen.flatMap((src, p) => samples[p]!.map((c) => ({ src, tgt: c.tokenIds })));
  const scored = await scoreTargets(
    args.reference,
    rows.map((r) => r.src),
    rows.map((r) => r.tgt),
  );
  const { feeds, mask, T, tokens } = tokenFeeds(
    rows,
    args.defaults.padTokenId,
    args.defaults.decoderStartTokenId,
    'online_',
  );
  return {
    feeds: {
      ...feeds,
      online_mask: hostTensor('f32', [rows.length, T], mask),
      online_reference_seq_logp: hostTensor(
        'f32',
        [rows.length],
        Float32Array.from(scored, (s) => s.sequenceLogprob),
      ),
    },
    tokens,
  };
}
