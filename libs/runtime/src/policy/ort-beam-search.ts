/**
 * A test peer for our beam search: onnxruntime's own beam search, the contrib operator
 * `com.microsoft.BeamSearch` (C++, in onnxruntime-node's CPU build), run over a policy's own encoder
 * and decoder graphs (`ort-beam-search-model.ts`). It exists so that tests and benches can check
 * `generate`'s beam search against an independent implementation token for token; it is not product
 * decoding, and nothing serves from it (exported from `@rest/runtime/testing` only).
 *
 * What the op does, read in microsoft/onnxruntime `onnxruntime/contrib_ops/cpu/transformers/`:
 * `beam_search_impl_t5.h` (a sequence starts as the decoder start token and `max_length` counts it, so
 * max_length = maxNewTokens + 1); `generation_device_helper.cc` (`ProcessLogits`: log-softmax over the
 * whole vocabulary, then the vocabulary mask sets banned tokens to the lowest float, then the running
 * sums are added and the top 2·B (beam, token) pairs taken, all in f32); `beam_search_scorer.cc`
 * (commit b1d535bb), against ours (`generate.ts`):
 *
 * - `BeamSearchScorer::Process` / `BeamHypotheses::Add`: an end token ranked within the first B of the
 *   2·B candidates finishes a hypothesis scored `sum / pow(hypothesis.size(), length_penalty)`, the
 *   hypothesis being the sequence before the end token with the start token = the generated tokens
 *   including the end token: the same as ours;
 * - `early_stopping` 1: a source is done once B hypotheses are finished: the same as ours;
 * - `early_stopping` 0 (`Process`, `BeamHypotheses::CanImprove`): done when B are finished and the
 *   worst is ≥ `best / length^lp`, `best` being the largest of *all* 2·B candidate sums, end-token
 *   candidates included — as Hugging Face's earlier `BeamScorer` did
 *   (`is_done(next_scores[batch_idx].max(), cur_len)`). Ours takes the best *running* (non-end) beam,
 *   as Hugging Face's current beam search does (generation/utils.py, `_check_early_stop_heuristic`,
 *   `running_beam_scores[:, :1]`). They part when a step's best candidate is an end token: the op then
 *   searches on and may find a better hypothesis. With lengthPenalty 0 no later hypothesis can beat
 *   the worst finished one, so outputs cannot differ;
 * - `BeamSearchScorer::Finalize`: at the length limit, running beams of sources not done join the
 *   hypotheses, their whole sequence's sum divided by max_length^lp = (maxNewTokens + 1)^lp, the
 *   start token counted (Hugging Face's earlier `hyp.shape[-1]`); ours divides by maxNewTokens^lp,
 *   the generated tokens (Hugging Face's current `cur_len + 1 - decoder_prompt_len`). Identical when
 *   lengthPenalty is 0 or no source reaches the limit with fewer than B finished hypotheses;
 * - the done check of source b reads `next_scores.subspan(b * num_beams, 2 * num_beams)`, which for
 *   b > 0 straddles source b − 1's candidates: in a batched call a source's result depends on its
 *   neighbour (seen on policies/pretrained, lengthPenalty 2: 85 of 197 sources differ from
 *   one-source calls, none at batch position 0). The peer therefore runs one source per call;
 * - `BeamSearchBase::Initialize` (beam_search_impl_base.h) requires input 2 (min_length, optional by
 *   the schema) under the name "max_length", so min_length 0 is always fed.
 *
 * So both define the search identically with `earlyStopping` and no source reaching the limit
 * undone (the source returned B hypotheses ended by the end token), or with lengthPenalty 0.
 *
 * The op returns each hypothesis without its end token, padded with the pad token, and f32 scores. A
 * row that fills all max_length slots ran to the limit; a shorter one ended with the end token, which
 * is put back so that candidates read like ours. That reading needs the pad token banned (our bundles
 * and Marian's ban it), else a generated pad would look like the end.
 */
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkConfig, transformerParams, type TransformerConfig } from '../models/config.js';
import { decoderGraph, encoderGraph } from '../models/inference-graphs.js';
import { ParamTable } from '../params/param-table.js';
import { loadCheckpoint } from '../checkpoint/safetensors.js';
import { BUNDLE_FILES, BundleError, readBundleManifest, type GenerationDefaults } from './bundle.js';
import { OrtBeamSearchError, beamSearchModel, type TokenIds } from './ort-beam-search-model.js';

