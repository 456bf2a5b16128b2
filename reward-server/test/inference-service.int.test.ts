/**
 * GRPCInferenceService (KServe OIP v2) against a real server on 127.0.0.1:0: liveness, readiness,
 * metadata, and ModelInfer with BYTES inputs in the typed and the raw length-prefixed forms, for a
 * metric and a learned model, and bad tensors answered INVALID_ARGUMENT naming the field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { inference } from '@rest/proto';
import { sentenceChrf, sentenceTer } from '@rest/text';
import { call, rawBytesTensor, startHarness, violatedFields, type Harness } from './harness.js';
import { buildTinyRewardModel, multi30k, type TinyRewardModel } from './tiny-reward-model.js';

const SOURCES = multi30k('test.de', 6);
const REFERENCES = multi30k('test.en', 6);
const HYPOTHESES = multi30k('valid.en', 6);

type Input = inference.ModelInferRequest_InferInputTensor;

function typed(name: string, texts: readonly string[], shape: readonly number[] = [texts.length]): Input {
  return {
    name,
    datatype: 'BYTES',
    shape: shape.map(BigInt),
    parameters: {},
    contents: inference.InferTensorContents.fromPartial({
      bytesContents: texts.map((t) => Buffer.from(t, 'utf8')),
    }),
  };
}

function rawInput(name: string, count: number, datatype = 'BYTES'): Input {
  return { name, datatype, shape: [BigInt(count)], parameters: {}, contents: undefined };
}

function inferRequest(
  modelName: string,
  inputs: Input[],
  extra: Partial<inference.ModelInferRequest> = {},
): inference.ModelInferRequest {
  return { modelName, id: 'req-1', parameters: {}, inputs, outputs: [], rawInputContents: [], ...extra };
}

function fp32(values: readonly number[]): number[] {
  return values.map((v) => Math.fround(v));
}

function fromRawFp32(buffer: Buffer): number[] {
  return Array.from({ length: buffer.length / 4 }, (_, i) => buffer.readFloatLE(i * 4));
}

describe('GRPCInferenceService (integration)', () => {
  let tmp: string;
  let model: TinyRewardModel;
  let h: Harness;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reward-oip-'));
    model = await buildTinyRewardModel(tmp, { name: 'rm-oip' });
    h = await startHarness({ REWARD_MODELS__DIRS: JSON.stringify([tmp]) });
  });

  after(async () => {
    await h.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('ServerLive, ServerReady, ServerMetadata', async () => {
    assert.deepEqual((await call(h.oip, 'serverLive', {})).value, { live: true });
    assert.deepEqual((await call(h.oip, 'serverReady', {})).value, { ready: true });
    const meta = await call(h.oip, 'serverMetadata', {});
    assert.deepEqual(meta.value, { name: 'rest-reward-server', version: '0.1.0', extensions: [] });
  });

  it('ModelReady: true for served models and versions, false otherwise', async () => {
    const ready = async (name: string, version?: string): Promise<boolean | undefined> =>
      (await call(h.oip, 'modelReady', { name, version })).value?.ready;
    assert.equal(await ready('rm-oip'), true);
    assert.equal(await ready('rm-oip', 'rm-oip-v1'), true);
    assert.equal(await ready('rm-oip', 'v0'), false);
    assert.equal(await ready('chrf'), true);
    assert.equal(await ready('nope'), false);
  });

  it('ModelMetadata: BYTES inputs, FP32 outputs, version and properties; NOT_FOUND when unknown', async () => {
    const { error, value } = await call(h.oip, 'modelMetadata', { name: 'rm-oip', version: undefined });
    assert.equal(error, null);
    assert.equal(value!.name, 'rm-oip');
    assert.deepEqual(value!.versions, ['rm-oip-v1']);
    assert.equal(value!.platform, 'onnxruntime_onnx');
    assert.deepEqual(
      value!.inputs.map((t) => [t.name, t.datatype, t.shape]),
      [
        ['source', 'BYTES', [-1n]],
        ['hypothesis', 'BYTES', [-1n]],
        ['reference', 'BYTES', [-1n]],
      ],
    );
    assert.deepEqual(
      value!.outputs.map((t) => [t.name, t.datatype]),
      [
        ['rewards', 'FP32'],
        ['raw_rewards', 'FP32'],
      ],
    );
    assert.equal(value!.properties.requires_reference, 'false');
    assert.equal(value!.properties.calibration_mean, '50');
    const ter = await call(h.oip, 'modelMetadata', { name: 'ter', version: undefined });
    assert.equal(ter.value!.properties.higher_is_better, 'false');
    assert.equal(ter.value!.platform, 'rest_text_metric');
    const unknown = await call(h.oip, 'modelMetadata', { name: 'nope', version: undefined });
    assert.equal(unknown.error?.code, status.NOT_FOUND);
    const badVersion = await call(h.oip, 'modelMetadata', { name: 'rm-oip', version: 'v0' });
    assert.equal(badVersion.error?.code, status.NOT_FOUND);
  });

  it('ModelInfer: typed BYTES in, typed FP32 out, equal to the metric, with model_version and id', async () => {
    const { error, value } = await call(
      h.oip,
      'modelInfer',
      inferRequest('chrf', [
        typed('source', SOURCES),
        typed('hypothesis', HYPOTHESES, [HYPOTHESES.length, 1]),
        typed('reference', REFERENCES),
      ]),
    );
    assert.equal(error, null);
    assert.equal(value!.modelName, 'chrf');
    assert.equal(value!.modelVersion, 'nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0');
    assert.equal(value!.id, 'req-1');
    assert.deepEqual(value!.rawOutputContents, []);
    const [rewards, raw] = value!.outputs;
    assert.equal(rewards!.name, 'rewards');
    assert.equal(rewards!.datatype, 'FP32');
    assert.deepEqual(rewards!.shape, [BigInt(SOURCES.length)]);
    const want = fp32(HYPOTHESES.map((hyp, i) => sentenceChrf(hyp, [REFERENCES[i]!]).score));
    assert.deepEqual(rewards!.contents!.fp32Contents, want);
    assert.equal(raw!.name, 'raw_rewards');
    assert.deepEqual(raw!.contents!.fp32Contents, want);
  });

  it('ModelInfer: raw length-prefixed BYTES in, raw FP32 out; normalization parameter; chosen outputs', async () => {
    const { error, value } = await call(
      h.oip,
      'modelInfer',
      inferRequest('ter', [rawInput('source', 6), rawInput('hypothesis', 6), rawInput('reference', 6)], {
        rawInputContents: [rawBytesTensor(SOURCES), rawBytesTensor(HYPOTHESES), rawBytesTensor(REFERENCES)],
        parameters: {
          normalization: { parameterChoice: { $case: 'stringParam', stringParam: 'CLIPPED_01' } },
        },
        outputs: [{ name: 'rewards', parameters: {} }],
      }),
    );
    assert.equal(error, null);
    assert.equal(value!.outputs.length, 1);
    assert.equal(value!.outputs[0]!.contents, undefined);
    const ter = HYPOTHESES.map((hyp, i) => sentenceTer(hyp, [REFERENCES[i]!]).score);
    assert.deepEqual(
      fromRawFp32(value!.rawOutputContents[0]!),
      fp32(ter.map((t) => Math.min(1, Math.max(0, 1 - t / 100)))),
    );
    assert.deepEqual(value!.parameters.normalization?.parameterChoice, {
      $case: 'stringParam',
      stringParam: 'CLIPPED_01',
    });
  });

  it('ModelInfer: the learned model in both forms, without a reference input', async () => {
    const want = fp32(SOURCES.map((s, i) => model.expected(s, HYPOTHESES[i]!)));
    const typedOut = await call(
      h.oip,
      'modelInfer',
      inferRequest('rm-oip', [typed('source', SOURCES), typed('hypothesis', HYPOTHESES)], {
        modelVersion: 'rm-oip-v1',
      }),
    );
    assert.equal(typedOut.error, null);
    assert.equal(typedOut.value!.modelVersion, 'rm-oip-v1');
    const got = typedOut.value!.outputs[1]!.contents!.fp32Contents;
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-3, `item ${i}: ${g} vs ${want[i]}`));
    const rawOut = await call(
      h.oip,
      'modelInfer',
      inferRequest('rm-oip', [rawInput('source', 6), rawInput('hypothesis', 6)], {
        rawInputContents: [rawBytesTensor(SOURCES), rawBytesTensor(HYPOTHESES)],
      }),
    );
    assert.equal(rawOut.error, null);
    assert.deepEqual(fromRawFp32(rawOut.value!.rawOutputContents[1]!), got);
  });

  it('ModelInfer: bad tensors are INVALID_ARGUMENT naming each field; unknown model or version NOT_FOUND', async () => {
    const bad = await call(
      h.oip,
      'modelInfer',
      inferRequest(
        'chrf',
        [
          { ...typed('source', ['a', 'b']), datatype: 'FP32' },
          typed('hypothesis', ['a'], [2]),
          typed('extra', ['a']),
        ],
        { outputs: [{ name: 'logits', parameters: {} }] },
      ),
    );
    assert.equal(bad.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(bad.error), [
      'ModelInferRequest.inputs["source"].datatype',
      'ModelInferRequest.inputs["hypothesis"].shape',
      'ModelInferRequest.inputs[2].name',
      'ModelInferRequest.outputs[0].name',
    ]);

    const truncated = await call(
      h.oip,
      'modelInfer',
      inferRequest('chrf', [rawInput('source', 1), rawInput('hypothesis', 1), rawInput('reference', 1)], {
        rawInputContents: [rawBytesTensor(['ok']), Buffer.from([9, 0, 0, 0, 65]), Buffer.from([0xff, 0xfe])],
      }),
    );
    assert.equal(truncated.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(truncated.error), [
      'ModelInferRequest.raw_input_contents[1]',
      'ModelInferRequest.raw_input_contents[2]',
    ]);

    const invalidUtf8 = await call(
      h.oip,
      'modelInfer',
      inferRequest('chrf', [rawInput('source', 1), rawInput('hypothesis', 1), rawInput('reference', 1)], {
        rawInputContents: [
          rawBytesTensor(['ok']),
          Buffer.from([2, 0, 0, 0, 0xc3, 0x28]),
          rawBytesTensor(['ok']),
        ],
      }),
    );
    assert.deepEqual(violatedFields(invalidUtf8.error), ['ModelInferRequest.inputs["hypothesis"][0]']);

    const noReference = await call(
      h.oip,
      'modelInfer',
      inferRequest('bleu', [
        typed('source', ['Ein Hund.', 'Eine Katze.']),
        typed('hypothesis', ['A dog.', 'A cat.']),
      ]),
    );
    assert.equal(noReference.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(violatedFields(noReference.error), [
      'ModelInferRequest.inputs["reference"][0]',
      'ModelInferRequest.inputs["reference"][1]',
    ]);

    const missing = await call(h.oip, 'modelInfer', inferRequest('chrf', [typed('source', ['a'])]));
    assert.match(missing.error!.details, /ModelInferRequest\.inputs: needs a "hypothesis" BYTES input/);

    const badParam = await call(
      h.oip,
      'modelInfer',
      inferRequest('chrf', [typed('source', ['a']), typed('hypothesis', ['a']), typed('reference', ['a'])], {
        parameters: { normalization: { parameterChoice: { $case: 'int64Param', int64Param: 2n } } },
      }),
    );
    assert.deepEqual(violatedFields(badParam.error), ['ModelInferRequest.parameters["normalization"]']);

    const unknown = await call(h.oip, 'modelInfer', inferRequest('nope', [typed('source', ['a'])]));
    assert.equal(unknown.error?.code, status.NOT_FOUND);
    const version = await call(
      h.oip,
      'modelInfer',
      inferRequest('rm-oip', [typed('source', ['a']), typed('hypothesis', ['a'])], { modelVersion: 'v0' }),
    );
    assert.equal(version.error?.code, status.NOT_FOUND);
    const noName = await call(h.oip, 'modelInfer', inferRequest('', []));
    assert.deepEqual(violatedFields(noName.error), ['ModelInferRequest.model_name']);
  });
});
