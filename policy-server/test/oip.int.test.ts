/* eslint-disable @typescript-eslint/unbound-method -- client methods go to ok(), which invokes them on their client */
/**
 * The KServe Open Inference Protocol v2 on a real server, called the way an existing OIP client
 * calls it: the client is built only from `proto/inference/grpc_service.proto` by
 * @grpc/proto-loader (no rest.v1 types, no ts-proto code), with plain objects as messages. Every
 * RPC: ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata, and ModelInfer with
 * BYTES `source` in the typed and the raw length-prefixed forms, whose `translation` outputs equal
 * what PolicyService.Translate answers, with `model_version` naming the policy that served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoRoot } from '@rest/proto';
import {
  ok,
  registerPolicy,
  startHarness,
  startWorld,
  violatedFields,
  WAIT_MS,
  type Harness,
  type World,
} from './harness.js';
import { buildPolicy, multi30k } from './tiny-policy.js';

const SOURCES = multi30k('test.de', 5);

/** A message as proto-loader reads and writes it (field names as in the .proto file). */
type Message = Record<string, unknown>;

interface OipClient extends grpc.Client {
  [method: string]: unknown;
}

/** A GRPCInferenceService client from the .proto file alone. */
function oipClient(address: string): OipClient {
  const definition = loadSync('inference/grpc_service.proto', {
    includeDirs: [protoRoot()],
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    inference: {
      GRPCInferenceService: new (address: string, credentials: grpc.ChannelCredentials) => OipClient;
    };
  };
  return new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
}

/** Calls `method` and resolves with the error or the response. */
function invoke(
  client: OipClient,
  method: string,
  request: Message,
): Promise<{ error: grpc.ServiceError | null; value: Message }> {
  const fn = client[method] as (
    request: Message,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, value: Message) => void,
  ) => void;
  return new Promise((resolve) => {
    fn.call(client, request, { deadline: Date.now() + WAIT_MS }, (error, value) => resolve({ error, value }));
  });
}