export { OrtBeamSearchError };

/** How to search; the names and meanings of `DecodingOptions`' beam fields. */
export interface OrtBeamOptions {
  /** Beams per source, in [1, 128]. */
  beamSize: number;
  lengthPenalty: number;
  earlyStopping: boolean;
  /** Most new tokens, the end token included; ≥ 2 (the op generates nothing when max_length is 2). */
  maxNewTokens: number;
  /** Hypotheses returned per source, in [1, beamSize]. @default 1 */
  numReturn?: number;
}

/** One hypothesis as the op returns it, read like our `Candidate`. */
export interface OrtCandidate {
  /** Generated tokens; ends with the end token when `finishReason` is 'eos'. */
  tokenIds: number[];
  /** The op's f32 score, `sum log p / length^lengthPenalty` by its length convention (module header). */
  score: number;
  finishReason: 'eos' | 'length';
}

/** onnxruntime's BeamSearch over one policy. Release it when done. */
export class OrtBeamSearch {
  /** One session per `early_stopping` attribute value, opened on first use. */
  private readonly sessions = new Map<boolean, Promise<ort.InferenceSession>>();

  private constructor(
    private readonly config: TransformerConfig,
    private readonly params: Float32Array,
    private readonly tokens: TokenIds,
    private readonly vocabMask: Int32Array, // [V] i32: 1 = may be generated
    private readonly intraOpThreads: number,
  ) {}

  /**
   * The peer for a config and its parameters (`transformerParams(config)` layout); the op's model is
   * built and opened on the first search (one per early-stopping setting). Throws OrtBeamSearchError
   * when the parameters do not fit or the pad token is not banned (see the module header).
   */
  static create(
    config: TransformerConfig,
    params: Float32Array,
    defaults: Pick<
      GenerationDefaults,
      'decoderStartTokenId' | 'eosTokenId' | 'padTokenId' | 'bannedTokenIds'
    >,
    opts: { intraOpThreads?: number } = {},
  ): OrtBeamSearch {
    checkConfig(config);
    const table = new ParamTable(transformerParams(config));
    if (params.length !== table.size)
      throw new OrtBeamSearchError(`params: ${params.length} values, the config needs ${table.size}`);
    const V = config.vocabSize;
    if (!defaults.bannedTokenIds.includes(defaults.padTokenId))
      throw new OrtBeamSearchError(
        `bannedTokenIds: must include the pad token ${defaults.padTokenId} to read the op's padded output`,
      );
    const vocabMask = new Int32Array(V).fill(1);
    for (const t of defaults.bannedTokenIds) if (t >= 0 && t < V) vocabMask[t] = 0;
    const tokens = {
      decoderStart: defaults.decoderStartTokenId,
      eos: defaults.eosTokenId,
      pad: defaults.padTokenId,
    };
    return new OrtBeamSearch(config, params, tokens, vocabMask, opts.intraOpThreads ?? 0);
  }

