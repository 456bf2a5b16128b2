/**
 * inference.GRPCInferenceService (KServe Open Inference Protocol v2) over the same scorers as
 * RewardService. Every reward model and metric is an OIP model of the same name, with version
 * `RewardModelInfo.version`. The tensor contract (README "Open Inference Protocol"):
 *
 *   inputs   source      BYTES [B] (or [B, 1])  UTF-8, required
 *            hypothesis  BYTES [B] (or [B, 1])  UTF-8, required
 *            reference   BYTES [B] (or [B, 1])  UTF-8, required by the metrics; "" = none
 *   outputs  rewards     FP32  [B]  normalised scores (parameter `normalization`: RAW | CLIPPED_01 | ZSCORE, default RAW)
 *            raw_rewards FP32  [B]  raw scores
 *
 * Inputs come typed (`contents.bytes_contents`) or raw (`raw_input_contents`, see ./oip-tensors.ts);
 * the outputs come back in the same form the inputs came in.
 */
import { inference } from '@rest/proto';
import { NotFoundError, unary, Violations, type GrpcServiceBinding } from '@rest/service-kit';
import type { Normalization, RewardScorer, ScoreItem } from '../scoring/types.js';
import { rawFp32, splitRawBytes, utf8 } from './oip-tensors.js';
import { scoreRequest, scorerOf, type ItemPaths, type ScoringDeps } from './scoring.js';

/** The OIP text inputs, in the order ModelMetadata lists them. */
const TEXT_INPUTS = ['source', 'hypothesis', 'reference'] as const;
type TextInput = (typeof TEXT_INPUTS)[number];
/** The OIP outputs, in the order an empty `outputs` list returns them. */
const OUTPUTS = ['rewards', 'raw_rewards'] as const;
type Output = (typeof OUTPUTS)[number];

/** `normalization` parameter values; the `NORMALIZATION_` prefix of the rest.v1 enum is accepted too. */
const NORMALIZATION_PARAM: Record<string, Normalization> = {
  RAW: 'raw',
  CLIPPED_01: 'clipped01',
  ZSCORE: 'zscore',
};
const PARAM_OF_NORMALIZATION: Record<Normalization, string> = {
  raw: 'RAW',
  clipped01: 'CLIPPED_01',
  zscore: 'ZSCORE',
};

const REQ = 'ModelInferRequest';

const PATHS: ItemPaths = {
  items: `${REQ}.inputs`,
  item: (i, field) => `${REQ}.inputs[${field === undefined ? '"source","hypothesis"' : `"${field}"`}][${i}]`,
};

/** What the inference service needs beyond scoring. */
export interface InferenceDeps extends ScoringDeps {
  /** Server implementation version for ServerMetadata. */
  readonly serverVersion: string;
  /** False once the server is draining. */
  ready(): boolean;
}

interface DecodedInfer {
  readonly texts: Partial<Record<TextInput, string[]>>;
  readonly raw: boolean;
  readonly normalization: Normalization;
  readonly outputs: readonly Output[];
}

function inputPath(name: string, index: number): string {
  return (TEXT_INPUTS as readonly string[]).includes(name)
    ? `${REQ}.inputs["${name}"]`
    : `${REQ}.inputs[${index}]`;
}

