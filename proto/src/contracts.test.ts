import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { MessageTypeDefinition, ServiceDefinition } from '@grpc/proto-loader';
import {
  PROTO_FILES,
  SERVICE_NAMES,
  common,
  coordinator,
  events,
  inference,
  loadPackageDefinition,
  objectives,
  policy,
  protoRoot,
  reward,
  runSpec,
  trainer,
} from './index.js';

/** Field numbers of the KServe Open Inference Protocol v2 gRPC messages, from its public spec. */
const OIP_FIELDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  ServerLiveResponse: { live: 1 },
  ServerReadyResponse: { ready: 1 },
  ModelReadyRequest: { name: 1, version: 2 },
  ModelReadyResponse: { ready: 1 },
  ServerMetadataResponse: { name: 1, version: 2, extensions: 3 },
  ModelMetadataRequest: { name: 1, version: 2 },
  ModelMetadataResponse: { name: 1, versions: 2, platform: 3, inputs: 4, outputs: 5, properties: 6 },
  'ModelMetadataResponse.TensorMetadata': { name: 1, datatype: 2, shape: 3 },
  ModelInferRequest: {
    model_name: 1,
    model_version: 2,
    id: 3,
    parameters: 4,
    inputs: 5,
    outputs: 6,
    raw_input_contents: 7,
  },
  'ModelInferRequest.InferInputTensor': { name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 },
  'ModelInferRequest.InferRequestedOutputTensor': { name: 1, parameters: 2 },
  ModelInferResponse: {
    model_name: 1,
    model_version: 2,
    id: 3,
    parameters: 4,
    outputs: 5,
    raw_output_contents: 6,
  },
  'ModelInferResponse.InferOutputTensor': { name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 },
  InferParameter: { bool_param: 1, int64_param: 2, string_param: 3, double_param: 4, uint64_param: 5 },
  InferTensorContents: {
    bool_contents: 1,
    int_contents: 2,
    int64_contents: 3,
    uint_contents: 4,
    uint64_contents: 5,
    fp32_contents: 6,
    fp64_contents: 7,
    bytes_contents: 8,
  },
};

/** Encodes BYTES elements the OIP raw way: a u32 little-endian length before each element. */
function rawBytesTensor(elements: readonly string[]): Buffer {
  return Buffer.concat(
    elements.flatMap((text) => {
      const body = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(body.length);
      return [length, body];
    }),
  );
}

/** Top-level field numbers present in an encoded message, in wire order (a minimal wire reader). */
function wireFieldNumbers(bytes: Uint8Array): number[] {
  const numbers: number[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    numbers.push(Math.floor(tag / 8));
    switch (tag % 8) {
      case 0:
        varint();
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = varint(); // read before `at` is: `at += varint()` would add to the old `at`
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new Error(`unexpected wire type ${tag % 8}`);
    }
  }
  return numbers;
}