  /** The op's session for one early-stopping setting; onnxruntime's error when it refuses the model. */
  private session(earlyStopping: boolean): Promise<ort.InferenceSession> {
    let s = this.sessions.get(earlyStopping);
    if (s === undefined) {
      s = ort.InferenceSession.create(beamSearchModel(this.config, this.params, this.tokens, earlyStopping), {
        intraOpNumThreads: this.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      this.sessions.set(earlyStopping, s);
    }
    return s;
  }

  /**
   * The peer for one of our bundles, from its config and `trainer/state.safetensors` (the parameters
   * its ONNX files were written from). `sameOnnx` says, per file, whether today's graph builder gives
   * the bundle's ONNX file byte for byte from those parameters: both true means the peer runs the very
   * graphs our decoding loads; an equal encoder alone means the same parameters under graphs of another
   * builder version (bundles written before the decoder emitted log-probabilities). Throws BundleError
   * for bundles that are not ours or have no trainer state.
   */
  static async fromBundle(
    dir: string,
    opts: { intraOpThreads?: number } = {},
  ): Promise<{ peer: OrtBeamSearch; sameOnnx: { encoder: boolean; decoder: boolean } }> {
    const manifest = await readBundleManifest(dir);
    const c = manifest.transformer;
    if (c === undefined)
      throw new BundleError(`bundle ${dir}: config.json has no rest_transformer; the peer needs our config`);
    if (!manifest.hasTrainerState)
      throw new BundleError(
        `bundle ${dir}: ${BUNDLE_FILES.trainerState} is missing; the peer needs the parameters`,
      );
    const state = await loadCheckpoint(
      join(dir, BUNDLE_FILES.trainerState),
      new ParamTable(transformerParams(c)),
    );
    const params = state.params instanceof Float32Array ? state.params : Float32Array.from(state.params);
    const same = async (file: string, bytes: Uint8Array): Promise<boolean> =>
      Buffer.from(bytes).equals(await readFile(join(dir, file)));
    const sameOnnx = {
      encoder: await same(BUNDLE_FILES.encoder, encoderGraph(c, params).toBytes()),
      decoder: await same(BUNDLE_FILES.decoder, decoderGraph(c, params).toBytes()),
    };
    const peer = OrtBeamSearch.create(c, params, manifest.generation, opts);
    return { peer, sameOnnx };
  }

  /**
   * Beam search for each source (token ids, end token included), one op call per source (the op's
   * done check mixes sources in a batch: module header). Returns per source up to `numReturn`
   * hypotheses, best first. Throws OrtBeamSearchError for options out of range or an empty source.
   */
  async search(sources: readonly (readonly number[])[], o: OrtBeamOptions): Promise<OrtCandidate[][]> {
    const n = o.numReturn ?? 1;
    const fail = (what: string): never => {
      throw new OrtBeamSearchError(what);
    };
    if (!Number.isInteger(o.beamSize) || o.beamSize < 1 || o.beamSize > 128)
      fail(`beamSize: must be an integer in [1, 128], got ${o.beamSize}`);
    if (!Number.isInteger(n) || n < 1 || n > o.beamSize)
      fail(`numReturn: must be an integer in [1, beamSize], got ${n}`);
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 2 || o.maxNewTokens > 4095)
      fail(`maxNewTokens: must be an integer in [2, 4095], got ${o.maxNewTokens}`);
    if (!Number.isFinite(o.lengthPenalty)) fail(`lengthPenalty: must be finite, got ${o.lengthPenalty}`);
    const out: OrtCandidate[][] = [];
    for (const [i, s] of sources.entries()) {
      if (s.length === 0) fail(`sources[${i}]: empty`);
      out.push(await this.searchOne(s, o, n));
    }
    return out;
  }

  private async searchOne(source: readonly number[], o: OrtBeamOptions, n: number): Promise<OrtCandidate[]> {
    const i32 = (v: number): ort.Tensor => new ort.Tensor('int32', Int32Array.of(v), [1]);
    const maxLength = o.maxNewTokens + 1;
    const session = await this.session(o.earlyStopping);
    const res = await session.run({
      input_ids: new ort.Tensor('int32', Int32Array.from(source), [1, source.length]),
      max_length: i32(maxLength),
      min_length: i32(0),
      num_beams: i32(o.beamSize),
      num_return_sequences: i32(n),
      length_penalty: new ort.Tensor('float32', Float32Array.of(o.lengthPenalty), [1]),
      vocab_mask: new ort.Tensor('int32', this.vocabMask, [this.config.vocabSize]),
      attention_mask: new ort.Tensor('int32', new Int32Array(source.length).fill(1), [1, source.length]),
    });
    const seqs = res.sequences!.data as Int32Array; // [1, n, maxLength] i32
    const scores = res.sequences_scores!.data as Float32Array; // [1, n] f32
    const { decoderStart, eos, pad } = this.tokens;
    return Array.from({ length: n }, (_, k) => {
      const row = seqs.subarray(k * maxLength, (k + 1) * maxLength);
      if (row[0] !== decoderStart)
        throw new OrtBeamSearchError(`the op's sequence ${k} starts with ${row[0]}, not ${decoderStart}`);
      const body = Array.from(row.subarray(1));
      const end = body.indexOf(pad);
      const full = end < 0;
      return {
        tokenIds: full ? body : [...body.slice(0, end), eos],
        score: scores[k]!,
        finishReason: full ? 'length' : 'eos',
      };
    });
  }

  /** Releases the onnxruntime sessions. */
  async release(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const r of await Promise.allSettled(open)) if (r.status === 'fulfilled') await r.value.release();
  }
}
