import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorChain } from './error-chain.js';

describe('errorChain', () => {
  it('errorChain: lists the error and its causes, outermost first', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const chain = errorChain(new Error('load failed', { cause: new TypeError('bad', { cause: root }) }));
    assert.deepEqual(
      chain.map((l) => [l.name, l.message, l.code]),
      [
        ['Error', 'load failed', undefined],
        ['TypeError', 'bad', undefined],
        ['Error', 'connect ECONNREFUSED', 'ECONNREFUSED'],
      ],
    );
    assert.ok(chain[0]?.stack?.includes('error-chain.test'));
  });

  it('errorChain: stops on cycles and describes non-errors', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.equal(errorChain(a).length, 2);
    assert.deepEqual(errorChain('boom'), [{ name: 'string', message: 'boom' }]);
  });
});