/** Decodes the tensors and parameters of a ModelInfer request, recording problems in `v`. */
function decodeInfer(wire: inference.ModelInferRequest, v: Violations): DecodedInfer {
  const raw = wire.rawInputContents.length > 0;
  if (raw && wire.rawInputContents.length !== wire.inputs.length) {
    v.add(
      `${REQ}.raw_input_contents`,
      `has ${wire.rawInputContents.length} entries for ${wire.inputs.length} inputs (one per input, in order)`,
    );
  }
  const texts: Partial<Record<TextInput, string[]>> = {};
  wire.inputs.forEach((input, i) => {
    const path = inputPath(input.name, i);
    if (!(TEXT_INPUTS as readonly string[]).includes(input.name)) {
      v.add(`${path}.name`, `unknown input "${input.name}"; the inputs are ${TEXT_INPUTS.join(', ')}`);
      return;
    }
    const name = input.name as TextInput;
    if (texts[name] !== undefined) {
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
      if ((input.contents?.bytesContents.length ?? 0) > 0) {
        v.add(`${path}.contents`, 'must be unset when raw_input_contents is used');
      }
      const split = splitRawBytes(wire.rawInputContents[i] ?? new Uint8Array());
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
    texts[name] = elements.map((element, j) => {
      const text = utf8(element);
      if (text === undefined) v.add(`${path}[${j}]`, 'is not valid UTF-8');
      return text ?? '';
    });
  });
  for (const required of ['source', 'hypothesis'] as const) {
    if (texts[required] === undefined && !wire.inputs.some((input) => input.name === required)) {
      v.add(`${REQ}.inputs`, `needs a "${required}" BYTES input`);
    }
  }
  const b = texts.source?.length;
  for (const name of ['hypothesis', 'reference'] as const) {
    const n = texts[name]?.length;
    if (b !== undefined && n !== undefined && n !== b) {
      v.add(`${REQ}.inputs["${name}"].shape`, `has ${n} elements but "source" has ${b}`);
    }
  }

  let normalization: Normalization = 'raw';
  const param = wire.parameters.normalization;
  if (param !== undefined) {
    const choice = param.parameterChoice;
    const value =
      choice?.$case === 'stringParam' ? choice.stringParam.toUpperCase().replace(/^NORMALIZATION_/, '') : '';
    const parsed = NORMALIZATION_PARAM[value];
    if (parsed === undefined) {
      v.add(`${REQ}.parameters["normalization"]`, 'must be the string RAW, CLIPPED_01 or ZSCORE');
    } else {
      normalization = parsed;
    }
  }

  const outputs: Output[] = [];
  wire.outputs.forEach((output, k) => {
    if ((OUTPUTS as readonly string[]).includes(output.name)) outputs.push(output.name as Output);
    else
      v.add(
        `${REQ}.outputs[${k}].name`,
        `unknown output "${output.name}"; the outputs are ${OUTPUTS.join(', ')}`,
      );
  });
  return { texts, raw, normalization, outputs: outputs.length === 0 ? OUTPUTS : outputs };
}

/**
 * The scorer for a model name and optional version.
 * @throws NotFoundError for an unknown model, or a version the server does not hold
 */
function versioned(deps: ScoringDeps, name: string, version: string | undefined): RewardScorer {
  const scorer = scorerOf(deps, name);
  if (version !== undefined && version !== '' && version !== scorer.info.version) {
    throw new NotFoundError(
      `model "${name}" has no version "${version}" (this server holds "${scorer.info.version}")`,
    );
  }
  return scorer;
}

function tensorMetadata(name: string, datatype: string): inference.ModelMetadataResponse_TensorMetadata {
  return { name, datatype, shape: [-1n] };
}

/** The GRPCInferenceService binding for `startGrpcServer`. */
export function inferenceService(deps: InferenceDeps): GrpcServiceBinding {
  return {
    definition: inference.GRPCInferenceServiceService,
    implementation: {
      serverLive: unary<inference.ServerLiveRequest, inference.ServerLiveResponse>(() =>
        Promise.resolve({ live: true }),
      ),
      serverReady: unary<inference.ServerReadyRequest, inference.ServerReadyResponse>(() =>
        Promise.resolve({ ready: deps.ready() }),
      ),
      modelReady: unary<inference.ModelReadyRequest, inference.ModelReadyResponse>((wire) => {
        const scorer = deps.scorers.get(wire.name);
        const versionOk =
          wire.version === undefined || wire.version === '' || wire.version === scorer?.info.version;
        return Promise.resolve({ ready: scorer !== undefined && versionOk && deps.ready() });
      }),
      serverMetadata: unary<inference.ServerMetadataRequest, inference.ServerMetadataResponse>(() =>
        Promise.resolve({ name: 'rest-reward-server', version: deps.serverVersion, extensions: [] }),
      ),
      modelMetadata: unary<inference.ModelMetadataRequest, inference.ModelMetadataResponse>((wire) => {
        const { info } = versioned(deps, wire.name, wire.version);
        return Promise.resolve({
          name: info.name,
          versions: [info.version],
          platform: info.kind === 'learned' ? 'onnxruntime_onnx' : 'rest_text_metric',
          inputs: TEXT_INPUTS.map((name) => tensorMetadata(name, 'BYTES')),
          outputs: OUTPUTS.map((name) => tensorMetadata(name, 'FP32')),
          properties: {
            kind: info.kind,
            description: info.description,
            requires_reference: String(info.requiresReference),
            higher_is_better: String(info.higherIsBetter),
            raw_min: String(info.rawMin),
            raw_max: String(info.rawMax),
            calibration_mean: String(info.calibration.mean),
            calibration_std: String(info.calibration.std),
            calibration_origin: info.calibration.origin,
            normalizations: Object.values(PARAM_OF_NORMALIZATION).join(','),
          },
        });
      }),
      modelInfer: unary<inference.ModelInferRequest, inference.ModelInferResponse>(async (wire, ctx) => {
        const v = new Violations();
        if (wire.modelName.trim() === '') {
          v.add(`${REQ}.model_name`, 'must be non-empty');
          v.throwIfAny();
        }
        const scorer = versioned(deps, wire.modelName, wire.modelVersion);
        const decoded = decodeInfer(wire, v);
        const b = decoded.texts.source?.length ?? 0;
        const items: ScoreItem[] = [];
        for (let i = 0; i < b; i++) {
          items.push({
            source: decoded.texts.source?.[i] ?? '',
            hypothesis: decoded.texts.hypothesis?.[i] ?? '',
            reference: decoded.texts.reference?.[i],
          });
        }
        const result = await scoreRequest(
          deps,
          { model: wire.modelName, items, normalization: decoded.normalization, violations: v },
          PATHS,
          'oip',
          ctx,
        );
        const values: Record<Output, readonly number[]> = { rewards: result.scores, raw_rewards: result.raw };
        return {
          modelName: scorer.info.name,
          modelVersion: scorer.info.version,
          id: wire.id,
          parameters: {
            normalization: {
              parameterChoice: {
                $case: 'stringParam',
                stringParam: PARAM_OF_NORMALIZATION[decoded.normalization],
              },
            },
          },
          outputs: decoded.outputs.map((name) => ({
            name,
            datatype: 'FP32',
            shape: [BigInt(b)],
            parameters: {},
            contents: decoded.raw
              ? undefined
              : inference.InferTensorContents.fromPartial({ fp32Contents: [...values[name]] }),
          })),
          rawOutputContents: decoded.raw ? decoded.outputs.map((name) => rawFp32(values[name])) : [],
        };
      }),
    },
  };
}
