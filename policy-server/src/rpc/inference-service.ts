/**
 * inference.GRPCInferenceService (KServe Open Inference Protocol v2) over the policies and routes:
 * every route alias and every policy id is an OIP model. A route serves through A/B assignment; its
 * versions are the policy ids it serves, and `model_version` in a request pins one of them.
 * Responses name the policy that served in `model_version`. The tensor contract (README "Open
 * Inference Protocol"):
 *
 *   input   source            BYTES [B] (or [B, 1])  UTF-8 source sentences
 *   outputs translation       BYTES [B]              the best translation of each source
 *           sequence_logprob  FP32  [B]              its log-probability in nats
 *
 * Request parameters (all optional): `request_key` (string; sticky A/B assignment), `strategy`
 * (`greedy` | `sample` | `beam`; default: the policy's), `num_beams`, `max_new_tokens`, `top_k`,
 * `seed` (integers), `temperature`, `top_p`, `length_penalty` (numbers). Response parameters:
 * `route`, `variant`, `route_version`.
 *
 * Inputs come typed (`contents.bytes_contents`) or raw (`raw_input_contents`, see ./oip-tensors.ts);
 * the outputs come back in the form the inputs came in.
 */
import { inference } from '@rest/proto';
import {
  NotFoundError,
  ResourceExhaustedError,
  unary,
  Violations,
  type GrpcServiceBinding,
} from '@rest/service-kit';
import type { Config } from '../config.js';
import type { DecodingRequest, StrategyRequest } from '../decoding/decoding.js';
import type { PolicyServing } from '../serving/policy-serving.js';
import type { PolicyTarget } from '../serving/resolve.js';
import { rawBytes, rawFp32, splitRawBytes, utf8 } from './oip-tensors.js';
import { DEFAULT_DECODING } from './wire.js';

const REQ = 'ModelInferRequest';
const INPUT = 'source';
const OUTPUTS = ['translation', 'sequence_logprob'] as const;
type Output = (typeof OUTPUTS)[number];
const STRATEGIES: readonly StrategyRequest[] = ['greedy', 'sample', 'beam'];
const INT_PARAMS = ['num_beams', 'max_new_tokens', 'top_k', 'seed'] as const;
const NUMBER_PARAMS = ['temperature', 'top_p', 'length_penalty'] as const;
const KNOWN_PARAMS = new Set<string>(['request_key', 'strategy', ...INT_PARAMS, ...NUMBER_PARAMS]);

/** What the inference service needs. */
export interface InferenceDeps {
  readonly serving: PolicyServing;
  readonly limits: Config['limits'];
  /** Server implementation version for ServerMetadata. */
  readonly serverVersion: string;
  /** False once the server is draining. */
  ready(): boolean;
}

function paramPath(name: string): string {
  return `${REQ}.parameters["${name}"]`;
}

/** An integer parameter as a bigint, or undefined when absent (problems recorded). */
function intParam(
  params: Record<string, inference.InferParameter>,
  name: string,
  v: Violations,
): bigint | undefined {
  const choice = params[name]?.parameterChoice;
  if (choice === undefined) return undefined;
  if (choice.$case === 'int64Param') return choice.int64Param;
  if (choice.$case === 'uint64Param') return choice.uint64Param;
  if (choice.$case === 'doubleParam' && Number.isSafeInteger(choice.doubleParam))
    return BigInt(choice.doubleParam);
  v.add(paramPath(name), 'must be an integer (int64_param or uint64_param)');
  return undefined;
}

function numberParam(
  params: Record<string, inference.InferParameter>,
  name: string,
  v: Violations,
): number | undefined {
  const choice = params[name]?.parameterChoice;
  if (choice === undefined) return undefined;
  if (choice.$case === 'doubleParam') return choice.doubleParam;
  if (choice.$case === 'int64Param') return Number(choice.int64Param);
  if (choice.$case === 'uint64Param') return Number(choice.uint64Param);
  v.add(paramPath(name), 'must be a number (double_param)');
  return undefined;
}

