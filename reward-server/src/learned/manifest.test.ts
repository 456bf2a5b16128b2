import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest, RewardModelError } from './manifest.js';

const VALID = {
  formatVersion: 1,
  name: 'rm-qe-small',
  kind: 'cross-encoder-regression',
  onnx: 'onnx/model.onnx',
  tokenizer: 'tokenizer.json',
  inputs: [
    { name: 'input_ids', role: 'input_ids' },
    { name: 'attention_mask', role: 'attention_mask' },
  ],
  output: 'score',
  maxLength: 256,
  pairing: { template: ['{source}', '</s>', '{hypothesis}', '</s>'] },
  range: { min: 0, max: 100 },
  calibration: { mean: 40, std: 15 },
};

describe('parseManifest', () => {
  it('parseManifest: fills the defaults of a minimal manifest', () => {
    const m = parseManifest(VALID, 'reward.json');
    assert.equal(m.pairing.truncation, 'none');
    assert.equal(m.higherIsBetter, true);
    assert.equal(m.description, '');
    assert.equal(m.predicts, '');
    assert.equal(m.version, undefined);
  });

  it('parseManifest: reports every problem with its JSON path', () => {
    const bad = {
      ...VALID,
      name: 'Bad Name',
      onnx: '../elsewhere/model.onnx',
      inputs: [
        { name: 'input_ids', role: 'input_ids' },
        { name: 'ids2', role: 'input_ids' },
      ],
      pairing: { template: ['{source}', '</s>', '{target}'] },
      range: { min: 1, max: 1 },
      calibration: { mean: 1, std: 0 },
      extra: true,
    };
    assert.throws(
      () => parseManifest(bad, '/m/reward.json'),
      (e: unknown) => {
        assert.ok(e instanceof RewardModelError);
        for (const path of [
          'name',
          'onnx',
          'inputs',
          'pairing.template',
          'range',
          'calibration.std',
          '(document)',
        ]) {
          assert.ok(e.message.includes(`${path}: `), `${path} in ${e.message}`);
        }
        assert.ok(e.message.startsWith('/m/reward.json: '));
        return true;
      },
    );
  });

  it('parseManifest: a calibration file instead of statistics; the tokenizer must be a tokenizer.json', () => {
    assert.deepEqual(parseManifest({ ...VALID, calibration: { file: 'cal.tsv' } }, 'r').calibration, {
      file: 'cal.tsv',
    });
    assert.throws(
      () => parseManifest({ ...VALID, tokenizer: 'vocab.txt' }, 'r'),
      /tokenizer: must name a tokenizer\.json/,
    );
    assert.throws(() => parseManifest([], 'r'), RewardModelError);
  });
});
