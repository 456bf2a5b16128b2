import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from './errors.js';
import { validate, Violations } from './validate.js';

interface WireRequest {
  sources: string[];
  n: number;
  temperature: number;
  mode: string;
}

function parse(wire: WireRequest): {
  sources: string[];
  n: number;
  temperature: number;
  mode: 'greedy' | 'sample';
} {
  return validate((v) => ({
    sources: v.each(
      'GenerateRequest.sources',
      v.items('GenerateRequest.sources', wire.sources, 1, 8),
      (path, s) => v.maxLength(path, v.nonEmpty(path, s), 10),
    ),
    n: v.integer('GenerateRequest.n', wire.n, 1, 64),
    temperature: v.range('GenerateRequest.temperature', wire.temperature, 0, 2),
    mode: v.oneOf('GenerateRequest.mode', wire.mode, ['greedy', 'sample']),
  }));
}

describe('validate', () => {
  it('validate: returns the parsed value when nothing is wrong', () => {
    assert.deepEqual(parse({ sources: ['a', 'b'], n: 4, temperature: 0.7, mode: 'sample' }), {
      sources: ['a', 'b'],
      n: 4,
      temperature: 0.7,
      mode: 'sample',
    });
  });

  it('validate: reports every violation at once with field paths', () => {
    assert.throws(
      () => parse({ sources: ['ok', '', 'far too long here'], n: 0, temperature: Number.NaN, mode: 'beam' }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.deepEqual(
          error.violations.map((v) => v.field),
          [
            'GenerateRequest.sources[1]',
            'GenerateRequest.sources[2]',
            'GenerateRequest.n',
            'GenerateRequest.temperature',
            'GenerateRequest.mode',
          ],
        );
        assert.match(error.message, /GenerateRequest\.sources\[1\]: must be non-empty; /);
        assert.match(
          error.message,
          /GenerateRequest\.mode: must be one of "greedy", "sample" \(got "beam"\)/,
        );
        return true;
      },
    );
  });

  it('Violations: caps the listed violations and counts the rest', () => {
    const v = new Violations();
    for (let i = 0; i < 120; i++) v.nonEmpty(`R.items[${i}]`, '');
    assert.equal(v.count, 120);
    assert.throws(
      () => v.throwIfAny(),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        error.violations.length === 51 &&
        /and 70 more/.test(error.message),
    );
  });

  it('Violations: required narrows and flags unset messages', () => {
    const v = new Violations();
    v.required('R.params', undefined);
    v.integer('R.k', 1.5, 0, 10);
    assert.deepEqual(v.violations, [
      { field: 'R.params', problem: 'is required' },
      { field: 'R.k', problem: 'must be an integer (got 1.5)' },
    ]);
  });
});