function stringParam(
  params: Record<string, inference.InferParameter>,
  name: string,
  v: Violations,
): string | undefined {
  const choice = params[name]?.parameterChoice;
  if (choice === undefined) return undefined;
  if (choice.$case === 'stringParam') return choice.stringParam;
  v.add(paramPath(name), 'must be a string (string_param)');
  return undefined;
}

/** The request's decoding parameters, with the same ranges as rest.v1's DecodingParams. */
function decodingOfParams(
  request: inference.ModelInferRequest,
  limits: Config['limits'],
  v: Violations,
): DecodingRequest {
  const p = request.parameters;
  for (const name of Object.keys(p)) {
    if (!KNOWN_PARAMS.has(name))
      v.add(paramPath(name), `unknown parameter; the parameters are ${[...KNOWN_PARAMS].join(', ')}`);
  }
  const strategyText = stringParam(p, 'strategy', v);
  let strategy: StrategyRequest = 'default';
  if (strategyText !== undefined) {
    strategy = v.oneOf(paramPath('strategy'), strategyText.toLowerCase(), STRATEGIES);
  }
  const int = (name: Exclude<(typeof INT_PARAMS)[number], 'seed'>, max: number): number => {
    const value = intParam(p, name, v);
    if (value === undefined) return 0;
    if (value < 0n || value > BigInt(max))
      v.add(paramPath(name), `must be in [0, ${max}], 0 for the default (got ${value})`);
    return Number(value);
  };
  const temperature = numberParam(p, 'temperature', v);
  if (temperature !== undefined && !(temperature > 0 && temperature <= 100)) {
    v.add(paramPath('temperature'), `must be in (0, 100] (got ${temperature})`);
  }
  const topP = numberParam(p, 'top_p', v);
  if (topP !== undefined && !(topP > 0 && topP <= 1))
    v.add(paramPath('top_p'), `must be in (0, 1] (got ${topP})`);
  const lengthPenalty = numberParam(p, 'length_penalty', v);
  if (lengthPenalty !== undefined && !(Math.abs(lengthPenalty) <= 20)) {
    v.add(paramPath('length_penalty'), `must be in [-20, 20] (got ${lengthPenalty})`);
  }
  const seed = intParam(p, 'seed', v);
  if (seed !== undefined && (seed < 0n || seed >= 1n << 64n))
    v.add(paramPath('seed'), 'must fit an unsigned 64-bit integer');
  return {
    ...DEFAULT_DECODING,
    strategy,
    numBeams: int('num_beams', limits.maxBeams),
    maxNewTokens: int('max_new_tokens', limits.maxNewTokens),
    topK: int('top_k', 2 ** 31 - 1),
    temperature: temperature ?? 0,
    topP: topP ?? 0,
    lengthPenalty,
    seed,
  };
}