/** OIP's raw BYTES layout: per element a 4-byte little-endian length, then the bytes. */
function rawBytes(texts: readonly string[]): Buffer {
  return Buffer.concat(
    texts.flatMap((t) => {
      const bytes = Buffer.from(t, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

function splitRaw(raw: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < raw.length;) {
    const n = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + n).toString('utf8'));
    at += 4 + n;
  }
  return out;
}

function sourceTensor(texts: readonly string[], raw: boolean): Message {
  return {
    name: 'source',
    datatype: 'BYTES',
    shape: [texts.length],
    ...(raw ? {} : { contents: { bytes_contents: texts.map((t) => Buffer.from(t, 'utf8')) } }),
  };
}

describe('Open Inference Protocol v2 (integration, client from the .proto only)', () => {
  let world: World;
  let h: Harness;
  let client: OipClient;
  let expected: string[];

  before(async () => {
    world = await startWorld();
    await registerPolicy(world, 'alpha', await buildPolicy(world.root, 'alpha', { seed: 1 }));
    await registerPolicy(world, 'beta', await buildPolicy(world.root, 'beta', { seed: 2 }));
    h = await startHarness(world, { POLICY_LIMITS__MAX_SOURCE_CHARS: '300' });
    await ok(h.policies, h.policies.setRoute, {
      alias: 'translate',
      variants: [{ name: 'control', policyId: 'alpha', weight: 1 }],
      shadow: undefined,
      expectedVersion: 0,
    });
    const translated = await ok(h.policies, h.policies.translate, {
      policy: { ref: { $case: 'policyId', policyId: 'alpha' } },
      sources: SOURCES,
      requestKey: '',
      decoding: undefined,
    });
    expected = translated.translations.map((t) => t.text);
    client = oipClient(h.address);
  });

  after(async () => {
    client?.close();
    await h?.close();
    await world?.stop();
  });

  it('ServerLive, ServerReady, ServerMetadata', async () => {
    assert.equal((await invoke(client, 'ServerLive', {})).value['live'], true);
    assert.equal((await invoke(client, 'ServerReady', {})).value['ready'], true);
    const meta = (await invoke(client, 'ServerMetadata', {})).value;
    assert.equal(meta['name'], 'rest-policy-server');
    assert.equal(meta['version'], '0.1.0');
  });

  it('ModelReady and ModelMetadata: routes and policies are models; a route’s versions are its policies', async () => {
    assert.equal((await invoke(client, 'ModelReady', { name: 'translate' })).value['ready'], true);
    assert.equal((await invoke(client, 'ModelReady', { name: 'beta' })).value['ready'], true);
    assert.equal(
      (await invoke(client, 'ModelReady', { name: 'translate', version: 'alpha' })).value['ready'],
      true,
    );
    assert.equal(
      (await invoke(client, 'ModelReady', { name: 'translate', version: 'beta' })).value['ready'],
      false,
    );
    assert.equal((await invoke(client, 'ModelReady', { name: 'nope' })).value['ready'], false);
    const meta = (await invoke(client, 'ModelMetadata', { name: 'translate' })).value;
    assert.deepEqual(meta['versions'], ['alpha']);
    assert.deepEqual(meta['inputs'], [{ name: 'source', datatype: 'BYTES', shape: ['-1'] }]);
    assert.deepEqual(
      (meta['outputs'] as Message[]).map((o) => [o['name'], o['datatype']]),
      [
        ['translation', 'BYTES'],
        ['sequence_logprob', 'FP32'],
      ],
    );
    const missing = await invoke(client, 'ModelMetadata', { name: 'nope' });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
  });

  it('ModelInfer, typed BYTES: translations equal Translate’s; model_version names the policy that served', async () => {
    const { error, value } = await invoke(client, 'ModelInfer', {
      model_name: 'translate',
      id: 'req-1',
      inputs: [sourceTensor(SOURCES, false)],
      outputs: [{ name: 'translation' }],
      parameters: { request_key: { string_param: 'user-1' } },
    });
    assert.equal(error, null);
    assert.equal(value['model_version'], 'alpha');
    assert.equal(value['id'], 'req-1');
    const outputs = value['outputs'] as Message[];
    assert.equal(outputs.length, 1);
    assert.equal(outputs[0]!['datatype'], 'BYTES');
    assert.deepEqual(outputs[0]!['shape'], [String(SOURCES.length)]);
    const texts = ((outputs[0]!['contents'] as Message)['bytes_contents'] as Buffer[]).map((b) =>
      b.toString('utf8'),
    );
    assert.deepEqual(texts, expected);
    const params = value['parameters'] as Record<string, Message>;
    assert.equal(params['route']?.['string_param'], 'translate');
    assert.equal(params['variant']?.['string_param'], 'control');
  });

  it('ModelInfer, raw length-prefixed BYTES in [B, 1]: raw outputs, same translations, both outputs by default', async () => {
    const { error, value } = await invoke(client, 'ModelInfer', {
      model_name: 'alpha',
      inputs: [{ ...sourceTensor(SOURCES, true), shape: [SOURCES.length, 1] }],
      raw_input_contents: [rawBytes(SOURCES)],
    });
    assert.equal(error, null);
    assert.equal(value['model_version'], 'alpha');
    const outputs = value['outputs'] as Message[];
    assert.deepEqual(
      outputs.map((o) => o['name']),
      ['translation', 'sequence_logprob'],
    );
    const raw = value['raw_output_contents'] as Buffer[];
    assert.deepEqual(splitRaw(raw[0]!), expected);
    assert.equal(raw[1]!.length, 4 * SOURCES.length);
    for (let i = 0; i < SOURCES.length; i++) assert.ok(raw[1]!.readFloatLE(4 * i) <= 0);
  });

  it('ModelInfer: decoding parameters apply; model_version pins a policy of the route', async () => {
    const { error, value } = await invoke(client, 'ModelInfer', {
      model_name: 'translate',
      model_version: 'alpha',
      inputs: [sourceTensor(SOURCES.slice(0, 2), false)],
      parameters: { strategy: { string_param: 'greedy' }, max_new_tokens: { int64_param: '3' } },
    });
    assert.equal(error, null);
    const texts = ((value['outputs'] as Message[])[0]!['contents'] as Message)['bytes_contents'] as Buffer[];
    assert.equal(texts.length, 2);
    const pinned = await invoke(client, 'ModelInfer', {
      model_name: 'translate',
      model_version: 'beta',
      inputs: [sourceTensor(SOURCES.slice(0, 1), false)],
    });
    assert.equal(pinned.error?.code, grpc.status.NOT_FOUND);
    assert.match(pinned.error?.details ?? '', /ModelInferRequest\.model_version/);
  });

  it('ModelInfer: malformed tensors and parameters are INVALID_ARGUMENT naming the field; unknown models NOT_FOUND', async () => {
    const bad = await invoke(client, 'ModelInfer', {
      model_name: 'alpha',
      inputs: [
        {
          name: 'source',
          datatype: 'FP32',
          shape: [2],
          contents: { bytes_contents: [Buffer.from(''), Buffer.from([0xff, 0xfe])] },
        },
        { name: 'extra', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('x')] } },
      ],
      parameters: {
        temperature: { double_param: -1 },
        strategy: { string_param: 'nucleus' },
        colour: { bool_param: true },
      },
      outputs: [{ name: 'scores' }],
    });
    assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(bad.error).sort(), [
      'ModelInferRequest.inputs["source"].datatype',
      'ModelInferRequest.inputs["source"][0]',
      'ModelInferRequest.inputs["source"][1]',
      'ModelInferRequest.inputs[1].name',
      'ModelInferRequest.outputs[0].name',
      'ModelInferRequest.parameters["colour"]',
      'ModelInferRequest.parameters["strategy"]',
      'ModelInferRequest.parameters["temperature"]',
    ]);
    const truncated = await invoke(client, 'ModelInfer', {
      model_name: 'alpha',
      inputs: [sourceTensor(['a'], true)],
      raw_input_contents: [Buffer.from([5, 0, 0, 0, 0x61])],
    });
    assert.deepEqual(violatedFields(truncated.error), ['ModelInferRequest.raw_input_contents[0]']);
    const shape = await invoke(client, 'ModelInfer', {
      model_name: 'alpha',
      inputs: [{ ...sourceTensor(['a', 'b'], false), shape: [3] }],
    });
    assert.deepEqual(violatedFields(shape.error), ['ModelInferRequest.inputs["source"].shape']);
    const none = await invoke(client, 'ModelInfer', { model_name: 'alpha', inputs: [] });
    assert.deepEqual(violatedFields(none.error), ['ModelInferRequest.inputs']);
    const unknown = await invoke(client, 'ModelInfer', {
      model_name: 'nope',
      inputs: [sourceTensor(['a'], false)],
    });
    assert.equal(unknown.error?.code, grpc.status.NOT_FOUND);
    assert.match(unknown.error?.details ?? '', /ModelInferRequest\.model_name: no route or policy "nope"/);
  });
});