describe('rest.v1 messages', () => {
  it('GenerateRequest: round-trips with a route oneof, a bigint seed and an optional length penalty', () => {
    const request = policy.GenerateRequest.fromPartial({
      policy: { ref: { $case: 'route', route: 'translate-de-en' } },
      sources: ['Guten Morgen.', 'Wie geht es dir?'],
      decoding: {
        strategy: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE,
        temperature: 0.8,
        topP: 0.95,
        seed: 2n ** 63n + 7n,
        maxNewTokens: 128,
        numReturnSequences: 25,
      },
      requestKey: 'user-17',
    });
    const decoded = policy.GenerateRequest.decode(policy.GenerateRequest.encode(request).finish());
    assert.deepEqual(decoded, request);
    assert.deepEqual(decoded.policy?.ref, { $case: 'route', route: 'translate-de-en' });
    assert.equal(decoded.decoding?.seed, 2n ** 63n + 7n);
    assert.equal(decoded.decoding?.lengthPenalty, undefined, 'an unset optional stays unset');
    assert.equal(decoded.decoding?.temperature, 0.8, 'doubles round-trip exactly');
  });

  it('DecodingParams: keeps presence of explicitly zero optional fields', () => {
    const params = common.DecodingParams.fromPartial({ seed: 0n, lengthPenalty: 0 });
    const decoded = common.DecodingParams.decode(common.DecodingParams.encode(params).finish());
    assert.equal(decoded.seed, 0n);
    assert.equal(decoded.lengthPenalty, 0);
  });

  it('CreateRunRequest: round-trips a RunSpec with schedule and objective oneofs', () => {
    const request = coordinator.CreateRunRequest.fromPartial({
      runId: 'wmt-hypo-1',
      spec: {
        displayName: 'HyPO on WMT',
        dataset: { name: 'wmt20-zh-en', trainSplit: 'train', validSplit: 'valid', testSplit: 'test' },
        basePolicyId: 'bc-g0-i0',
        reward: { model: 'rm-qe-small', normalization: reward.Normalization.NORMALIZATION_CLIPPED_01 },
        growSteps: 2,
        improveSteps: 3,
        thresholdSchedule: {
          schedule: { $case: 'interpolation', interpolation: { gammas: [0.5, 0.7, 0.9] } },
          minExamples: 1000,
        },
        samplesPerSource: 25,
        growDecoding: { strategy: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE, temperature: 0.8 },
        objective: {
          objective: {
            $case: 'hypo',
            hypo: {
              dpo: { beta: 0.05, pairSelection: objectives.PairSelection.PAIR_SELECTION_BEST_WORST },
              klWeight: 0.01,
              onlineSamples: 4,
            },
          },
        },
        optimizer: { learningRate: 3e-4, lrDecayPerImprove: 0.5, labelSmoothing: 0 },
        includeReferences: true,
        seed: 1234n,
        labels: { experiment: 'wmt-hypo' },
      },
    });
    const decoded = coordinator.CreateRunRequest.decode(
      coordinator.CreateRunRequest.encode(request).finish(),
    );
    assert.deepEqual(decoded, request);
    const schedule = decoded.spec?.thresholdSchedule?.schedule;
    assert.equal(schedule?.$case, 'interpolation');
    assert.deepEqual(schedule.interpolation.gammas, [0.5, 0.7, 0.9]);
    const objective = decoded.spec?.objective?.objective;
    assert.equal(objective?.$case, 'hypo');
    assert.equal(objective.hypo.dpo?.beta, 0.05);
    assert.equal(decoded.spec?.optimizer?.labelSmoothing, 0, 'an explicit zero label smoothing is kept');
    assert.ok(decoded.spec && request.spec);
    assert.deepEqual(runSpec.RunSpec.toJSON(decoded.spec), runSpec.RunSpec.toJSON(request.spec));
  });

  it('RunEvent: round-trips each oneof case it is given and keeps its message id', () => {
    const at = new Date('2025-01-02T03:04:05.678Z');
    const shardDone = events.RunEvent.fromPartial({
      messageId: 'r42/g1/grow/shard/3',
      runId: 'r42',
      grow: 1,
      at,
      event: {
        $case: 'growShardDone',
        growShardDone: {
          shard: 3,
          numSources: 256,
          numSamples: 6400,
          rewards: { count: 6400n, mean: 0.61, std: 0.2, min: 0, max: 1 },
          worker: 'grow-0',
        },
      },
    });
    const progress = events.RunEvent.fromPartial({
      messageId: 'r42/g1/i2/improve.progress/500',
      runId: 'r42',
      grow: 1,
      improve: 2,
      at,
      event: {
        $case: 'improveProgress',
        improveProgress: {
          progress: {
            jobId: 'job-1',
            state: trainer.JobState.JOB_STATE_RUNNING,
            step: 500,
            totalSteps: 10_000,
            loss: 2.5,
            tokensSeen: 5_000_000_000n,
            metrics: { grad_norm: 0.7 },
            at,
          },
        },
      },
    });
    for (const event of [shardDone, progress]) {
      const decoded = events.RunEvent.decode(events.RunEvent.encode(event).finish());
      assert.deepEqual(decoded, event);
      assert.equal(decoded.at?.getTime(), at.getTime());
    }
  });

  it('GrowWork: round-trips a source range and rejects garbage bytes', () => {
    const work = events.GrowWork.fromPartial({
      messageId: 'r42/g1/grow/shard/0',
      runId: 'r42',
      grow: 1,
      shard: 0,
      sources: { $case: 'range', range: { start: 0, end: 256 } },
      samplesPerSource: 25,
    });
    assert.deepEqual(events.GrowWork.decode(events.GrowWork.encode(work).finish()), work);
    assert.throws(() => events.GrowWork.decode(Uint8Array.from([0xff, 0xff, 0xff])));
  });
});