/** The source texts of a request and whether it used the raw form; problems recorded. */
function sourcesOf(
  request: inference.ModelInferRequest,
  v: Violations,
): { texts: string[]; raw: boolean; invalid: Set<number> } {
  const raw = request.rawInputContents.length > 0;
  if (raw && request.rawInputContents.length !== request.inputs.length) {
    v.add(
      `${REQ}.raw_input_contents`,
      `has ${request.rawInputContents.length} entries for ${request.inputs.length} inputs (one per input, in order)`,
    );
  }
  let texts: string[] | undefined;
  const invalid = new Set<number>();
  request.inputs.forEach((input, i) => {
    const path = input.name === INPUT ? `${REQ}.inputs["${INPUT}"]` : `${REQ}.inputs[${i}]`;
    if (input.name !== INPUT) {
      v.add(`${path}.name`, `unknown input "${input.name}"; the only input is "${INPUT}"`);
      return;
    }
    if (texts !== undefined) {
      v.add(`${path}.name`, 'appears twice');
      return;
    }
    if (input.datatype !== 'BYTES') v.add(`${path}.datatype`, `must be BYTES (got "${input.datatype}")`);
    const shape = input.shape.map(Number);
    const count = shape[0] ?? -1;
    if (!((shape.length === 1 || (shape.length === 2 && shape[1] === 1)) && count >= 0)) {
      v.add(`${path}.shape`, `must be [B] or [B, 1] (got [${shape.join(', ')}])`);
      return;
    }
    let elements: readonly Uint8Array[];
    if (raw) {
      if ((input.contents?.bytesContents.length ?? 0) > 0)
        v.add(`${path}.contents`, 'must be unset when raw_input_contents is used');
      const split = splitRawBytes(request.rawInputContents[i] ?? new Uint8Array());
      if (typeof split === 'string') {
        v.add(`${REQ}.raw_input_contents[${i}]`, split);
        return;
      }
      elements = split;
    } else {
      elements = input.contents?.bytesContents ?? [];
    }
    if (elements.length !== count) {
      v.add(`${path}.shape`, `says ${count} elements but ${elements.length} were sent`);
      return;
    }
    if (elements.length === 0) v.add(path, 'must have at least 1 element');
    texts = elements.map((element, j) => {
      const text = utf8(element);
      if (text === undefined) {
        v.add(`${path}[${j}]`, 'is not valid UTF-8');
        invalid.add(j);
      }
      return text ?? '';
    });
  });
  if (texts === undefined && !request.inputs.some((input) => input.name === INPUT)) {
    v.add(`${REQ}.inputs`, `needs a "${INPUT}" BYTES input`);
  }
  return { texts: texts ?? [], raw, invalid };
}

function outputsOf(request: inference.ModelInferRequest, v: Violations): readonly Output[] {
  const outputs: Output[] = [];
  request.outputs.forEach((output, k) => {
    if ((OUTPUTS as readonly string[]).includes(output.name)) outputs.push(output.name as Output);
    else
      v.add(
        `${REQ}.outputs[${k}].name`,
        `unknown output "${output.name}"; the outputs are ${OUTPUTS.join(', ')}`,
      );
  });
  return outputs.length === 0 ? OUTPUTS : outputs;
}

/**
 * The target of a model name and optional version.
 * @throws NotFoundError for a name that is neither a route nor a policy, or a version it does not serve
 */
async function targetOf(
  deps: InferenceDeps,
  name: string,
  version: string | undefined,
): Promise<PolicyTarget> {
  const described = await deps.serving.describe(name);
  if (described === undefined) {
    throw new NotFoundError(
      `${REQ}.model_name: no route or policy "${name}"; ListPolicies lists the policies`,
    );
  }
  if (version !== undefined && version !== '') {
    if (!described.policyIds.includes(version)) {
      throw new NotFoundError(
        `${REQ}.model_version: "${name}" does not serve policy "${version}" (it serves ${described.policyIds.join(', ') || 'none'})`,
      );
    }
    return { kind: 'policy', policyId: version };
  }
  return described.kind === 'route' ? { kind: 'route', alias: name } : { kind: 'policy', policyId: name };
}

function stringParameter(value: string): inference.InferParameter {
  return { parameterChoice: { $case: 'stringParam', stringParam: value } };
}

