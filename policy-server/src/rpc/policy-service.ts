/**
 * rest.v1.PolicyService: Generate, GenerateStream, Translate, ScoreSequences, ListPolicies, GetRoute
 * and SetRoute. Decode, validate, call the domain, encode.
 */
import { policy as wire } from '@rest/proto';
import {
  ResourceExhaustedError,
  serverStream,
  unary,
  Violations,
  type GrpcServiceBinding,
} from '@rest/service-kit';
import type { Config } from '../config.js';
import type { DecodingRequest } from '../decoding/decoding.js';
import type { ModelPool } from '../policies/model-pool.js';
import type { PolicyCatalog, PolicyRecord } from '../policies/policy-catalog.js';
import type { RouteManager } from '../routing/route-manager.js';
import type { RouteVariant } from '../routing/route.js';
import type { PolicyServing } from '../serving/policy-serving.js';
import type { SourcePaths } from '../serving/prepare.js';
import { checkTexts, decodingOf, targetOf, wireCandidate, wireRoute, wireServedBy } from './wire.js';

/** What the service needs. */
export interface PolicyServiceDeps {
  readonly serving: PolicyServing;
  readonly routes: RouteManager;
  readonly catalog: PolicyCatalog;
  readonly pool: ModelPool;
  readonly limits: Config['limits'];
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

function sourcePaths(message: string): SourcePaths {
  return {
    policy: `${message}.policy`,
    source: (i) => `${message}.sources[${i}]`,
    decoding: (field) => `${message}.decoding.${field}`,
  };
}

/**
 * Checks a request's sources: more than `maxSources` is RESOURCE_EXHAUSTED at once; none, empty or
 * over-long ones are recorded in `v`.
 */
function parseSources(
  message: string,
  sources: readonly string[],
  maxSources: number,
  maxChars: number,
  v: Violations,
): void {
  if (sources.length > maxSources) {
    throw new ResourceExhaustedError(
      `${message}.sources: ${sources.length} sources, more than this server takes in one request (${maxSources}); split the request${message === 'GenerateStreamRequest' ? '' : ' or use GenerateStream'}`,
    );
  }
  if (sources.length === 0) v.add(`${message}.sources`, 'must have at least 1 source');
  checkTexts(sources, maxChars, v, (i) => `${message}.sources[${i}]`);
}

function candidatesBound(message: string, sources: number, decoding: DecodingRequest, max: number): void {
  const n = sources * Math.max(1, decoding.numReturn);
  if (n > max) {
    throw new ResourceExhaustedError(
      `${message}: ${sources} sources × ${Math.max(1, decoding.numReturn)} candidates = ${n}, more than one answer holds (${max}); split the request or use GenerateStream`,
    );
  }
}

/** A ListPolicies page token: the sort key of the last policy of the previous page. */
interface PageToken {
  readonly t: number;
  readonly id: string;
}

function encodeToken(record: PolicyRecord): string {
  return Buffer.from(JSON.stringify({ t: record.createdAt.getTime(), id: record.id }), 'utf8').toString(
    'base64url',
  );
}

function decodeToken(token: string, v: Violations): PageToken | undefined {
  if (token === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<PageToken>;
    if (typeof parsed.t === 'number' && typeof parsed.id === 'string') return { t: parsed.t, id: parsed.id };
  } catch {
    // reported below
  }
  v.add('ListPoliciesRequest.page_token', 'is not a token from a previous ListPoliciesResponse');
  return undefined;
}

/** Newest first, then by id: the order of ListPolicies. */
function after(record: PolicyRecord, token: PageToken): boolean {
  const t = record.createdAt.getTime();
  return t < token.t || (t === token.t && record.id.localeCompare(token.id) > 0);
}

function parseVariants(request: wire.SetRouteRequest, v: Violations): RouteVariant[] {
  const path = 'SetRouteRequest.variants';
  if (request.variants.length === 0) v.add(path, 'must have at least 1 variant');
  const names = new Set<string>();
  const variants = request.variants.map((x, i) => {
    v.nonEmpty(`${path}[${i}].policy_id`, x.policyId);
    const name = x.name === '' ? x.policyId : x.name;
    if (names.has(name))
      v.add(`${path}[${i}].name`, `"${name}" names two variants (empty names default to the policy id)`);
    names.add(name);
    if (!(Number.isFinite(x.weight) && x.weight >= 0))
      v.add(`${path}[${i}].weight`, `must be finite and >= 0 (got ${x.weight})`);
    return { name, policyId: x.policyId, weight: x.weight };
  });
  if (variants.length > 0 && !variants.some((x) => x.weight > 0))
    v.add(path, 'needs a variant with a weight > 0');
  return variants;
}

/** The PolicyService binding for `startGrpcServer`. */
export function policyService(deps: PolicyServiceDeps): GrpcServiceBinding {
  const { serving, limits } = deps;
  return {
    definition: wire.PolicyServiceService,
    implementation: {
      generate: unary<wire.GenerateRequest, wire.GenerateResponse>(async (request, ctx) => {
        const M = 'GenerateRequest';
        const v = new Violations();
        parseSources(M, request.sources, limits.maxSources, limits.maxSourceChars, v);
        const target = targetOf(request.policy, v, `${M}.policy`);
        const decoding = decodingOf(request.decoding, limits, v, `${M}.decoding`);
        v.throwIfAny();
        candidatesBound(M, request.sources.length, decoding, limits.maxCandidates);
        const out = await serving.generate({
          target,
          requestKey: request.requestKey,
          api: 'generate',
          signal: ctx.signal,
          sources: request.sources,
          decoding,
          paths: sourcePaths(M),
        });
        return {
          results: out.results.map((cs, i) => ({ sourceIndex: i, candidates: cs.map(wireCandidate) })),
          servedBy: wireServedBy(out.servedBy),
          seed: out.seed,
        };
      }),
      generateStream: serverStream<wire.GenerateStreamRequest, wire.GenerateStreamResponse>(
        async function* (request, ctx) {
          const M = 'GenerateStreamRequest';
          const v = new Violations();
          parseSources(M, request.sources, limits.maxStreamSources, limits.maxSourceChars, v);
          const target = targetOf(request.policy, v, `${M}.policy`);
          const decoding = decodingOf(request.decoding, limits, v, `${M}.decoding`);
          v.throwIfAny();
          const chunkSize = Math.max(1, request.sourcesPerResponse);
          const input = {
            target,
            requestKey: request.requestKey,
            api: 'generate_stream' as const,
            signal: ctx.signal,
            sources: request.sources,
            decoding,
            paths: sourcePaths(M),
          };
          for await (const chunk of serving.stream(input, chunkSize)) {
            yield {
              results: chunk.results.map((r) => ({
                sourceIndex: r.index,
                candidates: r.candidates.map(wireCandidate),
              })),
              servedBy: wireServedBy(chunk.servedBy),
              seed: chunk.seed,
            };
          }
        },
      ),
      translate: unary<wire.TranslateRequest, wire.TranslateResponse>(async (request, ctx) => {
        const M = 'TranslateRequest';
        const v = new Violations();
        parseSources(M, request.sources, limits.maxSources, limits.maxSourceChars, v);
        const target = targetOf(request.policy, v, `${M}.policy`);
        const decoding = decodingOf(request.decoding, limits, v, `${M}.decoding`);
        if (decoding.numReturn > 1) {
          v.add(
            `${M}.decoding.num_return_sequences`,
            `must be 0 or 1: Translate returns the best translation (got ${decoding.numReturn})`,
          );
        }
        v.throwIfAny();
        const out = await serving.generate({
          target,
          requestKey: request.requestKey,
          api: 'translate',
          signal: ctx.signal,
          sources: request.sources,
          decoding,
          paths: sourcePaths(M),
        });
        return {
          translations: out.results.map((cs) => ({
            text: cs[0]?.text ?? '',
            sequenceLogprob: cs[0]?.sequenceLogprob ?? 0,
          })),
          servedBy: wireServedBy(out.servedBy),
        };
      }),
      scoreSequences: unary<wire.ScoreSequencesRequest, wire.ScoreSequencesResponse>(async (request, ctx) => {
        const M = 'ScoreSequencesRequest';
        const v = new Violations();
        if (request.pairs.length > limits.maxSources) {
          throw new ResourceExhaustedError(
            `${M}.pairs: ${request.pairs.length} pairs, more than this server scores in one request (${limits.maxSources}); split the request`,
          );
        }
        if (request.pairs.length === 0) v.add(`${M}.pairs`, 'must have at least 1 pair');
        request.pairs.forEach((pair, i) => {
          const path = `${M}.pairs[${i}]`;
          v.maxLength(`${path}.source`, v.nonEmpty(`${path}.source`, pair.source), limits.maxSourceChars);
          v.maxLength(`${path}.target`, pair.target, limits.maxSourceChars);
        });
        const target = targetOf(request.policy, v, `${M}.policy`);
        v.throwIfAny();
        const out = await serving.score({
          target,
          requestKey: '',
          api: 'score',
          signal: ctx.signal,
          pairs: request.pairs.map((p) => ({
            source: p.source,
            target: p.target,
            targetIds: p.targetTokenIds,
          })),
          paths: { policy: `${M}.policy`, pair: (i, field) => `${M}.pairs[${i}].${field}` },
        });
        return {
          scores: out.scores.map((s) => ({
            sequenceLogprob: s.sequenceLogprob,
            numTokens: s.tokenIds.length,
            tokenIds: request.includeTokenLogprobs ? [...s.tokenIds] : [],
            tokenLogprobs: request.includeTokenLogprobs ? [...s.tokenLogprobs] : [],
          })),
          servedBy: wireServedBy(out.servedBy),
        };
      }),
      listPolicies: unary<wire.ListPoliciesRequest, wire.ListPoliciesResponse>(async (request) => {
        const M = 'ListPoliciesRequest';
        const v = new Violations();
        if (request.pageSize > MAX_PAGE_SIZE)
          v.add(`${M}.page_size`, `must be at most ${MAX_PAGE_SIZE} (got ${request.pageSize})`);
        const token = decodeToken(request.pageToken, v);
        v.throwIfAny();
        const size = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
        const all = await deps.catalog.list(request.runId);
        const rest = token === undefined ? all : all.filter((r) => after(r, token));
        const page = rest.slice(0, size);
        return {
          policies: page.map((r) => ({
            policyId: r.id,
            parentId: r.parentId,
            runId: r.runId,
            grow: r.grow,
            improve: r.improve,
            metrics: { ...r.metrics },
            bundleId: r.origin === 'local' ? '' : r.bundleId,
            createdAt: r.createdAt,
            loaded: deps.pool.isLoaded(r.id),
          })),
          nextPageToken: rest.length > size ? encodeToken(page[page.length - 1]!) : '',
        };
      }),
      getRoute: unary<wire.GetRouteRequest, wire.GetRouteResponse>(async (request) => {
        const v = new Violations();
        v.nonEmpty('GetRouteRequest.alias', request.alias);
        v.throwIfAny();
        return { route: wireRoute(await deps.routes.get(request.alias, 'GetRouteRequest.alias')) };
      }),
      setRoute: unary<wire.SetRouteRequest, wire.SetRouteResponse>(async (request) => {
        const M = 'SetRouteRequest';
        const v = new Violations();
        v.nonEmpty(`${M}.alias`, request.alias);
        const variants = parseVariants(request, v);
        const shadow = request.shadow;
        if (shadow !== undefined) {
          v.nonEmpty(`${M}.shadow.policy_id`, shadow.policyId);
          v.range(`${M}.shadow.sample_rate`, shadow.sampleRate, 0, 1);
        }
        v.throwIfAny();
        const route = await deps.routes.set(
          {
            alias: request.alias,
            variants,
            shadow:
              shadow === undefined ? null : { policyId: shadow.policyId, sampleRate: shadow.sampleRate },
            expectedVersion: request.expectedVersion,
          },
          {
            variantPolicy: (i) => `${M}.variants[${i}].policy_id`,
            shadowPolicy: `${M}.shadow.policy_id`,
            message: M,
          },
        );
        return { route: wireRoute(route) };
      }),
    },
  };
}