describe('inference (KServe OIP v2)', () => {
  it('ModelInferRequest: round-trips BYTES inputs in raw_input_contents with typed parameters', () => {
    const sources = ['Guten Morgen.', 'Danke schön!'];
    const request = inference.ModelInferRequest.fromPartial({
      modelName: 'translate-de-en',
      id: 'req-1',
      parameters: {
        num_beams: { parameterChoice: { $case: 'int64Param', int64Param: 4n } },
        temperature: { parameterChoice: { $case: 'doubleParam', doubleParam: 0.8 } },
      },
      inputs: [{ name: 'source', datatype: 'BYTES', shape: [2n] }],
      outputs: [{ name: 'translation' }],
      rawInputContents: [rawBytesTensor(sources)],
    });
    const bytes = inference.ModelInferRequest.encode(request).finish();
    assert.deepEqual(wireFieldNumbers(bytes), [1, 3, 4, 4, 5, 6, 7]);
    const decoded = inference.ModelInferRequest.decode(bytes);
    assert.deepEqual(decoded, request);
    assert.equal(decoded.modelVersion, undefined);
    assert.deepEqual(decoded.inputs[0]?.shape, [2n]);
    assert.deepEqual(decoded.rawInputContents[0], rawBytesTensor(sources));
    assert.deepEqual(decoded.parameters['num_beams']?.parameterChoice, {
      $case: 'int64Param',
      int64Param: 4n,
    });
  });

  it('ModelInferResponse: round-trips typed contents next to raw outputs', () => {
    const response = inference.ModelInferResponse.fromPartial({
      modelName: 'rm-qe-small',
      modelVersion: '3',
      outputs: [{ name: 'score', datatype: 'FP64', shape: [2n], contents: { fp64Contents: [0.25, 0.75] } }],
    });
    const decoded = inference.ModelInferResponse.decode(
      inference.ModelInferResponse.encode(response).finish(),
    );
    assert.deepEqual(decoded, response);
  });
});

describe('loadPackageDefinition', () => {
  const definition = loadPackageDefinition();

  it('loadPackageDefinition: lists the four rest.v1 services and inference.GRPCInferenceService', () => {
    for (const name of Object.values(SERVICE_NAMES)) {
      assert.ok(name in definition, `${name} is missing`);
    }
    const services = Object.keys(definition).filter((key) => {
      const entry = definition[key] as Partial<MessageTypeDefinition<object, object>>;
      return entry.format === undefined;
    });
    assert.deepEqual(services.sort(), Object.values(SERVICE_NAMES).sort());
  });

  it('loadPackageDefinition: has the same method paths as the generated grpc-js definitions', () => {
    type Methods = Readonly<Record<string, { readonly path: string; readonly responseStream: boolean }>>;
    const generated: Readonly<Record<string, Methods>> = {
      [SERVICE_NAMES.policy]: policy.PolicyServiceService,
      [SERVICE_NAMES.reward]: reward.RewardServiceService,
      [SERVICE_NAMES.trainer]: trainer.TrainerServiceService,
      [SERVICE_NAMES.coordinator]: coordinator.CoordinatorServiceService,
      [SERVICE_NAMES.inference]: inference.GRPCInferenceServiceService,
    };
    for (const [name, service] of Object.entries(generated)) {
      const loaded = definition[name] as ServiceDefinition;
      const loadedPaths = Object.values(loaded).map(
        (method) => `${method.path}:${String(method.responseStream)}`,
      );
      const generatedPaths = Object.values(service).map(
        (method) => `${method.path}:${String(method.responseStream)}`,
      );
      assert.deepEqual(loadedPaths.sort(), generatedPaths.sort(), name);
    }
  });

  it('loadPackageDefinition: OIP messages carry the specification field names and numbers', () => {
    // proto-loader lists top-level messages only; nested ones are in their parent's nestedType.
    interface Descriptor {
      name: string;
      field: { name: string; number: number }[];
      nestedType: Descriptor[];
    }
    for (const [message, fields] of Object.entries(OIP_FIELDS)) {
      const [top = '', nested] = message.split('.');
      const entry = definition[`inference.${top}`] as MessageTypeDefinition<object, object> | undefined;
      assert.ok(entry, `inference.${top} is missing`);
      let descriptor = entry.type as Descriptor;
      if (nested !== undefined) {
        const inner = descriptor.nestedType.find((type) => type.name === nested);
        assert.ok(inner, `inference.${message} is missing`);
        descriptor = inner;
      }
      const actual = Object.fromEntries(descriptor.field.map((field) => [field.name, field.number]));
      assert.deepEqual(actual, fields, message);
    }
  });

  it('PROTO_FILES: lists every .proto file of the package', () => {
    const root = protoRoot();
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (['node_modules', 'gen', 'dist', 'src'].includes(entry.name)) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.proto')) found.push(relative(root, path));
      }
    };
    walk(root);
    assert.deepEqual(found.sort(), [...PROTO_FILES].sort());
  });
});