/** The GRPCInferenceService binding for `startGrpcServer`. */
export function inferenceService(deps: InferenceDeps): GrpcServiceBinding {
  const { limits } = deps;
  return {
    definition: inference.GRPCInferenceServiceService,
    implementation: {
      serverLive: unary<inference.ServerLiveRequest, inference.ServerLiveResponse>(() =>
        Promise.resolve({ live: true }),
      ),
      serverReady: unary<inference.ServerReadyRequest, inference.ServerReadyResponse>(() =>
        Promise.resolve({ ready: deps.ready() }),
      ),
      modelReady: unary<inference.ModelReadyRequest, inference.ModelReadyResponse>(async (request) => {
        const described = request.name === '' ? undefined : await deps.serving.describe(request.name);
        const versionOk =
          request.version === undefined ||
          request.version === '' ||
          described?.policyIds.includes(request.version) === true;
        return { ready: described !== undefined && versionOk && deps.ready() };
      }),
      serverMetadata: unary<inference.ServerMetadataRequest, inference.ServerMetadataResponse>(() =>
        Promise.resolve({ name: 'rest-policy-server', version: deps.serverVersion, extensions: [] }),
      ),
      modelMetadata: unary<inference.ModelMetadataRequest, inference.ModelMetadataResponse>(
        async (request) => {
          const described = await deps.serving.describe(request.name);
          if (described === undefined)
            throw new NotFoundError(`ModelMetadataRequest.name: no route or policy "${request.name}"`);
          if (
            request.version !== undefined &&
            request.version !== '' &&
            !described.policyIds.includes(request.version)
          ) {
            throw new NotFoundError(
              `ModelMetadataRequest.version: "${request.name}" does not serve policy "${request.version}"`,
            );
          }
          return {
            name: request.name,
            versions: described.policyIds,
            platform: 'onnxruntime_onnx',
            inputs: [{ name: INPUT, datatype: 'BYTES', shape: [-1n] }],
            outputs: [
              { name: 'translation', datatype: 'BYTES', shape: [-1n] },
              { name: 'sequence_logprob', datatype: 'FP32', shape: [-1n] },
            ],
            properties: {
              kind: described.kind,
              parameters: [...KNOWN_PARAMS].join(','),
            },
          };
        },
      ),
      modelInfer: unary<inference.ModelInferRequest, inference.ModelInferResponse>(async (request, ctx) => {
        const v = new Violations();
        v.nonEmpty(`${REQ}.model_name`, request.modelName);
        v.throwIfAny();
        const target = await targetOf(deps, request.modelName, request.modelVersion);
        const { texts, raw, invalid } = sourcesOf(request, v);
        if (texts.length > limits.maxSources) {
          throw new ResourceExhaustedError(
            `${REQ}.inputs["${INPUT}"]: ${texts.length} sources, more than this server takes in one request (${limits.maxSources}); split the request`,
          );
        }
        texts.forEach((text, i) => {
          if (invalid.has(i)) return;
          const path = `${REQ}.inputs["${INPUT}"][${i}]`;
          v.maxLength(path, v.nonEmpty(path, text), limits.maxSourceChars);
        });
        const decoding = decodingOfParams(request, limits, v);
        const requestKey = stringParam(request.parameters, 'request_key', v) ?? '';
        const outputs = outputsOf(request, v);
        v.throwIfAny();
        const out = await deps.serving.generate({
          target,
          requestKey,
          api: 'oip',
          signal: ctx.signal,
          sources: texts,
          decoding,
          paths: {
            policy: `${REQ}.model_name`,
            source: (i) => `${REQ}.inputs["${INPUT}"][${i}]`,
            decoding: (field) => paramPath(field === 'num_return_sequences' ? 'num_beams' : field),
          },
        });
        const best = out.results.map((cs) => cs[0]);
        const values = {
          translation: best.map((c) => c?.text ?? ''),
          sequence_logprob: best.map((c) => c?.sequenceLogprob ?? 0),
        };
        const b = BigInt(texts.length);
        return {
          modelName: request.modelName,
          modelVersion: out.servedBy.policyId,
          id: request.id,
          parameters: {
            route: stringParameter(out.servedBy.route),
            variant: stringParameter(out.servedBy.variant),
            route_version: {
              parameterChoice: { $case: 'int64Param', int64Param: BigInt(out.servedBy.routeVersion) },
            },
          },
          outputs: outputs.map((name) => ({
            name,
            datatype: name === 'translation' ? 'BYTES' : 'FP32',
            shape: [b],
            parameters: {},
            contents: raw
              ? undefined
              : inference.InferTensorContents.fromPartial(
                  name === 'translation'
                    ? { bytesContents: values.translation.map((t) => Buffer.from(t, 'utf8')) }
                    : { fp32Contents: values.sequence_logprob },
                ),
          })),
          rawOutputContents: raw
            ? outputs.map((name) =>
                name === 'translation' ? rawBytes(values.translation) : rawFp32(values.sequence_logprob),
              )
            : [],
        };
      }),
    },
  };
}
